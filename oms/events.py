"""Domain events through a transactional outbox.

``event_emit`` appends the event in the caller's transaction; after commit the relay publishes it to
the handlers subscribed to its name, each as its own Celery task. A handler runs at most once per
event (the ``EventDelivery`` marker is written in the handler's transaction), so redelivery after a
crash or a duplicate publish is harmless.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from oms.models import DomainEvent, EventDelivery
from oms.sql import insert_rows, unsaved

log = logging.getLogger(__name__)

Handler = Callable[[DomainEvent], None]


@dataclass(frozen=True)
class Subscription:
    name: str
    func: Handler
    queue: str


_subscriptions: dict[str, list[Subscription]] = {}
_handlers: dict[str, Subscription] = {}


def subscribe(event_name: str, *, queue: str = "default") -> Callable[[Handler], Handler]:
    """Register ``func`` as a handler of ``event_name``; its dotted path names it in delivery markers."""

    def register(func: Handler) -> Handler:
        handler_name = f"{func.__module__}.{func.__qualname__}"
        sub = Subscription(name=handler_name, func=func, queue=queue)
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
    global _covered_until
    _covered_until = 0.0
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
    except Exception:
        log.warning("Redis did not answer; kicking the outbox relay anyway", exc_info=True)
        return True
    window = KICK_WINDOW_MS / 1000
    _covered_until = now + (window if opened else window / 2)
    return opened


def _kick_relay() -> None:
    # Under load most commits fall in a window this process already knows is covered; that check
    # comes first because reading Celery's configuration costs more than the rest of a skipped kick.
    if time.monotonic() < _covered_until:
        return
    from oms.tasks import outbox_relay

    # Tasks run in-process (tests, eager mode): a delayed kick would run at once, so every commit kicks.
    if not outbox_relay.app.conf.task_always_eager and not _kick_window_open():
        return
    # No retry: if the broker is down the periodic sweep publishes the event later, and the request
    # that emitted it must not hang on a broker.
    outbox_relay.apply_async(retry=False)
    if settings.REDIS_URL:
        outbox_relay.apply_async(retry=False, countdown=KICK_WINDOW_MS / 1000 * 1.5)


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


def outbox_publish_pending(*, batch_size: int = 200) -> int:
    """Hand every committed, unpublished event to its handlers' tasks. Returns how many were published.

    Several relays may run at once: SKIP LOCKED gives each its own rows on PostgreSQL (SQLite has one
    writer at a time anyway).
    """
    from oms.tasks import handle_event

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
            for event in events:
                for sub in subscriptions_for(event.name):
                    handle_event.apply_async(args=(event.id, sub.name), queue=sub.queue)
            DomainEvent.objects.filter(id__in=[e.id for e in events]).update(published_at=timezone.now())
        published += len(events)


def event_deliver(*, event_id: int, handler_name: str) -> bool:
    """Run one handler on one event unless it already ran. Returns False when it had already run."""
    sub = _handlers.get(handler_name)
    if sub is None:
        raise LookupError(f"No handler named {handler_name!r} is registered.")
    with transaction.atomic():
        event = DomainEvent.objects.get(id=event_id)
        try:
            with transaction.atomic():
                EventDelivery.objects.create(event=event, handler=handler_name)
        except IntegrityError:
            log.info("event %s already handled by %s", event_id, handler_name)
            return False
        sub.func(event)
    return True
