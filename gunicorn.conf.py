"""gunicorn settings every way of serving the OMS picks up (bin/run, the container image, the benchmarks):
gunicorn reads ./gunicorn.conf.py from the directory it starts in."""

import gc
import os

# Each worker's main loop touches a heartbeat file on every turn (several times per request); on a
# disk-backed /tmp that is an inode update each time, which gunicorn's documentation warns can block
# the worker. Memory-backed /dev/shm where there is one (Linux, containers).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None


def post_worker_init(worker) -> None:
    """Load the URL configuration (and with it every view) now, then take what start-up created out of
    the garbage collector's sight.

    Start-up leaves some 140 thousand objects that live as long as the worker; each full collection
    walked all of them (75 ms in a profile of order intake, one every couple of thousand requests,
    landing on one unlucky request). Frozen, a full collection walks only what requests left behind.
    """
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports every view module
    gc.collect()
    gc.freeze()
