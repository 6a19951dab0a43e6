"""Reads for routing pages."""

from django.db.models import Q, QuerySet

from orders.models import HoldReason, Order, OrderStatus


def routing_exceptions() -> QuerySet[Order]:
    """Orders routing could not (fully) serve: held as unroutable, backordered, partially allocated."""
    return (
        Order.objects.filter(
            Q(status=OrderStatus.ON_HOLD, hold_reason=HoldReason.UNROUTABLE)
            | Q(status__in=[OrderStatus.BACKORDERED, OrderStatus.PARTIALLY_ALLOCATED])
        )
        .select_related("channel", "customer", "shipping_address")
        .order_by("placed_at", "pk")
    )
