from celery import shared_task

from shipments import services


@shared_task(name="shipments.waves_release_due", ignore_result=True)
def waves_release_due() -> int:
    """Each minute: release the waves whose schedule is due."""
    return len(services.waves_release_due())
