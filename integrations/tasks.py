"""Outbound webhooks on the beat schedule: domain events fanned out to the endpoints that want them,
then every due delivery sent (on the ``integrations`` queue, so a slow receiver delays nobody else)."""

from celery import shared_task

from integrations import services


@shared_task(name="integrations.webhooks", ignore_result=True)
def webhooks() -> int:
    while services.webhooks_fan_out():
        pass
    return sum(services.webhooks_send_due().values())
