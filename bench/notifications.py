"""Customer messages rendered and handed to SMTP per second on one worker, against raw smtplib sending
a message of the same size to the same local SMTP server in the same run.

    .venv/bin/python bench/notifications.py [--messages 2000] [--pool threads --concurrency 4]

What it does, on a fresh database ``oms_bench_notify``:
1. migrates it; creates a channel (no quiet hours, no debounce) and 2 x ``--messages`` orders of three
   lines, each with its "order confirmed" message decided (``notifications.services.notify``);
2. starts an SMTP server in a process of its own (aiosmtpd's Sink on 127.0.0.1: it accepts and
   discards), so that it does not share this process's interpreter with what is measured;
3. baseline: smtplib on one connection sends ``--messages`` copies of a rendered confirmation
   (the same bytes the OMS sends) - messages/s;
4. the OMS in this process: ``message_send`` for each message of the first half (lock, render the
   templates on the order, SMTP, record the outcome, in one transaction each) - messages/s;
5. the OMS on a Celery worker (solo pool, one process, Redis broker): the second half's
   ``notifications.send_message`` tasks are queued, then the worker starts; rate from the first
   message sent to the last;
6. the baseline again, to see the machine did not drift.

Needs PostgreSQL and Redis (as for bin/test). Not part of the test suite.
"""

import argparse
import os
import smtplib
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import intake  # noqa: E402

from tests.smtp import free_port  # noqa: E402

BENCH_DB = "oms_bench_notify"
BENCH_URL = urlunparse(urlparse(intake.BASE_URL)._replace(path=f"/{BENCH_DB}"))


def env(port: int) -> dict[str, str]:
    return {
        **intake.bench_env(),
        "DATABASE_URL": BENCH_URL,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "EMAIL_USE_TLS": "0",
        "NOTIFICATION_DEBOUNCE_SECONDS": "0",
        "ROUTING_ON_RECEIPT": "0",
    }


def setup(count: int) -> list[int]:
    from django.core.management import call_command

    from notifications import services as messaging
    from notifications.models import ChannelMessaging
    from orders import services as orders

    call_command("migrate", verbosity=0)
    channel = orders.channel_create(code="bench", name="Bench shop", kind="web")
    ChannelMessaging.objects.create(channel=channel, quiet_start="00:00", quiet_end="00:00")
    orders.products_upsert(
        products=[orders.ProductInput(sku=s, name=f"Bench {s}", weight_grams=300) for s in intake.SKUS[:3]]
    )
    actor = orders.Actor.system("bench")
    ids = []
    for n in range(count):
        order = orders.order_create(
            channel=channel,
            actor=actor,
            data=orders.OrderInput(
                external_id=f"N-{n}",
                customer=orders.CustomerInput(email=f"n{n}@example.com", first_name="Bench"),
                shipping_address={
                    "name": "Bench",
                    "line1": "Odos 1",
                    "city": "Athens",
                    "postal_code": "104 34",
                    "country": "GR",
                },
                lines=[
                    orders.LineInput(sku=sku, quantity=1, unit_price=Decimal("5.00"))
                    for sku in intake.SKUS[:3]
                ],
                currency="EUR",
            ),
        )
        (message,) = messaging.notify(trigger="order_confirmed", order_id=order.pk, event=None, data={})
        ids.append(message.pk)
    return ids


def sample_bytes(message_id: int) -> tuple[str, str, bytes]:
    """A confirmation as the OMS renders it, as bytes on the wire."""
    from django.core.mail import EmailMultiAlternatives

    from notifications.models import Message
    from notifications.rendering import message_render

    message = Message.objects.get(pk=message_id)
    rendered = message_render(message)
    email = EmailMultiAlternatives(rendered.subject, rendered.text, "orders@oms.example", [message.recipient])
    email.attach_alternative(rendered.html, "text/html")
    return email.from_email, message.recipient, email.message().as_bytes(linesep="\r\n")


def smtplib_rate(port: int, count: int, sender: str, recipient: str, payload: bytes) -> float:
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as client:
        for _ in range(count):
            client.sendmail(sender, [recipient], payload)
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--batches", action="store_true", help="queue the sweep's batches of 50")
    parser.add_argument("--pool", default="solo", help="the Celery worker's pool: solo or threads")
    parser.add_argument("--concurrency", type=int, default=1, help="threads, with --pool threads")
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Sink"]
    )
    time.sleep(1.5)
    try:
        run(args, port)
    finally:
        server.terminate()
        server.wait(10)


def run(args, port: int) -> None:
    if True:
        os.environ.update(env(port))
        intake.recreate_database(BENCH_DB)
        import django

        django.setup()
        from django.db import connection

        from notifications import services as messaging
        from notifications.models import Message

        t0 = time.perf_counter()
        ids = setup(2 * args.messages)
        print(f"set-up: {len(ids)} orders and messages in {time.perf_counter() - t0:.0f} s")
        first, second = ids[: args.messages], ids[args.messages :]
        sender, recipient, payload = sample_bytes(first[0])
        print(f"message size: {len(payload)} bytes")

        base_before = smtplib_rate(port, args.messages, sender, recipient, payload)
        print(f"smtplib, one connection: {base_before:.0f} messages/s")

        start = time.perf_counter()
        for message_id in first:
            assert messaging.message_send(message_id=message_id).result == "sent"
        in_process = args.messages / (time.perf_counter() - start)
        assert Message.objects.filter(pk__in=first, status="sent").count() == args.messages
        print(
            f"OMS message_send in one process: {in_process:.0f} messages/s ({in_process / base_before:.2f})"
        )

        from notifications.tasks import BATCH, send_message, send_messages
        from oms.celery import app

        # Deciding each message queued its send task; the worker must find only this phase's tasks.
        with app.connection_for_write() as broker:
            broker.default_channel.queue_purge("notifications")

        if args.batches:  # as the sweep hands a backlog over
            for start in range(0, len(second), BATCH):
                send_messages.apply_async((second[start : start + BATCH],), queue="notifications")
        else:  # as decisions do, one task per message
            for message_id in second:
                send_message.apply_async((message_id,), queue="notifications")
        connection.close()
        worker = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "celery"),
                *("-A", "oms", "worker", "-P", args.pool, "-c", str(args.concurrency)),
                *("-Q", "notifications", "-l", "WARNING"),
                *("--without-mingle", "--without-gossip", "-n", "bench-notify@%h"),
            ],
            cwd=ROOT,
            env={**os.environ},
        )
        if os.environ.get("BENCH_PY_SPY"):  # the path of a py-spy: records where the worker spends its time
            profile = ROOT / "var" / "bench-notifications-worker.speedscope.json"
            spy = [os.environ["BENCH_PY_SPY"], "record", "-f", "speedscope", "-o", str(profile), "-d", "20"]
            subprocess.Popen([*spy, "-p", str(worker.pid)])
        try:
            deadline = time.monotonic() + 600
            while Message.objects.filter(pk__in=second, status="scheduled").exists():
                if time.monotonic() > deadline:
                    raise SystemExit("the worker did not send everything within 10 minutes")
                time.sleep(0.5)
        finally:
            worker.terminate()
            worker.wait(30)
        times = sorted(Message.objects.filter(pk__in=second).values_list("sent_at", flat=True))
        span = (times[-1] - times[0]).total_seconds()
        on_worker = (len(times) - 1) / span
        how = "batches of 50" if args.batches else "a task each"
        print(
            f"OMS on one Celery worker ({args.pool} x {args.concurrency}, {how}): {on_worker:.0f} messages/s"
        )

        base_after = smtplib_rate(port, args.messages, sender, recipient, payload)
        print(f"smtplib again: {base_after:.0f} messages/s")
        baseline = (base_before + base_after) / 2
        print(
            f"ratio against smtplib: in process {in_process / baseline:.2f}, "
            f"Celery worker {on_worker / baseline:.2f}"
        )


if __name__ == "__main__":
    main()
