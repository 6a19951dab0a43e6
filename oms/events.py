"""Domain events through a transactional outbox.

``event_emit`` appends the event in the caller's transaction; after commit the relay publishes it to
the handlers subscribed to its name, each as its own Celery task. What the outbox tracks is handling,
not publication: every (event, handler) pair has an ``EventDelivery`` row that stays pending until the
handler's transaction commits. A handler runs at most once per event (its transaction claims the row),
and a delivery nobody finished within ``OUTBOX_REDELIVER_SECONDS`` (a worker killed mid-task, a lost
message, a failing handler) is sent again by the periodic sweep, so every event is handled exactly once
in effect.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from oms.models import DomainEvent, EventDelivery
from oms.sql import insert_rows, unsaved

log = logging.getLogger(__name__)

Handler = Callable[[DomainEvent], None]
BatchHandler = Callable[[list[DomainEvent]], None]


@dataclass(frozen=True)
class Subscription:
    name: str
    func: Handler | BatchHandler
    queue: str
    batch: int = 0  # > 0: ``func`` takes a list of up to this many events, delivered in one task


_subscriptions: dict[str, list[Subscription]] = {}
_handlers: dict[str, Subscription] = {}


def subscribe(event_name: str, *, queue: str = "default", batch: int = 0) -> Callable[[Handler], Handler]:
    """Register ``func`` as a handler of ``event_name``; its dotted path names it in delivery markers.

    ``batch``: the handler takes a list of events, and deliveries waiting at the same time are handed
    to it together, up to ``batch`` per task and in one transaction (routing a sale's backlog shares
    a task, a commit and its row locks among many orders). Each event is still handled exactly once:
    the batch claims every delivery it handles, and a batch that fails is retried event by event, so
    one bad event holds back no other."""

    def register(func: Handler) -> Handler:
        handler_name = f"{func.__module__}.{func.__qualname__}"
        sub = Subscription(name=handler_name, func=func, queue=queue, batch=batch)
        _handlers[handler_name] = sub
        subs = _subscriptions.setdefault(event_name, [])
        if all(existing.name != handler_name for existing in subs):
            subs.append(sub)
        return func

    return register


def subscriptions_for(event_name: str) -> list[Subscription]:
    return _subscriptions.get(event_name, [])


KICK_WINDOW_MS = 200
_redis_client = None
# Until when (time.monotonic) this process knows that a delayed kick will cover its commits.
_covered_until = 0.0


def reset_kick_window() -> None:
    """Forget the open window (tests start each case without one)."""
    global _covered_until, _broker_down_until
    _covered_until = 0.0
    _broker_down_until = 0.0
    if settings.REDIS_URL:
        _redis().delete(KICK_KEY)


KICK_KEY = "oms:outbox:kick"


def _redis():
    global _redis_client
    if _redis_client is None:
        import redis

        _redis_client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5
        )
    return _redis_client


def _kick_window_open() -> bool:
    """True for the first commit of each kick window across all processes.

    Under load this turns one broker message per order into a few per second. A window is opened
    with Redis SET NX; whoever opens it sends an immediate and a delayed kick, and the delayed one
    runs after the window closes, so it publishes everything committed during the window. A process
    that lost the race knows the winner's delayed kick comes at least half a window later, and skips
    Redis until then. Without Redis (the embedded mode) every commit kicks.
    """
    global _covered_until
    if not settings.REDIS_URL:
        return True
    now = time.monotonic()
    if now < _covered_until:
        return False
    try:
        opened = bool(_redis().set(KICK_KEY, b"1", nx=True, px=KICK_WINDOW_MS))
    except Exception as exc:
        log.warning("Redis did not answer (%s); kicking the outbox relay anyway", exc)
        return True
    window = KICK_WINDOW_MS / 1000
    _covered_until = now + (window if opened else window / 2)
    return opened


def _kick_relay() -> None:
    # Under load most commits fall in a window this process already knows is covered; that check
    # comes first because reading Celery's configuration costs more than the rest of a skipped kick.
    if time.monotonic() < _covered_until or not settings.OUTBOX_KICK_ON_COMMIT:
        return
    from oms.tasks import outbox_relay

    # Tasks run in-process (tests, eager mode): a delayed kick would run at once, so every commit kicks.
    eager = outbox_relay.app.conf.task_always_eager
    if not eager and (time.monotonic() < _broker_down_until or not _kick_window_open()):
        return
    # No retry: if the broker is down the periodic sweep publishes the event later, and the request
    # that emitted it must not hang on a broker.
    try:
        outbox_relay.apply_async(retry=False)
        # The delayed kick covers what commits during the window; run in-process it would run at
        # once and find nothing, since every commit kicks for itself there.
        if settings.REDIS_URL and not eager:
            outbox_relay.apply_async(retry=False, countdown=KICK_WINDOW_MS / 1000 * 1.5)
    except Exception as exc:
        if eager:
            raise
        _broker_unavailable(exc)


# Until when (time.monotonic) this process leaves the broker alone after it refused a kick: the events
# are safe in the outbox, and the sweep publishes them once the broker is back.
_broker_down_until = 0.0
BROKER_RETRY_SECONDS = 2.0


def _broker_unavailable(exc: Exception) -> None:
    global _broker_down_until
    _broker_down_until = time.monotonic() + BROKER_RETRY_SECONDS
    log.warning("broker unavailable (%s); the outbox sweep publishes the events later", exc)


def _kick_pending() -> bool:
    """Whether this transaction already asked for a kick (one per transaction is enough).

    Reads Django's list of pending on-commit callbacks, (savepoint ids, func, robust) tuples; a test
    (tests/test_outbox.py, one kick for two events) fails if that format ever changes.
    """
    return any(entry[1] is _kick_relay for entry in connection.run_on_commit)


def event_emit(
    *, name: str, aggregate_type: str, aggregate_id: object, payload: dict[str, Any]
) -> DomainEvent:
    """Append a domain event to the outbox; must be called inside the transaction of the change."""
    event = unsaved(
        DomainEvent, name=name, aggregate_type=aggregate_type, aggregate_id=str(aggregate_id), payload=payload
    )
    insert_rows([event], deferrable=True)
    if not _kick_pending():
        transaction.on_commit(_kick_relay, robust=True)
    return event


EMIT_CHUNK = 2000  # events per INSERT: PostgreSQL takes at most 65,535 parameters in a statement


def events_emit(*, name: str, aggregate_type: str, items: list[tuple[object, dict[str, Any]]]) -> int:
    """Append many events of one name, (aggregate id, payload) each, in a few statements (a set-based
    job may raise thousands at once); inside the transaction of the change, as ``event_emit``."""
    events = [
        unsaved(
            DomainEvent,
            name=name,
            aggregate_type=aggregate_type,
            aggregate_id=str(aggregate_id),
            payload=payload,
        )
        for aggregate_id, payload in items
    ]
    for start in range(0, len(events), EMIT_CHUNK):
        insert_rows(events[start : start + EMIT_CHUNK], deferrable=True)
    if events and not _kick_pending():
        transaction.on_commit(_kick_relay, robust=True)
    return len(events)


def events_insert_sql(*, source: str, aggregate_id: str, payload: str) -> str:
    """For set-based jobs on PostgreSQL: an INSERT that appends one event per row of ``source`` (SQL
    over the caller's own CTEs), to be used as a data-modifying CTE of the caller's statement, with
    parameters ``event_name``, ``event_aggregate_type`` and ``now``. Call ``events_inserted`` after
    it, in the same transaction, so that the relay is kicked on commit."""
    table = DomainEvent._meta.db_table
    return (
        f"INSERT INTO {table} (name, aggregate_type, aggregate_id, payload, created_at) "
        f"SELECT %(event_name)s, %(event_aggregate_type)s, CAST({aggregate_id} AS TEXT), {payload}, %(now)s "
        f"FROM {source}"
    )


def events_inserted() -> None:
    if not _kick_pending():
        transaction.on_commit(_kick_relay, robust=True)


def redelivery_delay(attempts: int) -> timedelta:
    """How long a delivery handed to the broker ``attempts`` times may stay unprocessed before it is sent
    again: the configured bound at first, doubling with each attempt up to an hour, so that a handler
    that keeps failing, or a backlog, is not flooded with copies."""
    seconds = settings.OUTBOX_REDELIVER_SECONDS * 2 ** min(max(attempts - 1, 0), 16)
    return timedelta(seconds=min(seconds, REDELIVERY_MAX_SECONDS))


REDELIVERY_MAX_SECONDS = 3600


def _send(deliveries: list[tuple[int, str]]) -> int:
    """Hand (event id, handler) pairs to the broker; returns how many were sent. Stops at the first
    broker error: what was not sent stays pending in the database and the sweep sends it when due."""
    from oms.tasks import handle_event, handle_events

    messages: list[tuple[Subscription, list[int]]] = []
    batches: dict[str, list[int]] = {}
    for event_id, handler_name in deliveries:
        sub = _handlers.get(handler_name)
        if sub is None:
            log.error("no handler named %s is registered; event %s waits for it", handler_name, event_id)
        elif sub.batch:
            batch = batches.setdefault(handler_name, [])
            if not batch:
                messages.append((sub, batch))
            batch.append(event_id)
            if len(batch) == sub.batch:
                del batches[handler_name]
        else:
            messages.append((sub, [event_id]))
    sent = 0
    for sub, event_ids in messages:
        try:
            if sub.batch:
                handle_events.apply_async(args=(event_ids, sub.name), queue=sub.queue, retry=False)
            else:
                handle_event.apply_async(args=(event_ids[0], sub.name), queue=sub.queue, retry=False)
        except Exception:
            if handle_event.app.conf.task_always_eager:
                raise  # in-process (tests): the handler's own error
            log.warning("the broker refused a delivery; the outbox sweep sends it later", exc_info=True)
            break
        sent += len(event_ids)
    return sent


def outbox_publish_pending(*, batch_size: int = 200) -> int:
    """Publish every committed, unpublished event: one pending delivery row per handler, committed,
    then handed to the broker. Returns how many events were published.

    Several relays may run at once: SKIP LOCKED gives each its own rows on PostgreSQL (SQLite has one
    writer at a time anyway). Messages go out after the rows commit, so a handler never starts before
    its delivery exists; a crash in between leaves the deliveries pending, and the sweep sends them.
    """
    published = 0
    while True:
        with transaction.atomic():
            events = list(
                DomainEvent.objects.select_for_update(skip_locked=True)
                .filter(published_at__isnull=True)
                .order_by("id")[:batch_size]
            )
            if not events:
                return published
            now = timezone.now()
            due = now + redelivery_delay(1)
            deliveries = [
                EventDelivery(event_id=event.id, handler=sub.name, queued_at=now, due_at=due)
                for event in events
                for sub in subscriptions_for(event.name)
            ]
            EventDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
            DomainEvent.objects.filter(id__in=[e.id for e in events]).update(published_at=now)
        _send([(d.event_id, d.handler) for d in deliveries])
        published += len(events)
        if len(events) < batch_size:
            # What was not committed when this batch was read is published by its own commit's kick
            # (or the window's delayed one, or the sweep): asking again would find nothing.
            return published


def outbox_redeliver_due(*, limit: int = 500) -> int:
    """Send again every delivery still unprocessed at its due time: its worker died mid-task, its
    message was lost, or its handler failed. Returns how many were sent again.

    A delivery whose handler is running right now holds its row lock, and SKIP LOCKED leaves it alone.
    A copy that arrives while the first is still queued does nothing (the first to claim the row wins).
    """
    with transaction.atomic():
        now = timezone.now()
        due = list(
            EventDelivery.objects.select_for_update(skip_locked=True)
            .filter(processed_at__isnull=True, due_at__lte=now)
            .order_by("due_at")[:limit]
        )
        for delivery in due:
            delivery.attempts += 1
            delivery.queued_at = now
            delivery.due_at = now + redelivery_delay(delivery.attempts)
        EventDelivery.objects.bulk_update(due, ["attempts", "queued_at", "due_at"])
    if due:
        log.warning("delivering %s event deliveries again (unprocessed past their due time)", len(due))
    return _send([(d.event_id, d.handler) for d in due])


def outbox_sweep() -> dict[str, int]:
    """The periodic job: publish what no kick published, send again what nobody finished."""
    return {"published": outbox_publish_pending(), "redelivered": outbox_redeliver_due()}


def event_deliver(*, event_id: int, handler_name: str) -> bool:
    """Run one handler on one event unless it already ran. Returns False when it had already run.

    The handler's transaction claims the delivery row (stamping ``processed_at``) before the handler
    runs: a copy of the same delivery waits on that row lock and then finds it processed; if the handler
    fails or its worker dies, the claim rolls back with its work and the delivery stays pending.
    """
    sub = _handlers.get(handler_name)
    if sub is None:
        raise LookupError(f"No handler named {handler_name!r} is registered.")
    with transaction.atomic():
        now = timezone.now()
        event = _claim(event_id, handler_name, now)
        if event is None:
            # Processed already, or never published through the relay (called directly): a new row,
            # unless one exists, in which case it was processed.
            try:
                with transaction.atomic():
                    EventDelivery.objects.create(event_id=event_id, handler=handler_name, processed_at=now)
            except IntegrityError:
                log.info("event %s already handled by %s", event_id, handler_name)
                return False
            event = DomainEvent.objects.get(id=event_id)
        sub.func(event)
    return True


def _claim(event_id: int, handler_name: str, now) -> DomainEvent | None:
    """Stamp a pending delivery processed and return its event; None when it was not pending. On
    PostgreSQL one statement does both (every event's every handler passes here)."""
    if connection.vendor != "postgresql":
        claimed = EventDelivery.objects.filter(
            event_id=event_id, handler=handler_name, processed_at__isnull=True
        ).update(processed_at=now, last_error="")
        return DomainEvent.objects.get(id=event_id) if claimed else None
    deliveries, events = EventDelivery._meta.db_table, DomainEvent._meta.db_table
    rows = list(
        DomainEvent.objects.raw(
            f"WITH claimed AS (UPDATE {deliveries} SET processed_at = %s, last_error = '' "
            "WHERE event_id = %s AND handler = %s AND processed_at IS NULL RETURNING event_id) "
            f"SELECT e.* FROM {events} e JOIN claimed ON claimed.event_id = e.id",
            [now, event_id, handler_name],
        )
    )
    return rows[0] if rows else None


def events_deliver(*, event_ids: list[int], handler_name: str) -> int:
    """Run a batch handler on the events whose deliveries are still pending, in one transaction;
    returns how many it handled (a copy of a batch, or an event handled meanwhile, is skipped).

    The claim works as in ``event_deliver``: the rows are stamped processed in the handler's
    transaction, so a failure or a killed worker leaves every delivery of the batch pending.
    """
    sub = _handlers.get(handler_name)
    if sub is None or not sub.batch:
        raise LookupError(f"No batch handler named {handler_name!r} is registered.")
    ids = sorted(set(event_ids))
    with transaction.atomic():
        now = timezone.now()
        table = EventDelivery._meta.db_table
        with connection.cursor() as cursor:
            # RETURNING (PostgreSQL, SQLite 3.35+): which rows this batch claimed, in one statement;
            # a copy running right now holds its rows, and this waits, then finds them processed.
            placeholders = ", ".join(["%s"] * len(ids))
            cursor.execute(
                f"UPDATE {table} SET processed_at = %s, last_error = '' "
                f"WHERE handler = %s AND processed_at IS NULL AND event_id IN ({placeholders}) "
                "RETURNING event_id",
                [now, handler_name, *ids],
            )
            claimed = {row[0] for row in cursor.fetchall()}
        unclaimed = [i for i in ids if i not in claimed]
        if unclaimed:
            # never published through the relay (called directly): claimed by a new row each
            known = set(
                EventDelivery.objects.filter(handler=handler_name, event_id__in=unclaimed).values_list(
                    "event_id", flat=True
                )
            )
            fresh = [i for i in unclaimed if i not in known]
            EventDelivery.objects.bulk_create(
                [EventDelivery(event_id=i, handler=handler_name, processed_at=now) for i in fresh]
            )
            claimed.update(fresh)
        if not claimed:
            log.info("events %s already handled by %s", ids, handler_name)
            return 0
        sub.func(list(DomainEvent.objects.filter(id__in=claimed).order_by("id")))
    return len(claimed)


def event_delivery_failed(*, event_id: int, handler_name: str, error: BaseException) -> None:
    """Record why a handler failed (its own transaction rolled back); the sweep tries again when due.
    Best effort: if even this write fails (the database is down), the delivery is still due."""
    now = timezone.now()
    try:
        with transaction.atomic():
            for delivery in EventDelivery.objects.select_for_update(skip_locked=True).filter(
                event_id=event_id, handler=handler_name, processed_at__isnull=True
            ):
                delivery.last_error = f"{type(error).__name__}: {error}"[:2000]
                delivery.due_at = now + redelivery_delay(delivery.attempts)
                delivery.save(update_fields=["last_error", "due_at"])
    except Exception:
        log.exception("could not record the failure of %s on event %s", handler_name, event_id)
