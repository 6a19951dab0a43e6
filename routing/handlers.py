"""Routing reacts to orders that arrive or come back (released from hold), to stock that arrives
for orders waiting for it, and to promises withdrawn when a shelf held less than counted: it routes
them."""

from oms.events import subscribe
from oms.models import DomainEvent
from routing import services


@subscribe("order.received", queue="routing", batch=services.ROUTING_BATCH)
def route_received_order(events: list[DomainEvent]) -> None:
    """Orders that arrive together (a sale's backlog) are routed together, oldest first."""
    if services.routing_enabled():
        services.orders_route(order_ids=[event.payload["order_id"] for event in events])


@subscribe("stock.received", queue="routing")
def route_backorders(event: DomainEvent) -> None:
    if services.routing_enabled():
        services.backorders_route(product_id=event.payload["product_id"])


@subscribe("stock.allocations_withdrawn", queue="routing")
def reroute_withdrawn(event: DomainEvent) -> None:
    if services.routing_enabled():
        for order_id in event.payload["order_ids"]:
            services.route_order(order_id=order_id)
