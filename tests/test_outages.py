"""Nothing lost, nothing stuck: the OMS's own processes (gunicorn, Celery worker and beat) on a Redis the
test owns, with workers killed mid-task and Redis stopped under traffic."""

import os
import signal
import threading
import time

import psycopg
import pytest
import requests
import time_machine

from inventory import services as stock
from oms.models import DomainEvent, EventDelivery
from orders import services
from orders.models import Order, OrderEvent, OrderStatus, Product
from routing.models import RoutingDecision
from shipments.carriers import sandbox
from shipments.carriers.base import Milestone
from tests.factories import make_warehouse
from tests.stack import RedisServer, Stack, database_url, gunicorn_workers, one_cap, post, wait_for
from tests.test_fulfilment import network  # noqa: F401 (fixture)
from tests.test_tracking import SECRET, shipped  # noqa: F401 (fixture)
from tests.test_tracking import event as tracking_event
from tracking.models import TrackingEvent, TrackingState, WebhookDelivery

pytestmark = pytest.mark.django_db(transaction=True)

# The bound under test: beat sweeps every second, and a delivery nobody finished is sent again after 3 s.
SWEEP_SECONDS, REDELIVER_SECONDS = 1, 3
ROUTED_WITHIN = 30  # seconds: the bound above, plus worker start-up on a slow machine
ROUTING_HANDLER = "routing.handlers.route_received_order"


@pytest.fixture
def redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def stack(tmp_path, redis):
    running = Stack(
        tmp_path,
        redis.url,
        OUTBOX_SWEEP_SECONDS=str(SWEEP_SECONDS),
        OUTBOX_REDELIVER_SECONDS=str(REDELIVER_SECONDS),
    )
    yield running
    running.stop()


@pytest.fixture
def warehouse_with_caps(products):
    athens = make_warehouse("ATH")
    stock.stock_receive(
        warehouse=athens, product=Product.objects.get(sku="CAP-NAVY"), quantity=10_000, actor="t"
    )
    return athens


def statuses(order_ids: list[int]) -> set[str]:
    return set(Order.objects.filter(pk__in=order_ids).values_list("status", flat=True))


def waiting_on_a_lock(conn: psycopg.Connection) -> int:
    return conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND state = 'active'"
    ).fetchone()[0]


def test_workers_killed_mid_task_leave_no_order_unrouted_and_none_routed_twice(
    stack, channel_key, warehouse_with_caps
):
    _, key = channel_key
    base = stack.web()
    stack.beat()
    worker = stack.worker()
    observer = psycopg.connect(database_url(), autocommit=True)
    posted: list[int] = []
    killed_mid_task = []

    def unrouted() -> list[int]:
        routed = set(RoutingDecision.objects.filter(order_id__in=posted).values_list("order_id", flat=True))
        return [order_id for order_id in posted if order_id not in routed]

    for cycle in range(3):
        # a stream of orders the worker routes as they come
        for n in range(10):
            response = post(base, key, one_cap(f"STREAM-{cycle}-{n}"))
            assert response.status_code == 201, response.text
            posted.append(response.json()["id"])
        wait_for(lambda: not unrouted(), seconds=ROUTED_WITHIN, what="the stream to be routed")
        # Hold the stock rows, so that the next order's routing task stops inside its transaction, then
        # kill the worker while it waits there: the task was taken from Redis and never acknowledged.
        # Orders posted meanwhile queue up behind it (one of them taken by the worker's second process).
        with psycopg.connect(database_url()) as holder:
            holder.execute("SELECT id FROM inventory_stockposition FOR UPDATE")
            response = post(base, key, one_cap(f"KILLED-{cycle}"))
            assert response.status_code == 201, response.text
            posted.append(response.json()["id"])
            wait_for(lambda: waiting_on_a_lock(observer), seconds=ROUTED_WITHIN, what="routing to wait")
            for n in range(3):
                response = post(base, key, one_cap(f"QUEUED-{cycle}-{n}"))
                assert response.status_code == 201, response.text
                posted.append(response.json()["id"])
            worker.kill()
            killed_mid_task.append(posted[-4])
            holder.rollback()
        worker = stack.worker()

    wait_for(
        lambda: not unrouted(), seconds=ROUTED_WITHIN, what=f"every order to be routed ({unrouted()} wait)"
    )
    observer.close()

    assert set(Order.objects.filter(pk__in=posted).values_list("status", flat=True)) == {
        OrderStatus.ALLOCATED
    }
    # exactly once: one decision, one move to allocated, one unit reserved per order
    assert RoutingDecision.objects.filter(order_id__in=posted).count() == len(posted)
    assert OrderEvent.objects.filter(order_id__in=posted, to_status=OrderStatus.ALLOCATED).count() == len(
        posted
    )
    position = warehouse_with_caps.positions.get()
    assert position.allocated == len(posted)
    # the killed tasks were delivered again by the sweep, not by Redis an hour later
    retried = EventDelivery.objects.filter(
        handler=ROUTING_HANDLER,
        event__name="order.received",
        event__aggregate_id__in=map(str, killed_mid_task),
    )
    assert sorted(d.attempts >= 2 for d in retried) == [True] * len(killed_mid_task)
    # the other handlers of these events (messages, reorder evaluation) run on their own queues and
    # may finish after routing: nothing stays pending past the same bound
    wait_for(
        lambda: not EventDelivery.objects.filter(processed_at__isnull=True).exists(),
        seconds=ROUTED_WITHIN,
        what="every handler to finish",
    )


def test_with_redis_down_orders_are_accepted_and_routed_when_it_returns(
    stack, redis, channel_key, warehouse_with_caps
):
    _, key = channel_key
    base = stack.web()
    headers = {"Authorization": f"Bearer {key}"}
    assert requests.get(f"{base}/api/v1/orders/", headers=headers, timeout=10).status_code == 200  # cached

    redis.stop()
    accepted = []
    for n in range(3):
        response = post(base, key, one_cap(f"DOWN-{n}"))
        assert response.status_code == 201, response.text
        assert response.elapsed.total_seconds() < 3
        accepted.append(response.json()["id"])
    listed = requests.get(f"{base}/api/v1/orders/", headers=headers, timeout=10)
    assert listed.status_code == 200
    assert {o["id"] for o in listed.json()["results"]} == set(accepted)
    assert (
        requests.get(f"{base}/api/v1/orders/{accepted[0]}/", headers=headers, timeout=10).status_code == 200
    )
    # a key never seen before is read from the database; revoked meanwhile, it stops working at once
    fresh_key, fresh = services.api_key_create(name="new key", channel=channel_key[0].channel)
    fresh_headers = {"Authorization": f"Bearer {fresh}"}
    assert requests.get(f"{base}/api/v1/orders/", headers=fresh_headers, timeout=10).status_code == 200
    services.api_key_revoke(key_id=fresh_key.pk)
    assert requests.get(f"{base}/api/v1/orders/", headers=fresh_headers, timeout=10).status_code == 401
    # the orders wait in the outbox with their events
    assert DomainEvent.objects.filter(name="order.received", aggregate_id__in=map(str, accepted)).count() == 3
    assert set(Order.objects.filter(pk__in=accepted).values_list("status", flat=True)) == {
        OrderStatus.RECEIVED
    }

    redis.start()
    stack.beat()
    stack.worker()
    wait_for(
        lambda: (
            set(Order.objects.filter(pk__in=accepted).values_list("status", flat=True))
            == {OrderStatus.ALLOCATED}
        ),
        seconds=ROUTED_WITHIN,
        what="the orders accepted while Redis was down to be routed",
    )
    assert RoutingDecision.objects.filter(order_id__in=accepted).count() == 3


def test_a_worker_killed_mid_send_loses_no_message_and_sends_none_twice(
    tmp_path, redis, channel, channel_key, warehouse_with_caps
):
    """The SMTP server holds the message's DATA, the worker is SIGKILLed before the server accepted it:
    the message is still scheduled (its transaction died with the worker), the sweep sends it with the
    next worker, and the customer gets it once."""
    from notifications.models import ChannelMessaging, Message, MessageStatus
    from tests.smtp import SmtpServer

    _, key = channel_key
    # no quiet hours: the processes run on the machine's clock, whatever the hour in Athens
    ChannelMessaging.objects.create(channel=channel, quiet_start="00:00", quiet_end="00:00")
    with SmtpServer() as smtp:
        smtp.inbox.hold = threading.Event()
        stack = Stack(
            tmp_path,
            redis.url,
            OUTBOX_SWEEP_SECONDS=str(SWEEP_SECONDS),
            OUTBOX_REDELIVER_SECONDS=str(REDELIVER_SECONDS),
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(smtp.port),
            EMAIL_USE_TLS="0",
            NOTIFICATION_DEBOUNCE_SECONDS="0",
            NOTIFICATION_SWEEP_SECONDS="2",
        )
        try:
            base = stack.web()
            stack.beat()
            worker = stack.worker()
            response = post(base, key, one_cap("MAIL-1"))
            assert response.status_code == 201, response.text
            wait_for(smtp.inbox.data_started.is_set, seconds=ROUTED_WITHIN, what="the confirmation's DATA")
            worker.kill()
            smtp.inbox.drop_held = True
            smtp.inbox.hold.set()
            message = Message.objects.get(order_id=response.json()["id"])
            assert (message.status, message.attempts, smtp.inbox.count) == (MessageStatus.SCHEDULED, 0, 0)
            smtp.inbox.hold = None
            smtp.inbox.drop_held = False
            stack.worker()
            wait_for(
                lambda: Message.objects.filter(pk=message.pk, status=MessageStatus.SENT).exists(),
                seconds=ROUTED_WITHIN,
                what="the sweep to send the message again",
            )
            time.sleep(3)  # a second copy, if any, would arrive meanwhile
        finally:
            stack.stop()
    assert smtp.inbox.count == 1
    (received,) = smtp.inbox.received
    assert received["Subject"].strip() == "Order MAIL-1 confirmed"
    message.refresh_from_db()
    assert message.attempts == 1  # the killed attempt left no trace: its transaction rolled back


def test_a_web_worker_killed_under_load_fails_only_its_requests_and_their_retries_land_once(
    stack, channel_key, warehouse_with_caps
):
    """A gunicorn worker SIGKILLed while orders pour in: the requests it held fail (the connection
    drops), the master starts a new worker, and each client's retry with the same Idempotency-Key
    creates its order exactly once."""
    _, key = channel_key
    base = stack.web(workers=2)
    master = stack.web_process.process.pid
    wait_for(lambda: len(gunicorn_workers(master)) == 2, seconds=30, what="two gunicorn workers")
    before = gunicorn_workers(master)
    failed_in_flight: list[str] = []
    outcomes: dict[str, int] = {}

    def client(n: int) -> None:
        for m in range(12):
            external_id = f"KILL-{n}-{m}"
            for _ in range(20):
                try:
                    response = post(base, key, one_cap(external_id))
                except requests.RequestException as exc:
                    failed_in_flight.append(f"{external_id}: {type(exc).__name__}")
                    time.sleep(0.2)
                    continue
                if response.status_code >= 500:
                    failed_in_flight.append(f"{external_id}: {response.status_code}")
                    time.sleep(0.2)
                    continue
                outcomes[external_id] = response.status_code
                break

    threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    wait_for(
        lambda: Order.objects.filter(external_id__startswith="KILL-").count() >= 10,
        seconds=30,
        what="the load to start",
    )
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    for thread in threads:
        thread.join(120)
    expected = {f"KILL-{n}-{m}" for n in range(6) for m in range(12)}
    assert set(outcomes) == expected and set(outcomes.values()) <= {201}, (outcomes, failed_in_flight)
    created = list(
        Order.objects.filter(external_id__startswith="KILL-").values_list("external_id", flat=True)
    )
    assert sorted(created) == sorted(expected)  # each exactly once
    # the master replaced the killed worker and the web answers as before
    wait_for(
        lambda: len(gunicorn_workers(master)) == 2 and victim not in gunicorn_workers(master),
        seconds=30,
        what="gunicorn to replace the killed worker",
    )
    assert requests.get(f"{base}/api/v1/orders/", headers={"Authorization": f"Bearer {key}"}, timeout=10).ok
    print(f"requests that failed in flight and were retried: {len(failed_in_flight)}")


def test_carrier_webhooks_taken_while_redis_is_down_are_processed_when_it_returns(
    tmp_path,
    redis,
    shipped,  # noqa: F811 (fixture)
):
    """The carrier's call is acknowledged and stored while the broker is down (a 5xx would only make
    the carrier send it again, into the same hole); beat's sweep processes it once Redis is back."""
    stack = Stack(tmp_path, redis.url, TRACKING_WEBHOOK_SWEEP_SECONDS="1")
    try:
        base = stack.web()
        redis.stop()
        body = sandbox.webhook_body(
            shipped.tracking_number,
            [tracking_event("SBX-PU", 0), tracking_event("SBX-IT", 6)],
            event_id="sbx-while-down",
        )

        def call() -> requests.Response:
            # the web process checks the signature's age on the machine's clock, not the tests' one
            signed_at = int(time_machine.escape_hatch.time.time())
            return requests.post(
                f"{base}/api/v1/tracking/webhooks/sandbox/",
                data=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Sandbox-Signature": sandbox.webhook_signature(body, SECRET, signed_at),
                },
                timeout=10,
            )

        response = call()
        assert response.status_code == 200, response.text
        assert response.json() == {"received": True, "duplicate": False}
        assert response.elapsed.total_seconds() < 3
        assert call().json() == {"received": True, "duplicate": True}  # the carrier's retry
        assert list(WebhookDelivery.objects.values_list("status", flat=True)) == ["pending"]

        redis.start()
        stack.beat()
        stack.worker()
        wait_for(
            lambda: WebhookDelivery.objects.filter(status="processed").exists(),
            seconds=ROUTED_WITHIN,
            what="the sweep to process the call stored while Redis was down",
        )
    finally:
        stack.stop()
    assert TrackingState.objects.get(shipment=shipped).milestone == Milestone.IN_TRANSIT
    assert TrackingEvent.objects.filter(shipment=shipped).count() == 2
