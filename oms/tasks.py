import logging

from celery import shared_task

from oms.events import (
    event_deliver,
    event_delivery_failed,
    events_deliver,
    outbox_publish_pending,
    outbox_sweep,
)

log = logging.getLogger(__name__)


def enqueue_or_leave_for_sweep(task, *args: object, what: str) -> None:
    """Hand ``task`` to the broker without waiting for one that is down: what it works on is stored
    already, and a beat sweep takes it later. A request that a carrier or a shop sent must get its
    acknowledgement, not a 5xx that only makes them send the same call again."""
    try:
        task.apply_async(args, retry=False)
    except Exception:
        if task.app.conf.task_always_eager:
            raise
        log.warning("the broker refused %s; the sweep takes it later", what, exc_info=True)


@shared_task(name="oms.outbox_relay", ignore_result=True)
def outbox_relay() -> int:
    return outbox_publish_pending()


@shared_task(name="oms.outbox_sweep", ignore_result=True)
def outbox_sweep_task() -> dict[str, int]:
    return outbox_sweep()


# No Celery retries: a failed delivery stays pending in the database and the outbox sweep sends it
# again when due, with a growing delay (a retry held in a worker's memory dies with the worker).
@shared_task(name="oms.handle_event", ignore_result=True)
def handle_event(event_id: int, handler_name: str) -> bool:
    try:
        return event_deliver(event_id=event_id, handler_name=handler_name)
    except Exception as exc:
        event_delivery_failed(event_id=event_id, handler_name=handler_name, error=exc)
        raise


@shared_task(name="oms.handle_events", ignore_result=True)
def handle_events(event_ids: list[int], handler_name: str) -> int:
    """A batch handler's deliveries. If the batch fails, each event is tried alone, so that one
    event that cannot be handled leaves the others handled and only its own delivery pending."""
    try:
        return events_deliver(event_ids=event_ids, handler_name=handler_name)
    except Exception as exc:
        if len(event_ids) == 1:
            event_delivery_failed(event_id=event_ids[0], handler_name=handler_name, error=exc)
            raise
        log.warning("a batch of %s for %s failed; trying each event alone", len(event_ids), handler_name)
    handled = 0
    for event_id in event_ids:
        try:
            handled += events_deliver(event_ids=[event_id], handler_name=handler_name)
        except Exception as exc:
            log.exception("event %s failed in %s", event_id, handler_name)
            event_delivery_failed(event_id=event_id, handler_name=handler_name, error=exc)
    return handled
