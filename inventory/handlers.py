"""What inventory does when other parts of the OMS report a change (domain events, see oms.events)."""

from django.conf import settings

from inventory import services
from oms.events import subscribe
from oms.models import DomainEvent


@subscribe("stock.received", batch=200)
def fill_backorders(events: list[DomainEvent]) -> None:
    # With automatic routing on, routing offers the stock to backorders under its rules instead.
    if not settings.ROUTING_ON_RECEIPT:
        for product_id in sorted({event.payload["product_id"] for event in events}):
            services.backorders_fill(product_id=product_id)


@subscribe("order.cancelled")
@subscribe("order.remainder_cancelled")
def release_cancelled_order(event: DomainEvent) -> None:
    services.stock_release(
        order_id=event.payload["order_id"], actor="order cancelled", reason="order cancelled"
    )
