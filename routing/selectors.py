"""Reads for routing pages, and the lane table's transit times for those who promise dates."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from orders.models import HoldReason, Order, OrderLine, OrderStatus
from routing.models import LaneTransit, RoutingDecision


def _short_in_fulfilment():
    return OrderLine.objects.filter(
        order__status__in=[OrderStatus.IN_FULFILLMENT, OrderStatus.PARTIALLY_SHIPPED],
        quantity__gt=F("qty_allocated") + F("qty_cancelled"),
    ).values("order_id")


def routing_overdue_since(now: datetime | None = None) -> datetime:
    """Orders received before this instant and still not routed are overdue: routing normally takes a
    second, and a lost task is delivered again within a minute (the outbox)."""
    return (now or timezone.now()) - timedelta(minutes=settings.ROUTING_OVERDUE_MINUTES)


def routing_exceptions(*, now: datetime | None = None) -> QuerySet[Order]:
    """Orders routing could not (fully) serve: held as unroutable, backordered, partially allocated,
    in fulfilment with units no warehouse could take over (after a short pick or a rejection); open
    orders whose last routing raised an alert (an SLA at risk, a full warehouse); and orders still
    waiting to be routed long after they arrived (routing switched off, or a fault)."""
    alerted = RoutingDecision.objects.exclude(alerts=[]).values("order_id")
    return (
        Order.objects.filter(
            Q(status=OrderStatus.RECEIVED, created_at__lt=routing_overdue_since(now))
            | Q(status=OrderStatus.ON_HOLD, hold_reason=HoldReason.UNROUTABLE)
            | Q(status__in=[OrderStatus.BACKORDERED, OrderStatus.PARTIALLY_ALLOCATED])
            | Q(pk__in=alerted, status__in=[OrderStatus.ALLOCATED])
            | Q(pk__in=_short_in_fulfilment())
        )
        .select_related("channel", "customer", "shipping_address")
        .order_by("placed_at", "pk")
    )


def line_skus(*, order_ids: list[int]) -> dict[tuple[int, int], str]:
    """(order id, line number) -> SKU, for saying what a decision waits for in words ops know."""
    return {
        (order_id, number): sku
        for order_id, number, sku in OrderLine.objects.filter(order_id__in=order_ids).values_list(
            "order_id", "line_number", "sku"
        )
    }


def lane_time(*, warehouse_id: int, country: str, postal_code: str) -> float | None:
    """Days from the warehouse to the address as the lane table says (the longest matching postal
    prefix wins; an empty prefix is the whole country), or None when no lane says."""
    postal = postal_code.replace(" ", "")
    best = None
    for lane in LaneTransit.objects.filter(warehouse_id=warehouse_id, country=country):
        prefix = lane.postal_prefix.replace(" ", "")
        if postal.startswith(prefix) and (
            best is None or len(prefix) > len(best.postal_prefix.replace(" ", ""))
        ):
            best = lane
    return None if best is None else float(best.transit_days)


def channel_warehouse_ids(*, channel_id: int, service_level: str = "standard") -> list[int] | None:
    """The warehouses the channel's rules in force may ship from; None: every active warehouse (no
    published rule set applies), as the routing engine reads it."""
    from routing.services.rule_sets import rule_set_in_force

    rule_set = rule_set_in_force(channel_id=channel_id, service_level=service_level)
    if rule_set is None:
        return None
    return list(rule_set.warehouses.filter(warehouse__is_active=True).values_list("warehouse_id", flat=True))
