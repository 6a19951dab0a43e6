from celery import shared_task

from tracking import services


@shared_task(name="tracking.poll_due", ignore_result=True)
def poll_due() -> dict:
    return services.tracking_poll_due()


@shared_task(name="tracking.watch", ignore_result=True)
def watch() -> dict:
    return services.tracking_watch()


@shared_task(name="tracking.webhooks_sweep", ignore_result=True)
def webhooks_sweep() -> int:
    return services.webhooks_sweep()


@shared_task(
    name="tracking.process_webhook",
    ignore_result=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=10,
)
def process_webhook(delivery_id: int) -> int:
    return services.webhook_process(delivery_id=delivery_id)
