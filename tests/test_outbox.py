"""Domain events: written with the change, published after commit, handled once per handler, and
delivered through a real Celery worker on Redis."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import transaction

from oms.celery import app as celery_app
from oms.events import event_deliver, event_emit, outbox_publish_pending, subscribe
from oms.models import DomainEvent, EventDelivery
from orders import services
from orders.models import Order, OrderEvent
from tests.factories import order_payload

HANDLER = "tests.test_outbox.note_on_order"


@subscribe("test.note_requested")
def note_on_order(event: DomainEvent) -> None:
    services.order_note_add(
        order_id=event.payload["order_id"], actor=services.Actor.system("handler"), note=event.payload["note"]
    )


def notes(order_id: int) -> list[str]:
    return list(OrderEvent.objects.filter(order_id=order_id, kind="note").values_list("note", flat=True))


def emit_note(order_id: int, note: str) -> DomainEvent:
    with transaction.atomic():
        return event_emit(
            name="test.note_requested",
            aggregate_type="order",
            aggregate_id=order_id,
            payload={"order_id": order_id, "note": note},
        )


@pytest.mark.django_db
def test_event_rolls_back_with_its_transaction(api, products):
    order_id = api.post("/api/v1/orders/", order_payload(), format="json").json()["id"]
    with pytest.raises(RuntimeError), transaction.atomic():
        event_emit(
            name="test.note_requested",
            aggregate_type="order",
            aggregate_id=order_id,
            payload={"order_id": order_id, "note": "never"},
        )
        raise RuntimeError("the change failed")
    assert not DomainEvent.objects.filter(name="test.note_requested").exists()


@pytest.mark.django_db
def test_relay_publishes_after_commit_and_handlers_run_once(
    api, products, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        order_id = api.post("/api/v1/orders/", order_payload(), format="json").json()["id"]
        event = emit_note(order_id, "hello")
    assert len(callbacks) == 1  # one relay kick per transaction, however many events it emitted
    event.refresh_from_db()
    assert event.published_at is not None
    assert notes(order_id) == ["hello"]
    # a redelivery (worker crash after the handler, duplicate publish) does nothing
    assert event_deliver(event_id=event.pk, handler_name=HANDLER) is False
    assert notes(order_id) == ["hello"]
    assert EventDelivery.objects.filter(event=event, handler=HANDLER).count() == 1


@pytest.mark.django_db
def test_sweep_publishes_what_no_kick_published(api, products):
    order_id = api.post("/api/v1/orders/", order_payload(), format="json").json()["id"]
    event = emit_note(order_id, "swept")  # no on-commit callbacks run in this test: as if the kick was lost
    assert DomainEvent.objects.get(pk=event.pk).published_at is None
    assert outbox_publish_pending() == DomainEvent.objects.count()
    assert notes(order_id) == ["swept"]
    assert outbox_publish_pending() == 0


@pytest.mark.django_db
def test_failing_handler_leaves_no_marker_and_can_run_again(api, products):
    order_id = api.post("/api/v1/orders/", order_payload(), format="json").json()["id"]
    event = emit_note(order_id, "")  # an empty note makes the handler's service refuse
    with pytest.raises(Exception, match="empty"):
        event_deliver(event_id=event.pk, handler_name=HANDLER)
    assert not EventDelivery.objects.filter(event=event).exists()


@pytest.mark.django_db(transaction=True)
def test_real_worker_delivers_through_redis(channel_key, products):
    from tests.conftest import api_client_for

    celery_app.conf.task_always_eager = False
    try:
        with celery_app.connection_for_write() as conn:
            for queue in ("default", "routing", "tracking", "notifications"):
                conn.default_channel.queue_purge(queue)
        with start_worker(
            celery_app, perform_ping_check=False, pool="solo", loglevel="WARNING", shutdown_timeout=10
        ):
            order_id = (
                api_client_for(channel_key[1])
                .post("/api/v1/orders/", order_payload(), format="json")
                .json()["id"]
            )
            emit_note(order_id, "through redis")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not notes(order_id):
                time.sleep(0.1)
        assert notes(order_id) == ["through redis"]
        assert not DomainEvent.objects.filter(published_at__isnull=True).exists()
        assert Order.objects.get(pk=order_id).status == "received"
    finally:
        celery_app.conf.task_always_eager = True
