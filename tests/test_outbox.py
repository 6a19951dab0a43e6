"""Domain events: written with the change, published after commit, handled once per handler, and
delivered through a real Celery worker on Redis."""

import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import transaction
from django.utils import timezone

from oms.celery import app as celery_app
from oms.events import (
    event_deliver,
    event_emit,
    outbox_publish_pending,
    outbox_redeliver_due,
    redelivery_delay,
    subscribe,
)
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
def test_with_the_kick_off_a_commit_leaves_its_events_to_whoever_publishes_next(
    api, products, settings, django_capture_on_commit_callbacks
):
    settings.OUTBOX_KICK_ON_COMMIT = False
    with django_capture_on_commit_callbacks(execute=True):
        order_id = api.post("/api/v1/orders/", order_payload(), format="json").json()["id"]
        first = emit_note(order_id, "one")
        second = emit_note(order_id, "two")
    # the commits ran their callbacks, and nothing went out: the events wait, in order
    assert not DomainEvent.objects.filter(published_at__isnull=False).exists()
    assert notes(order_id) == []
    assert outbox_publish_pending() == DomainEvent.objects.count()
    assert notes(order_id) == ["one", "two"]
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.published_at == second.published_at  # one relay pass


@pytest.mark.django_db
def test_failing_handler_leaves_no_marker_and_can_run_again(api, products):
    order_id = api.post("/api/v1/orders/", order_payload(), format="json").json()["id"]
    event = emit_note(order_id, "")  # an empty note makes the handler's service refuse
    with pytest.raises(Exception, match="empty"):
        event_deliver(event_id=event.pk, handler_name=HANDLER)
    assert not EventDelivery.objects.filter(event=event).exists()


FAILURES_LEFT: list[str] = []


@subscribe("test.flaky")
def flaky(event: DomainEvent) -> None:
    services.order_note_add(
        order_id=event.payload["order_id"], actor=services.Actor.system("handler"), note="flaky ran"
    )
    if FAILURES_LEFT:
        raise RuntimeError(FAILURES_LEFT.pop(0))


FLAKY = "tests.test_outbox.flaky"


def emit_flaky(order_id: int) -> DomainEvent:
    with transaction.atomic():
        return event_emit(
            name="test.flaky", aggregate_type="order", aggregate_id=order_id, payload={"order_id": order_id}
        )


@pytest.mark.django_db
def test_publishing_leaves_a_pending_delivery_per_handler_until_the_handler_commits(api, products, settings):
    settings.OUTBOX_REDELIVER_SECONDS = 45
    order_id = api.post("/api/v1/orders/", order_payload(), format="json").json()["id"]
    FAILURES_LEFT[:] = ["the carrier timed out"]
    event = emit_flaky(order_id)
    with pytest.raises(RuntimeError, match="timed out"):
        outbox_publish_pending()
    delivery = EventDelivery.objects.get(event=event, handler=FLAKY)
    # the handler's work rolled back with its claim; the failure is on record, the delivery still due
    assert delivery.processed_at is None
    assert delivery.last_error == "RuntimeError: the carrier timed out"
    assert delivery.attempts == 1
    assert delivery.due_at == pytest.approx(
        delivery.queued_at + timedelta(seconds=45), abs=timedelta(seconds=1)
    )
    assert notes(order_id) == []
    assert event_deliver(event_id=event.pk, handler_name=FLAKY) is True  # a copy of it now succeeds
    delivery.refresh_from_db()
    assert delivery.processed_at is not None and delivery.last_error == ""
    assert event_deliver(event_id=event.pk, handler_name=FLAKY) is False
    assert notes(order_id) == ["flaky ran"]


@pytest.mark.django_db
def test_the_sweep_sends_again_what_nobody_finished_and_backs_off(api, products, settings, clock):
    settings.OUTBOX_REDELIVER_SECONDS = 30
    order_id = api.post("/api/v1/orders/", order_payload(), format="json").json()["id"]
    FAILURES_LEFT[:] = ["down", "still down"]
    event = emit_flaky(order_id)
    with pytest.raises(RuntimeError):
        outbox_publish_pending()
    start = timezone.now()
    assert outbox_redeliver_due() == 0  # not due yet
    clock.move_to(start + timedelta(seconds=31))
    with pytest.raises(RuntimeError, match="still down"):
        outbox_redeliver_due()
    delivery = EventDelivery.objects.get(event=event, handler=FLAKY)
    assert (delivery.attempts, delivery.last_error) == (2, "RuntimeError: still down")
    # the second attempt waits twice as long
    assert delivery.due_at - delivery.queued_at == pytest.approx(
        timedelta(seconds=60), abs=timedelta(seconds=1)
    )
    clock.move_to(start + timedelta(seconds=31 + 59))
    assert outbox_redeliver_due() == 0
    clock.move_to(start + timedelta(seconds=31 + 61))
    assert outbox_redeliver_due() == 1
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.processed_at is not None) == (3, True)
    assert notes(order_id) == ["flaky ran"]
    clock.move_to(start + timedelta(hours=5))
    assert outbox_redeliver_due() == 0  # handled: never sent again


def test_redelivery_delay_doubles_up_to_an_hour(settings):
    settings.OUTBOX_REDELIVER_SECONDS = 45
    assert [redelivery_delay(n).total_seconds() for n in (1, 2, 3, 7, 50)] == [45, 90, 180, 2880, 3600]


@pytest.mark.django_db(transaction=True)
def test_the_sweep_leaves_alone_a_delivery_whose_handler_is_running(api, products, settings, clock):
    """A handler running longer than the bound holds its delivery row: the sweep skips it, and a copy
    sent anyway waits for the row and then does nothing."""
    import threading

    from django.db import connection

    settings.OUTBOX_REDELIVER_SECONDS = 1
    order_id = api.post("/api/v1/orders/", order_payload(), format="json").json()["id"]
    FAILURES_LEFT[:] = ["first attempt fails"]
    event = emit_flaky(order_id)  # published on commit; the handler fails and the delivery stays due
    assert EventDelivery.objects.get(event=event).last_error == "RuntimeError: first attempt fails"
    claimed, release = threading.Event(), threading.Event()
    results = []

    def slow_handler_run():
        try:
            with transaction.atomic():
                EventDelivery.objects.filter(event=event, handler=FLAKY).update(processed_at=timezone.now())
                claimed.set()
                release.wait(10)
        finally:
            connection.close()

    def copy():
        try:
            results.append(event_deliver(event_id=event.pk, handler_name=FLAKY))
        finally:
            connection.close()

    running = threading.Thread(target=slow_handler_run)
    running.start()
    assert claimed.wait(10)
    clock.move_to(timezone.now() + timedelta(minutes=5))
    assert outbox_redeliver_due() == 0  # skipped: its row is locked by the running handler
    late_copy = threading.Thread(target=copy)
    late_copy.start()
    time.sleep(0.3)
    assert results == []  # waits for the running handler
    release.set()
    running.join(10)
    late_copy.join(10)
    assert results == [False]
    assert notes(order_id) == []  # the copy did not run the handler's work


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


BATCHES: list[list[int]] = []
BATCH_HANDLER = "tests.test_outbox.notes_in_a_batch"


@subscribe("test.batch_note", batch=3)
def notes_in_a_batch(events: list[DomainEvent]) -> None:
    """Writes each event's note; an event asking for "boom" fails the batch it is in."""
    BATCHES.append([event.pk for event in events])
    for event in events:
        if event.payload["note"] == "boom":
            raise RuntimeError("this event cannot be handled")
        services.order_note_add(
            order_id=event.payload["order_id"],
            actor=services.Actor.system("handler"),
            note=event.payload["note"],
        )


def emit_batch_notes(order_id: int, texts: list[str]) -> list[DomainEvent]:
    with transaction.atomic():
        return [
            event_emit(
                name="test.batch_note",
                aggregate_type="order",
                aggregate_id=order_id,
                payload={"order_id": order_id, "note": text},
            )
            for text in texts
        ]


@pytest.mark.django_db
def test_a_batch_handler_gets_waiting_events_together_and_each_is_handled_once(api, products):
    BATCHES.clear()
    order_id = api.post("/api/v1/orders/", order_payload(), format="json").json()["id"]
    events = emit_batch_notes(order_id, ["a", "b", "c", "d", "e"])
    outbox_publish_pending()  # in-process: the relay hands them over in batches of at most 3
    ids = [e.pk for e in events]
    assert [ids[:3], ids[3:]] == BATCHES
    assert sorted(notes(order_id)) == ["a", "b", "c", "d", "e"]
    assert not EventDelivery.objects.filter(handler=BATCH_HANDLER, processed_at__isnull=True).exists()
    # a copy of a batch (a redelivery, a duplicate message), or one overlapping handled events: nothing
    from oms.events import events_deliver

    assert events_deliver(event_ids=ids[1:4], handler_name=BATCH_HANDLER) == 0
    assert sorted(notes(order_id)) == ["a", "b", "c", "d", "e"]
    assert EventDelivery.objects.filter(handler=BATCH_HANDLER).count() == 5


@pytest.mark.django_db
def test_one_event_that_fails_holds_back_no_other_in_its_batch(api, products):
    BATCHES.clear()
    order_id = api.post("/api/v1/orders/", order_payload(), format="json").json()["id"]
    events = emit_batch_notes(order_id, ["first", "boom", "third"])
    outbox_publish_pending()
    ids = [e.pk for e in events]
    # the batch failed and rolled back as a whole, then each event was tried alone
    assert [ids, [ids[0]], [ids[1]], [ids[2]]] == BATCHES
    assert sorted(notes(order_id)) == ["first", "third"]
    pending = EventDelivery.objects.get(handler=BATCH_HANDLER, processed_at__isnull=True)
    assert pending.event_id == ids[1]
    assert "cannot be handled" in pending.last_error
    assert pending.due_at is not None  # the sweep sends it again when due
