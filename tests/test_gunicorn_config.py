"""The gunicorn settings file loads views up front and freezes the start-up heap."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Run in a fresh interpreter: in the test process every view is imported long before this test.
WORKER_START = """
import gc, runpy, sys
import django
django.setup()
before = "oms.urls" in sys.modules or "orders.api.views" in sys.modules
runpy.run_path("gunicorn.conf.py")["post_worker_init"](worker=None)
print(before, "oms.urls" in sys.modules, "orders.api.views" in sys.modules, gc.get_freeze_count())
"""


def test_worker_start_loads_views_and_freezes_what_start_up_created():
    out = subprocess.run(
        [sys.executable, "-c", WORKER_START],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "oms.settings"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out[:3] == ["False", "True", "True"], out
    assert int(out[3]) > 10_000


def test_heartbeat_file_in_memory_backed_storage():
    import runpy

    from gunicorn.config import Config

    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    config = Config()
    config.set("worker_tmp_dir", settings["worker_tmp_dir"])
    assert config.worker_tmp_dir == "/dev/shm"  # the test machines are Linux
