"""Reads for routing pages."""

from django.db.models import Q, QuerySet

from orders.models import HoldReason, Order, OrderStatus
from routing.models import RoutingDecision


def routing_exceptions() -> QuerySet[Order]:
    """Orders routing could not (fully) serve: held as unroutable, backordered, partially allocated;
    and open orders whose last routing raised an alert (an SLA at risk, a full warehouse)."""
    alerted = RoutingDecision.objects.exclude(alerts=[]).values("order_id")
    return (
        Order.objects.filter(
            Q(status=OrderStatus.ON_HOLD, hold_reason=HoldReason.UNROUTABLE)
            | Q(status__in=[OrderStatus.BACKORDERED, OrderStatus.PARTIALLY_ALLOCATED])
            | Q(pk__in=alerted, status__in=[OrderStatus.ALLOCATED])
        )
        .select_related("channel", "customer", "shipping_address")
        .order_by("placed_at", "pk")
    )
