"""What a run achieved, read from the OMS's own tables after it: the outcomes the brief promises,
the KPI table (each KPI as the dashboard folds it and as recomputed from the raw rows), and the
invariants a correct run keeps."""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, F, Min, Q, Sum

from inventory.models import StockPosition
from inventory.selectors import stock_drifts
from kpis.definitions import KPIS, Span
from kpis.selectors import kpi_sum
from oms.models import DomainEvent, EventDelivery
from orders.models import Order, OrderEvent, OrderStatus
from shipments.models import Shipment, ShipmentDirection, ShipmentStatus
from tracking.models import EtaPrediction

# Where an order may rest when the run ends, and why that is not a stuck order.
TERMINAL = {
    OrderStatus.DELIVERED,
    OrderStatus.CANCELLED,
    OrderStatus.RETURNED,
    OrderStatus.PARTIALLY_RETURNED,
}
EXPLAINED = {
    OrderStatus.SHIPPED: "its parcel is with the courier",
    OrderStatus.PARTIALLY_SHIPPED: "a parcel is with the courier, the rest waits for stock",
    OrderStatus.BACKORDERED: "waiting for stock on a purchase order",
    OrderStatus.PARTIALLY_ALLOCATED: "waiting for stock on a purchase order",
    OrderStatus.IN_FULFILLMENT: "in a pick wave",
    OrderStatus.ALLOCATED: "waiting for the next wave",
}


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def _ratio(numerator, denominator) -> float | None:
    return float(numerator) / float(denominator) if denominator else None


def outcomes(first: date, last: date, tally: dict) -> dict:
    """The outcome figures of a run whose orders were placed from ``first`` to ``last``."""
    orders = Order.objects.all()
    placed = orders.count()
    outbound = Shipment.objects.filter(direction=ShipmentDirection.OUTBOUND).exclude(
        status=ShipmentStatus.CANCELLED
    )
    per_order = list(outbound.values("order_id").annotate(n=Count("id")).values_list("n", flat=True))
    shipped_orders = len(per_order)
    cost = outbound.aggregate(total=Sum("cost"))["total"] or Decimal(0)

    cycle: dict[str, list[float]] = defaultdict(list)
    delivered = (
        OrderEvent.objects.filter(to_status=OrderStatus.DELIVERED)
        .values("order_id", "order__channel__code", "order__placed_at")
        .annotate(at=Min("created_at"))
    )
    for row in delivered:
        hours = (row["at"] - row["order__placed_at"]).total_seconds() / 3600
        cycle[row["order__channel__code"]].append(hours)
        cycle["all"].append(hours)

    first_etas = EtaPrediction.objects.filter(
        shipment__direction=ShipmentDirection.OUTBOUND, actual_date__isnull=False
    ).order_by("shipment_id", "id")
    seen, exact, inside = set(), 0, 0
    for shipment_id, error_days, inside_window in first_etas.values_list(
        "shipment_id", "error_days", "inside_window"
    ):
        if shipment_id in seen:
            continue
        seen.add(shipment_id)
        exact += error_days == 0
        inside += bool(inside_window)

    kpis = kpi_table(first, last + timedelta(days=tally.get("drain_days", 0)))
    return {
        "orders": placed,
        "orders_by_status": dict(orders.values_list("status").annotate(n=Count("id")).order_by()),
        "shipped_orders": shipped_orders,
        "shipments": sum(per_order),
        "extra_shipments_per_order": _ratio(sum(per_order) - shipped_orders, shipped_orders),
        "outbound_cost": float(cost),
        "outbound_cost_per_order": _ratio(cost, shipped_orders),
        "fill_rate_at_arrival": _ratio(tally["filled_at_arrival"], tally["orders"]),
        "stockout_sku_days": tally["stockout_days"],
        "stockout_share_of_sku_days": _ratio(tally["stockout_days"], tally["sku_days"]),
        "stockout_share_of_position_days": _ratio(tally["stockout_position_days"], tally["position_days"]),
        "wismo_contacts": tally["wismo"],
        "wismo_per_100_shipped": _ratio(100 * tally["wismo"], shipped_orders),
        "eta_exact_date": _ratio(exact, len(seen)),
        "eta_inside_window": _ratio(inside, len(seen)),
        "cycle_hours": {
            channel: {"p50": _percentile(values, 0.5), "p90": _percentile(values, 0.9), "n": len(values)}
            for channel, values in sorted(cycle.items())
        },
        "kpis": kpis,
        "perfect_order": kpis["perfect_order"]["value"],
        "on_time": kpis["on_time"]["value"],
        "first_attempt": kpis["first_attempt"]["value"],
        "cost_per_delivery": kpis["cost_per_delivery"]["value"],
    }


def kpi_table(first: date, last: date) -> dict:
    """Each KPI over the run's days as the dashboard shows it (the folded daily figures) and as
    recomputed now from the raw rows by its definition; the two must agree."""
    span = Span(first, last)
    table = {}
    for kpi in KPIS:
        folded_n, folded_d = kpi_sum(kpi, first, last)
        raw_n, raw_d, rows = Decimal(0), Decimal(0), 0
        for row in kpi.rows(span):
            raw_n += row[4]
            raw_d += row[5]
            rows += 1
        # Daily figures keep four decimals: each folded row may differ from the exact sum by half of
        # the last one.
        tolerance = STORED_HALF_UNIT * rows
        table[kpi.code] = {
            "label": kpi.label,
            "unit": kpi.unit,
            "value": _float(kpi.value(folded_n, folded_d)),
            "recomputed": _float(kpi.value(raw_n, raw_d)),
            "numerator": float(folded_n),
            "denominator": float(folded_d),
            "agrees": abs(folded_n - raw_n) <= tolerance and abs(folded_d - raw_d) <= tolerance,
        }
    return table


STORED_HALF_UNIT = Decimal("0.00005")


def _float(value) -> float | None:
    return None if value is None else float(value)


def invariants() -> dict[str, list[str]]:
    """What a correct run keeps, each as the list of its breaches (empty: kept)."""
    breaches: dict[str, list[str]] = {}
    stuck = []
    for number, status in Order.objects.exclude(status__in=TERMINAL).values_list("external_id", "status"):
        if status not in EXPLAINED:
            stuck.append(f"{number} is {status}")
    for number in (
        Order.objects.filter(status=OrderStatus.SHIPPED)
        .exclude(shipments__tracking__is_active=True)
        .values_list("external_id", flat=True)
    ):
        stuck.append(f"{number} is shipped with no parcel followed")
    breaches["every_order_terminal_or_explained"] = stuck
    breaches["ledger_reconciles"] = [str(drift) for drift in stock_drifts()]
    breaches["no_unit_oversold"] = [
        f"position {pk}: {on_hand} on hand, {allocated} promised"
        for pk, on_hand, allocated in StockPosition.objects.filter(
            Q(on_hand__lt=0) | Q(allocated__gt=F("on_hand")) | Q(allocated__lt=0)
        ).values_list("pk", "on_hand", "allocated")
    ]
    unpublished = DomainEvent.objects.filter(published_at__isnull=True).count()
    pending = EventDelivery.objects.filter(processed_at__isnull=True).count()
    breaches["outbox_empty"] = (
        [f"{unpublished} events unpublished, {pending} deliveries unprocessed"]
        if unpublished or pending
        else []
    )
    return breaches
