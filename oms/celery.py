"""The Celery app. Tasks go to queues named by concern (default, routing, tracking, notifications) so
that each concern can get its own workers; a worker creates the queues it is told to consume."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings")

app = Celery("oms")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_routes = {
    "routing.*": {"queue": "routing"},
    "tracking.*": {"queue": "tracking"},
    "notifications.*": {"queue": "notifications"},
    "replenishment.*": {"queue": "replenishment"},
    "integrations.*": {"queue": "integrations"},
}
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _close_old_database_connections(sender=None, **_: object) -> None:
    # What Django does around a request: drop a connection past CONN_MAX_AGE or left unusable, keep
    # the rest (CELERY_DB_REUSE_MAX stops Celery from closing every connection around every task).
    # Tasks run in-process (tests, eager mode) share the caller's connection and transaction.
    if sender is not None and getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


@app.on_after_finalize.connect
def schedule_periodic_jobs(sender: Celery, **_: object) -> None:
    from django.conf import settings

    # The relay is kicked on every commit that emits an event; this sweep catches what a crash
    # between commit and kick left behind, and sends again what no handler finished in time.
    sender.add_periodic_task(
        settings.OUTBOX_SWEEP_SECONDS, sender.signature("oms.outbox_sweep"), name="outbox sweep"
    )
    # Waves follow each warehouse's own schedule (shipments.WaveSchedule); checking each minute is
    # enough for schedules counted in minutes.
    sender.add_periodic_task(60.0, sender.signature("shipments.waves_release_due"), name="pick waves")
    # Tracking: carriers polled on their shipments' cadence, silent feeds and delays watched.
    sender.add_periodic_task(60.0, sender.signature("tracking.poll_due"), name="tracking poll")
    sender.add_periodic_task(300.0, sender.signature("tracking.watch"), name="tracking watch")
    sender.add_periodic_task(
        settings.TRACKING_WEBHOOK_SWEEP_SECONDS,
        sender.signature("tracking.webhooks_sweep"),
        name="carrier webhooks left pending",
    )
    # Every position against its reorder rule (movements evaluate their SKUs as they happen).
    sender.add_periodic_task(
        settings.REPLENISHMENT_EVALUATE_MINUTES * 60,
        sender.signature("replenishment.evaluate_all"),
        name="reorder evaluation",
    )
    # Production schedules move on with the days: what was not started yesterday is planned again.
    sender.add_periodic_task(
        3600,
        sender.signature("replenishment.schedule_production"),
        name="production schedules",
    )
    # The KPI figures: what the histories gained, folded into the days it changes; then thresholds.
    sender.add_periodic_task(settings.KPI_FOLD_SECONDS, sender.signature("kpis.fold"), name="kpi figures")
    # Outbound webhooks: events fanned out to the endpoints, due deliveries sent.
    sender.add_periodic_task(
        settings.WEBHOOK_SWEEP_SECONDS, sender.signature("integrations.webhooks"), name="outbound webhooks"
    )
    # What each connected shop may sell, pushed where it changed (debounced to this period).
    sender.add_periodic_task(
        settings.SHOP_STOCK_PUSH_SECONDS, sender.signature("integrations.stock_push"), name="shop stock"
    )
    # The ERP's stock valuation: yesterday's, per warehouse, once it is over (written once a day).
    sender.add_periodic_task(3600, sender.signature("integrations.valuation_close"), name="stock valuation")
    # Customer messages whose task was lost, whose retry is due or whose quiet hours ended.
    sender.add_periodic_task(
        settings.NOTIFICATION_SWEEP_SECONDS,
        sender.signature("notifications.send_due"),
        name="customer messages",
    )
