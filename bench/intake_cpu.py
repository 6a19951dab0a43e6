"""CPU per order of order intake through Django's WSGI handler, in-process: what a gunicorn worker
spends on a request minus gunicorn itself, without the noise of wrk and PostgreSQL sharing the cores.

    .venv/bin/python bench/intake_cpu.py [--orders 300] [--repeats 5]

Runs on the bench database that bench/intake.py prepares (run that first). Each repeat posts
``--orders`` new 3-line orders with Idempotency-Keys, as wrk does, and prints the CPU time
(``time.process_time``, user + kernel of this process) per order; the median of the repeats is the
figure.

For instructions per order (repeatable to about 1 %, but blind to time in the kernel), run it twice
under ``valgrind --tool=callgrind --callgrind-out-file=/dev/null`` with ``--repeats 1`` and
``--orders`` 100 and 300: the difference of the two "Collected" totals, divided by 200.
"""

import argparse
import io
import json
import os
import runpy
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from intake import bench_env, order_body  # noqa: E402


def environ_for(body: bytes, raw_key: str, idempotency_key: str) -> dict:
    """The WSGI environ gunicorn builds for wrk's request."""
    return {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/api/v1/orders/",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8765",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "40000",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "127.0.0.1:8765",
        "HTTP_AUTHORIZATION": f"Bearer {raw_key}",
        "HTTP_IDEMPOTENCY_KEY": idempotency_key,
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    os.environ.update(bench_env())
    import django

    django.setup()
    from oms import events
    from oms.wsgi import application

    # Under load nearly every commit falls in an open outbox-kick window; one request at a time (or
    # fifty times slower, under callgrind) would otherwise kick the relay on most orders.
    events.KICK_WINDOW_MS = 600_000
    from orders import services
    from orders.models import Channel

    _, raw_key = services.api_key_create(name=f"cpu-{time.time()}", channel=Channel.objects.get(code="bench"))
    run = f"cpu{int(time.time() * 1000)}"
    statuses: list[str] = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    def post(name: str) -> None:
        body = json.dumps(order_body(f"{run}-{name}")).encode()
        for chunk in application(environ_for(body, raw_key, f"k-{run}-{name}"), start_response):
            del chunk
        if not statuses[-1].startswith("201"):
            raise SystemExit(f"order {name}: {statuses[-1]}")

    for n in range(30):  # warm-up: caches, the key's last-use stamp, the connection
        post(f"w{n}")
    # What a gunicorn worker does after start-up (load the views, freeze the start-up heap).
    runpy.run_path(str(ROOT / "gunicorn.conf.py"))["post_worker_init"](None)
    results = []
    for repeat in range(args.repeats):
        started = time.process_time()
        for n in range(args.orders):
            post(f"{repeat}-{n}")
        results.append((time.process_time() - started) / args.orders * 1000)
    print("CPU ms per order, each repeat: " + ", ".join(f"{r:.3f}" for r in results))
    print(f"median: {statistics.median(results):.3f} ms")


if __name__ == "__main__":
    main()
