"""Stock movements that change a SKU's inventory position ask for its evaluation (domain events, see
oms.events). A burst of movements on one SKU (a big receipt booked line by line, a wave of orders)
makes one evaluation: the movements published together reach the handlers as one batch, asking once
for every SKU they touch; the first to ask marks a SKU due for a few seconds and queues the task,
and later ones inside that window find the mark and leave it to that task."""

import logging

from django.conf import settings
from django.core.cache import cache

from oms.events import subscribe
from oms.models import DomainEvent
from orders.models import OrderLine
from replenishment import services

log = logging.getLogger(__name__)
QUEUE = "replenishment"


def _due_key(product_id: int) -> str:
    return f"replenishment:due:{product_id}"


def evaluation_due(product_ids: list[int]) -> None:
    """Queue an evaluation of these SKUs unless one is already queued for each."""
    from replenishment.tasks import evaluate_products

    wait = settings.REPLENISHMENT_DEBOUNCE_SECONDS
    fresh = []
    for product_id in sorted(set(product_ids)):
        try:
            if cache.add(_due_key(product_id), 1, timeout=max(int(wait * 4), 10)):
                fresh.append(product_id)
        except Exception:  # no shared cache (Redis down): evaluate rather than miss a movement
            log.warning("cache unavailable; evaluating without debounce", exc_info=True)
            fresh.append(product_id)
    if fresh:
        evaluate_products.apply_async((fresh,), countdown=wait or None, queue=QUEUE)


def evaluation_done(product_ids: list[int]) -> None:
    """The task started: movements from now on need an evaluation of their own."""
    try:
        cache.delete_many([_due_key(pk) for pk in product_ids])
    except Exception:
        log.warning("cache unavailable; debounce marks expire by themselves", exc_info=True)


# Batch handlers: the movements a relay pass publishes together (a wave's allocations, an afternoon's
# hand-overs) ask for one evaluation of the SKUs they touch, as the debounce would gather them.
EVALUATION_BATCH = 500


@subscribe("stock.received", queue=QUEUE, batch=EVALUATION_BATCH)
@subscribe("stock.allocations_withdrawn", queue=QUEUE, batch=EVALUATION_BATCH)
def stock_moved(events: list[DomainEvent]) -> None:
    evaluation_due([event.payload["product_id"] for event in events])


@subscribe("order.allocated", queue=QUEUE, batch=EVALUATION_BATCH)
@subscribe("order.partially_allocated", queue=QUEUE, batch=EVALUATION_BATCH)
@subscribe("order.backordered", queue=QUEUE, batch=EVALUATION_BATCH)
@subscribe("order.cancelled", queue=QUEUE, batch=EVALUATION_BATCH)
@subscribe("shipment.shipped", queue=QUEUE, batch=EVALUATION_BATCH)
def order_demand_changed(events: list[DomainEvent]) -> None:
    """Allocations, backorders and shipments move the orders' SKUs' positions."""
    order_ids = {event.payload["order_id"] for event in events}
    product_ids = list(
        OrderLine.objects.filter(order_id__in=order_ids).values_list("product_id", flat=True).distinct()
    )
    evaluation_due(product_ids)


@subscribe("purchase_order.sent", queue="notifications")
def purchase_order_sent(event: DomainEvent) -> None:
    """The supplier gets the order by e-mail (on the notifications queue: it waits on a mail server)."""
    services.purchase_order_email(purchase_order_id=event.payload["purchase_order_id"])
