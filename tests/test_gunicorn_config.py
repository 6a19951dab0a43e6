"""The gunicorn settings file loads views up front and freezes the start-up heap."""

import gc
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_worker_start_loads_views_and_freezes_what_start_up_created():
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    try:
        config["post_worker_init"](worker=None)
        assert "orders.api.views" in sys.modules and "shipments.views" in sys.modules
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
