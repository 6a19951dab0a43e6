"""Reorder evaluation on its own queue (``replenishment``): after stock movements that matter, a
SKU's positions (debounced), and every position on the beat schedule."""

from celery import shared_task

from replenishment.evaluation import suggestions_evaluate


@shared_task(name="replenishment.evaluate_products", ignore_result=True)
def evaluate_products(product_ids: list[int]) -> int:
    from replenishment.handlers import evaluation_done

    evaluation_done(product_ids)
    return suggestions_evaluate(product_ids=product_ids).upserted


@shared_task(name="replenishment.evaluate_all", ignore_result=True)
def evaluate_all() -> int:
    return suggestions_evaluate().upserted
