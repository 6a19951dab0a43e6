"""Outbound webhooks: deliveries per second from one worker to a local receiver, against the same
receiver's rate from a plain HTTP client loop posting the same signed bodies, in the same run.

    .venv/bin/python bench/webhooks.py [--deliveries 3000] [--orders 300]

What it does, on a fresh database ``oms_bench_webhooks``:
1. migrates it; creates a channel with its key, ``--orders`` orders through the order service (so each
   event's body carries the order resource, as in production), an integration key and its endpoint;
2. starts the receiver in a process of its own (``http.server``, answering 200 at once, HTTP/1.1);
3. appends ``--deliveries`` domain events to the outbox (spread over the orders) and fans them out
   (timed: the fan-out builds each body, the order resource included);
4. baseline: a ``requests`` session in a loop sends the same bodies, signed with the endpoint's
   secret, over one kept-alive connection; deliveries/s;
5. the OMS: the body of the ``integrations.webhooks`` task (every due delivery claimed, signed, sent
   and recorded) called in a loop until nothing is pending, as one worker with concurrency 1 does;
   deliveries/s, with and without the fan-out, and the ratio to the baseline.

Needs PostgreSQL (as for bin/test). Not part of the test suite.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/oms")
BENCH_DB = "oms_bench_webhooks"
BENCH_URL = urlunparse(urlparse(BASE_URL)._replace(path=f"/{BENCH_DB}"))
PORT = 8765

RECEIVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go as two writes: no 40 ms delayed-ACK stall
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def fresh_database() -> None:
    admin = urlunparse(urlparse(BASE_URL)._replace(path="/postgres"))
    for sql in (f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)", f"CREATE DATABASE {BENCH_DB}"):
        subprocess.run(["psql", admin, "-qc", sql], check=True, capture_output=True)


def wait_for(url: str) -> None:
    import requests

    for _ in range(100):
        try:
            requests.post(url, data=b"{}", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise SystemExit(f"the receiver at {url} did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the sending to FILE")
    args = parser.parse_args()

    fresh_database()
    os.environ.update(
        {
            "DATABASE_URL": BENCH_URL,
            "DJANGO_SETTINGS_MODULE": "oms.settings",
            "DEBUG": "0",
            "LOG_LEVEL": "WARNING",
            "CELERY_TASK_ALWAYS_EAGER": "1",
        }
    )
    import django

    django.setup()
    import requests
    from django.core.management import call_command
    from django.db import connection, transaction

    from integrations import services, signing, tasks
    from integrations.models import WebhookDelivery, WebhookEndpoint, WebhookStatus
    from oms.events import events_emit
    from oms.models import DomainEvent
    from orders import services as orders
    from orders.api.serializers import OrderCreateIn
    from orders.models import ApiKey, Product

    call_command("migrate", verbosity=0)
    channel = orders.channel_create(code="bench", name="Bench", kind="web")
    orders.products_upsert(products=[orders.ProductInput(sku="BENCH-1", name="Bench item", weight_grams=300)])
    order_ids = []
    for n in range(args.orders):
        shape = OrderCreateIn(
            data={
                "external_id": f"WB-{n}",
                "customer": {"email": f"c{n}@example.com", "first_name": "Bench", "last_name": "Customer"},
                "shipping_address": {
                    "name": "Bench Customer",
                    "line1": "Odos Patision 12",
                    "city": "Athens",
                    "postal_code": "104 34",
                    "country": "GR",
                },
                "lines": [{"sku": "BENCH-1", "quantity": 2, "unit_price": "12.50"}],
                "currency": "EUR",
            }
        )
        shape.is_valid(raise_exception=True)
        order = orders.order_create(
            channel=channel,
            actor=orders.Actor.system("bench"),
            data=OrderCreateIn.to_order_input(shape.validated_data, {}),
        )
        order_ids.append(order.pk)
    assert Product.objects.count() == 1
    key, _ = orders.api_key_create(name="ERP", scopes=["webhooks"])
    url = f"http://127.0.0.1:{PORT}/hooks"
    endpoint = WebhookEndpoint.objects.create(
        api_key=ApiKey.objects.get(pk=key.pk), url=url, events=["order.bench"], public_only=False
    )
    # the events of the orders' creation are not what is measured: fanned out to nobody
    while services.webhooks_fan_out():
        pass
    DomainEvent.objects.update(created_at=django.utils.timezone.now() - services.SETTLE * 2)
    services.webhooks_fan_out()

    with transaction.atomic():
        events_emit(
            name="order.bench",
            aggregate_type="order",
            items=[
                (order_ids[n % len(order_ids)], {"order_id": order_ids[n % len(order_ids)], "n": n})
                for n in range(args.deliveries)
            ],
        )
    # the fan-out's cursor passes only settled events: these are, as on a worker a few minutes on
    DomainEvent.objects.filter(name="order.bench").update(
        created_at=django.utils.timezone.now() - services.SETTLE * 2
    )
    started = time.perf_counter()
    while services.webhooks_fan_out():
        pass
    fanned = time.perf_counter() - started
    bodies = [b.encode() for b in WebhookDelivery.objects.order_by("pk").values_list("body", flat=True)]
    assert len(bodies) == args.deliveries

    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, str(PORT)])
    try:
        wait_for(url)
        # the baseline: the same library, the same signed bodies, one kept-alive connection
        started = time.perf_counter()
        with requests.Session() as session:
            for n, body in enumerate(bodies):
                headers = signing.headers(endpoint.secret, f"evt_{n}", int(time.time()), body)
                response = session.post(url, data=body, headers=headers, timeout=10, allow_redirects=False)
                assert response.status_code == 200
        baseline = args.deliveries / (time.perf_counter() - started)

        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        started = time.perf_counter()
        while WebhookDelivery.objects.filter(status=WebhookStatus.PENDING).exists():
            tasks.webhooks()
        sending = time.perf_counter() - started
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile)
        delivered = WebhookDelivery.objects.filter(status=WebhookStatus.SUCCEEDED).count()
        assert delivered == args.deliveries, delivered
        oms_rate = args.deliveries / (fanned + sending)
        send_rate = args.deliveries / sending
    finally:
        receiver.terminate()
        receiver.wait()
    size = sum(map(len, bodies)) // len(bodies)
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        version = cursor.fetchone()[0].split(" on ")[0]
    print(
        f"{version}; {os.cpu_count()} cores; {args.deliveries} deliveries, bodies of {size} bytes on average"
    )
    print(f"plain client loop (requests, same bodies, signed): {baseline:8.0f} deliveries/s")
    print(f"OMS fan-out: {args.deliveries / fanned:8.0f} events/s ({fanned:.2f} s)")
    print(f"OMS sending (claim, sign, send, record):        {send_rate:8.0f} deliveries/s")
    print(f"OMS end to end (fan-out + sending):             {oms_rate:8.0f} deliveries/s")
    print(
        f"ratio to the plain loop: sending x{send_rate / baseline:.2f}, end to end x{oms_rate / baseline:.2f}"
    )


if __name__ == "__main__":
    main()
