"""The integrations' Celery tasks, on the ``integrations`` queue (so a slow receiver or shop delays
nobody else). On the beat schedule: domain events fanned out to the webhook endpoints that want them,
every due delivery sent, shop webhooks stored but never applied picked up again, and the status
sync back to the shops retried, and order imports whose worker died taken again."""

from celery import shared_task

from integrations import imports, services
from integrations.shops import services as shops
from integrations.shops import sync


@shared_task(name="integrations.webhooks", ignore_result=True)
def webhooks() -> int:
    while services.webhooks_fan_out():
        pass
    shops.shop_webhooks_sweep()
    sync.shop_syncs_send_due()
    imports.order_imports_sweep()
    return sum(services.webhooks_send_due().values())


@shared_task(
    name="integrations.process_shop_webhook",
    ignore_result=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=10,
)
def process_shop_webhook(webhook_id: int) -> str:
    return shops.shop_webhook_process(webhook_id=webhook_id)


@shared_task(name="integrations.order_import", ignore_result=True)
def order_import(import_id: int) -> str:
    return imports.order_import_run(import_id=import_id).status


@shared_task(name="integrations.valuation_close", ignore_result=True)
def valuation_close() -> int:
    from integrations import exports

    return exports.valuation_close()


@shared_task(name="integrations.stock_push", ignore_result=True)
def stock_push() -> dict:
    from integrations.shops import stock

    return stock.shop_stock_push_all()
