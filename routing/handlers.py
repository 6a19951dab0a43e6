"""Routing reacts to orders that arrive or come back (released from hold): it routes them."""

from oms.events import subscribe
from oms.models import DomainEvent
from routing import services


@subscribe("order.received", queue="routing")
def route_received_order(event: DomainEvent) -> None:
    if services.routing_enabled():
        services.route_order(order_id=event.payload["order_id"])
