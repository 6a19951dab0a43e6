from celery import shared_task

from oms.events import event_deliver, outbox_publish_pending


@shared_task(name="oms.outbox_relay", ignore_result=True)
def outbox_relay() -> int:
    return outbox_publish_pending()


@shared_task(
    name="oms.handle_event",
    ignore_result=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=10,
)
def handle_event(event_id: int, handler_name: str) -> bool:
    return event_deliver(event_id=event_id, handler_name=handler_name)
