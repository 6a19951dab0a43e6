"""Reorder evaluation on its own queue (``replenishment``): after stock movements that matter, a
SKU's positions (debounced), and every position on the beat schedule; and each production site's
schedule, hourly, so that orders not started on their day are planned again from today."""

from celery import shared_task

from replenishment import services
from replenishment.evaluation import suggestions_evaluate
from replenishment.models import ProductionSite


@shared_task(name="replenishment.evaluate_products", ignore_result=True)
def evaluate_products(product_ids: list[int]) -> int:
    from replenishment.handlers import evaluation_done

    evaluation_done(product_ids)
    return suggestions_evaluate(product_ids=product_ids).upserted


@shared_task(name="replenishment.evaluate_all", ignore_result=True)
def evaluate_all() -> int:
    return suggestions_evaluate().upserted


@shared_task(name="replenishment.schedule_production", ignore_result=True)
def schedule_production() -> int:
    site_ids = list(ProductionSite.objects.filter(is_active=True).values_list("pk", flat=True))
    for site_id in site_ids:
        services.production_schedule(site_id=site_id)
    return len(site_ids)
