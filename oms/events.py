"""Domain events through a transactional outbox.

``event_emit`` appends the event in the caller's transaction; after commit the relay publishes it to
the handlers subscribed to its name, each as its own Celery task. A handler runs at most once per
event (the ``EventDelivery`` marker is written in the handler's transaction), so redelivery after a
crash or a duplicate publish is harmless.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from oms.models import DomainEvent, EventDelivery

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


def _kick_relay() -> None:
    from oms.tasks import outbox_relay

    # No retry here: if the broker is down the periodic sweep publishes the event later, and the
    # request that emitted it must not hang on a broker.
    outbox_relay.apply_async(retry=False)


def _kick_pending() -> bool:
    return any(entry[1] is _kick_relay for entry in connection.run_on_commit)


def event_emit(
    *, name: str, aggregate_type: str, aggregate_id: object, payload: dict[str, Any]
) -> DomainEvent:
    """Append a domain event to the outbox; must be called inside the transaction of the change."""
    event = DomainEvent.objects.create(
        name=name, aggregate_type=aggregate_type, aggregate_id=str(aggregate_id), payload=payload
    )
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
