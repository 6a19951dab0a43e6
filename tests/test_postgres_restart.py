"""PostgreSQL itself restarted while channels post orders: a cluster of the test's own (the machine's
server is shared with the rest of the suite), the OMS's own gunicorn, Celery worker and beat on it, and
`pg_ctl restart -m fast` in the middle of the traffic. Callers hear 503 with Retry-After, never a 500;
nothing is half written; the same processes go on without a restart; every order is created once
(its retry carries the same Idempotency-Key) and routed once."""

import threading
import time

import psycopg
import pytest
import requests

from inventory import services as stock
from orders.models import Product
from tests.factories import make_warehouse
from tests.stack import (
    PostgresServer,
    RedisServer,
    Stack,
    database_url,
    gunicorn_workers,
    one_cap,
    post,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)

ROUTED_WITHIN = 60  # seconds: the outbox sweep re-delivers what the restart cut short
CLIENTS = 4
AFTER_THE_RESTART = 20  # orders created once the server is back, to show the processes recovered


@pytest.fixture
def redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def postgres(products, channel_key):
    """The test database as it is now (products, a channel and its key, caps in a warehouse), copied
    into a cluster the test may restart."""
    stock.stock_receive(
        warehouse=make_warehouse("ATH"),
        product=Product.objects.get(sku="CAP-NAVY"),
        quantity=10_000,
        actor="t",
    )
    server = PostgresServer()
    try:  # a cluster that failed half-way through starting is stopped and removed too
        server.start(copy_of=database_url())
        yield server
    finally:
        server.stop()


def error_code(response: requests.Response) -> str | None:
    if response.status_code < 400:
        return None
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return f"not the API's error body: {response.text[:200]!r}"


def test_postgresql_restarted_during_intake_costs_503s_only_and_every_order_lands_once(
    tmp_path, postgres, redis, channel_key
):
    _, key = channel_key
    stack = Stack(
        tmp_path,
        redis.url,
        DATABASE_URL=postgres.url,
        OUTBOX_SWEEP_SECONDS="1",
        OUTBOX_REDELIVER_SECONDS="3",
    )
    db = None
    try:
        base = stack.web(workers=2)
        master = stack.web_process.process.pid
        wait_for(lambda: len(gunicorn_workers(master)) == 2, seconds=30, what="two gunicorn workers")
        web_workers = gunicorn_workers(master)
        stack.beat()
        worker = stack.worker()

        answers: list[tuple[str, int, str | None, str | None]] = []  # external id, status, Retry-After, code
        dropped: list[str] = []
        restarted_at: list[float] = []
        stop = threading.Event()

        def client(n: int) -> None:
            m = 0
            while not stop.is_set():
                external_id = f"PG-{n}-{m}"
                while True:  # the channel retries its order until it is taken, with the same key
                    try:
                        response = post(base, key, one_cap(external_id))
                    except requests.RequestException as exc:
                        dropped.append(f"{external_id}: {exc!r}")
                        time.sleep(0.2)
                        continue
                    code = error_code(response)
                    answers.append(
                        (external_id, response.status_code, response.headers.get("Retry-After"), code)
                    )
                    if response.status_code == 503:
                        time.sleep(0.1)
                        continue
                    break
                m += 1

        def created_after_the_restart() -> int:
            unexpected = [answer for answer in answers if answer[1] not in (201, 503)]
            assert not unexpected, f"answers other than 201 and 503: {unexpected[:5]}"
            assert not dropped, f"connections dropped: {dropped[:5]}"
            return sum(1 for _, status, _, _ in answers[len_at_restart:] if status == 201)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        wait_for(lambda: sum(status == 201 for _, status, _, _ in answers) >= 10, seconds=30, what="traffic")
        postgres.restart()
        restarted_at.append(time.monotonic())
        len_at_restart = len(answers)
        wait_for(lambda: created_after_the_restart() >= AFTER_THE_RESTART, seconds=60, what="orders after it")
        stop.set()
        for thread in threads:
            thread.join(60)

        # the callers: 201, or 503 with Retry-After and its code; no 500, no dropped connection
        assert dropped == []
        assert {status for _, status, _, _ in answers} <= {201, 503}, answers
        refused = [answer for answer in answers if answer[1] == 503]
        assert refused, "the restart was not felt: no request met it"
        assert {(retry_after, code) for _, _, retry_after, code in refused} == {("5", "database_unavailable")}
        taken = {external_id for external_id, status, _, _ in answers if status == 201}

        db = psycopg.connect(postgres.url, autocommit=True)

        def scalar(sql: str):
            return db.execute(sql).fetchone()[0]

        # every order taken exists once; none the caller was refused without a later success
        rows = db.execute("SELECT external_id, count(*) FROM orders_order GROUP BY external_id").fetchall()
        assert {external_id for external_id, _ in rows} == taken
        assert {count for _, count in rows} == {1}
        # nothing half written: each order has its line, its history, its event and its stored reply
        assert (
            scalar(
                "SELECT count(*) FROM orders_order o WHERE NOT EXISTS "
                "(SELECT 1 FROM orders_orderline l WHERE l.order_id = o.id)"
            )
            == 0
        )
        assert (
            scalar(
                "SELECT count(*) FROM orders_order o WHERE NOT EXISTS "
                "(SELECT 1 FROM orders_orderevent e WHERE e.order_id = o.id)"
            )
            == 0
        )
        assert (
            scalar(
                "SELECT count(*) FROM orders_order o WHERE NOT EXISTS (SELECT 1 FROM oms_domainevent e "
                "WHERE e.name = 'order.received' AND e.aggregate_id = o.id::text)"
            )
            == 0
        )
        assert scalar("SELECT count(*) FROM oms_idempotencyrecord") == len(taken)
        assert (
            scalar(
                "SELECT count(*) FROM orders_customer c WHERE NOT EXISTS "
                "(SELECT 1 FROM orders_order o WHERE o.customer_id = c.id)"
            )
            == 0
        )

        # the same processes went on: no gunicorn worker replaced, the Celery worker alive, and every
        # order routed exactly once, the cut-short deliveries handled again by the sweep
        assert gunicorn_workers(master) == web_workers
        assert worker.process.poll() is None

        def unrouted() -> int:
            return scalar(
                "SELECT count(*) FROM orders_order o WHERE NOT EXISTS "
                "(SELECT 1 FROM routing_routingdecision d WHERE d.order_id = o.id)"
            )

        wait_for(lambda: unrouted() == 0, seconds=ROUTED_WITHIN, what="every order to be routed")
        assert scalar("SELECT count(*) FROM routing_routingdecision") == len(taken)
        assert scalar("SELECT array_agg(DISTINCT status) FROM orders_order") == ["allocated"]
        assert scalar("SELECT sum(allocated) FROM inventory_stockposition") == len(taken)
        assert requests.get(
            f"{base}/api/v1/orders/", headers={"Authorization": f"Bearer {key}"}, timeout=10
        ).ok
        print(
            f"orders created: {len(taken)}; answered 503 and retried: {len(refused)}; "
            f"created after the restart: {created_after_the_restart()}"
        )
    finally:
        if db is not None:
            db.close()
        stack.stop()
