"""The KPI fold on the beat schedule: what the histories gained since the last fold, into the daily
figures, then the thresholds checked against them."""

from celery import shared_task

from kpis import services


@shared_task(name="kpis.fold", ignore_result=True)
def fold() -> int:
    result = services.figures_fold()
    services.thresholds_evaluate()
    return result.rows
