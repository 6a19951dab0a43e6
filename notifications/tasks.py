"""Sending customer messages on the notifications queue; the work is in notifications.services."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from notifications import services


@shared_task(name="notifications.send_message", bind=True, ignore_result=True)
def send_message(self, message_id: int) -> str:
    outcome = services.message_send(message_id=message_id)
    if outcome.result == "deferred" and outcome.retry_in is not None and not self.app.conf.task_always_eager:
        # Exponential back-off; if this retry is lost, the sweep finds the message when it is due.
        self.retry(countdown=outcome.retry_in, throw=False, max_retries=None)
    return outcome.result


@shared_task(name="notifications.send_messages", ignore_result=True)
def send_messages(message_ids: list[int]) -> int:
    """A backlog's batch (the sweep after quiet hours or an outage): each message in its own
    transaction, as send_message does, one task for many to spare the broker's round trips."""
    return services.messages_send_batch(message_ids=message_ids).get("sent", 0)


BATCH = 50


@shared_task(name="notifications.send_due", ignore_result=True)
def send_due() -> int:
    # A message this late was not sent by the task enqueued when it was decided (a lost task, a worker
    # killed mid-send, quiet hours that ended, a retry whose task vanished): the sweep sends it.
    ids = services.messages_due(overdue_by=timedelta(seconds=settings.NOTIFICATION_SWEEP_SECONDS / 2))
    for start in range(0, len(ids), BATCH):
        send_messages.apply_async((ids[start : start + BATCH],), retry=False)
    return len(ids)
