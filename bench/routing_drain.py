"""A sale's backlog: orders accepted by the API with no worker running, then Celery workers in
docker-compose's shape drain them (routed and reserved); the drain rate against the intake rate
measured in the same run.

    .venv/bin/python bench/routing_drain.py [--orders 1000] [--warehouses 3] [--skus 50] [--lines 3]
    .venv/bin/python bench/routing_drain.py --warehouses 50 --lines 5
    BENCH_PY_SPY=.venv/bin/py-spy .venv/bin/python bench/routing_drain.py   # and where the worker's time goes

On a fresh database ``oms_bench_drain``: warehouses spread over Greece with ample stock of every SKU,
routing on (``ROUTING_ON_RECEIPT``), the default rules. gunicorn (3 sync workers, as
``gunicorn.conf.py`` gives two cores) takes ``--orders`` orders of ``--lines`` lines from 8 client
threads, each with its own keep-alive connection and Idempotency-Key; their outbox kicks queue the
routing tasks in Redis. Then the workers start, in docker-compose.yml's shape (``--shape compose``:
routing alone with 4 processes, default with 2, replenishment with 1) or as one worker on the three
queues with 4 processes (``--shape one``, the shape before), and the bench polls until no order is
``received`` any more: drain rate = orders / (time from the workers' start to the last order
routed). The check at the end: every order allocated, and every stock figure equal to its ledger.
"""

import argparse
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

os.environ.setdefault("BENCH_DB", "oms_bench_drain")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from intake import bench_env, recreate_database, wait_for_port  # noqa: E402

PORT = int(os.environ.get("BENCH_PORT", "8767"))
CLIENTS = 8
CITIES = [
    ("Athens", "104 34", 37.98, 23.73),
    ("Thessaloniki", "546 27", 40.64, 22.94),
    ("Patras", "262 21", 38.25, 21.73),
    ("Heraklion", "712 02", 35.34, 25.13),
    ("Larissa", "412 22", 39.64, 22.42),
]


def setup(warehouses: int, skus: int, rng: random.Random) -> str:
    from decimal import Decimal

    from inventory.models import MovementKind, StockMovement, StockPosition, Warehouse
    from orders import services
    from orders.models import Product

    channel = services.channel_create(code="sale", name="Sale", kind="web")
    key = services.api_key_create(name="sale key", channel=channel)[1]
    houses = Warehouse.objects.bulk_create(
        [
            Warehouse(
                code=f"W{n:02d}",
                name=f"W{n}",
                line1="x",
                city="x",
                country="GR",
                latitude=Decimal(f"{rng.uniform(35, 41.5):.4f}"),
                longitude=Decimal(f"{rng.uniform(20, 28):.4f}"),
            )
            for n in range(warehouses)
        ]
    )
    products = Product.objects.bulk_create([Product(sku=f"SALE-{n:03d}", name=f"P {n}") for n in range(skus)])
    positions = StockPosition.objects.bulk_create(
        [StockPosition(warehouse=h, product=p, on_hand=1_000_000) for h in houses for p in products]
    )
    StockMovement.objects.bulk_create(
        [
            StockMovement(position=p, kind=MovementKind.RECEIPT, quantity=1_000_000, actor="bench")
            for p in positions
        ]
    )
    return key


def order_body(n: int, skus: int, lines: int, rng: random.Random) -> bytes:
    city, postal, lat, lon = rng.choice(CITIES)
    chosen = rng.sample(range(skus), lines)
    return json.dumps(
        {
            "external_id": f"SALE-{n}",
            "customer": {"email": f"c{n}@example.com", "first_name": "Sale", "last_name": "Customer"},
            "shipping_address": {
                "name": "Sale Customer",
                "line1": "Odos 1",
                "city": city,
                "postal_code": postal,
                "country": "GR",
                "latitude": lat,
                "longitude": lon,
            },
            "lines": [{"sku": f"SALE-{s:03d}", "quantity": 1 + s % 3, "unit_price": "12.50"} for s in chosen],
            "currency": "EUR",
            "payment_status": "paid",
        }
    ).encode()


def intake(key: str, bodies: list[bytes]) -> float:
    """Post every body from CLIENTS threads; returns orders per second."""
    queue = list(reversed(bodies))
    lock = threading.Lock()
    failures: list[str] = []

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
        while True:
            with lock:
                if not queue:
                    break
                body = queue.pop()
            connection.request(
                "POST",
                "/api/v1/orders/",
                body,
                {
                    "Authorization": f"Bearer {key}",
                    "Content-Type": "application/json",
                    "Idempotency-Key": str(uuid.uuid4()),
                },
            )
            response = connection.getresponse()
            payload = response.read()
            if response.status != 201:
                failures.append(f"{response.status} {payload[:200]!r}")
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} orders refused, e.g. {failures[0]}")
    return len(bodies) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--warehouses", type=int, default=3)
    parser.add_argument("--skus", type=int, default=50)
    parser.add_argument("--lines", type=int, default=3)
    parser.add_argument("--shape", choices=["compose", "one"], default="compose", help="which workers run")
    args = parser.parse_args()
    recreate_database()
    env = bench_env() | {"ROUTING_ON_RECEIPT": "1"}
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    rng = random.Random(20261203)
    key = setup(args.warehouses, args.skus, rng)
    import redis

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()  # no tasks left from an earlier run
    bodies = [order_body(n, args.skus, args.lines, rng) for n in range(args.orders)]
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "oms.wsgi:application",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--workers",
            "3",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    workers: list = []
    sampler = None
    try:
        wait_for_port(PORT)
        intake_rate = intake(key, bodies)
        from orders.models import Order

        waiting = Order.objects.filter(status="received").count()
        print(
            f"intake: {args.orders} orders of {args.lines} lines in, {intake_rate:.1f} orders/s; "
            f"{waiting} waiting to be routed"
        )
        started = time.perf_counter()
        shapes = {
            "compose": [
                ("routing", "routing", 4),
                ("default", "default", 2),
                ("replenishment", "replenishment", 1),
            ],
            "one": [("drain", "default,routing,replenishment", 4)],
        }
        workers = [
            subprocess.Popen(
                [
                    str(ROOT / ".venv/bin/celery"),
                    "-A",
                    "oms",
                    "worker",
                    "-Q",
                    queues,
                    "--concurrency",
                    str(processes),
                    "--loglevel",
                    "WARNING",
                    "-n",
                    f"{name}@%h",
                ],
                cwd=ROOT,
                env=env,
                start_new_session=True,
            )
            for name, queues, processes in shapes[args.shape]
        ]
        worker = workers[0]
        py_spy = os.environ.get("BENCH_PY_SPY")
        if py_spy:
            sampler = subprocess.Popen(
                [
                    py_spy,
                    "record",
                    "--pid",
                    str(worker.pid),
                    "--subprocesses",
                    "--duration",
                    "30",
                    "--format",
                    "speedscope",
                    "--output",
                    "/tmp/drain-worker.json",
                    "--nonblocking",
                ],
            )
        while Order.objects.filter(status="received").exists():
            if time.perf_counter() - started > 900:
                raise SystemExit("not drained in 15 minutes")
            time.sleep(0.1)
        drain_seconds = time.perf_counter() - started
    finally:
        for process in (*workers, server):
            if process is not None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=60)
        if sampler is not None:
            sampler.wait(timeout=120)
    from inventory.selectors import stock_drifts

    statuses = dict(
        Order.objects.values_list("status")
        .order_by()
        .annotate(n=django.db.models.Count("id"))
        .values_list("status", "n")
    )
    assert stock_drifts() == [], "a stock figure differs from its ledger"
    drain_rate = args.orders / drain_seconds
    print(
        f"drain: {drain_rate:.1f} orders/s, workers as {args.shape}, "
        f"{drain_seconds:.1f} s from their start; statuses {statuses}"
    )
    print(
        f"drain / intake: {drain_rate / intake_rate:.2f}   ({args.warehouses} warehouses, {args.skus} SKUs, "
        f"{args.lines}-line orders)"
    )


if __name__ == "__main__":
    main()
