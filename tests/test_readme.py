"""The README's example works as a newcomer types it: the curl block, run by bash on a machine that has
curl and Python and nothing else (no uuidgen), creates an order."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from orders import services

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.django_db(transaction=True)


def readme_block(heading: str) -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split(f"## {heading}", 1)[1]
    return re.search(r"```\n(.*?)```", section, re.S).group(1)


def test_the_readme_order_example_creates_an_order(live_server, tmp_path, products):
    channel = services.channel_create(code="web-eu", name="Web shop", kind="web")
    _, key = services.api_key_create(name="demo", channel=channel)
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "demo-credentials.json").write_text(json.dumps({"web_channel_key": key}))
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "curl").symlink_to(shutil.which("curl"))
    (tools / "python3").symlink_to(os.path.realpath(sys.executable))
    script = readme_block("Posting an order").replace("http://127.0.0.1:8000", live_server.url)
    result = subprocess.run(
        ["/bin/bash", "-e", "-c", script],
        cwd=tmp_path,
        env={"PATH": str(tools), "HOME": str(tmp_path), "LANG": os.environ.get("LANG", "C.UTF-8")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    order = json.loads(result.stdout)
    assert (order["external_id"], order["status"]) == ("WEB-1001", "received")
