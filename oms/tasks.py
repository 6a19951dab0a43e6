from celery import shared_task

from oms.events import event_deliver, event_delivery_failed, outbox_publish_pending, outbox_sweep


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
