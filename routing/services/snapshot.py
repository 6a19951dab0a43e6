"""What the engine needs to know about an order, read once: its open lines, its destination, and
the candidate warehouses with stock, capacity, cut-off, lanes and (when the rules weigh cost) quotes."""

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils import timezone

from inventory import selectors as inventory_selectors
from inventory.models import StockPosition, Warehouse, WarehouseDayLoad
from orders.models import Order, OrderLine, Product
from routing import engine
from routing.models import (
    LaneTransit,
    RuleSet,
)

# ------------------------------------------------------------------------------------------- snapshot


# Carrier quotes for the engine's cost weight: functions (warehouse, order, weight in grams) -> price
# or None. The shipments app registers one (it depends on routing, so routing cannot import it).
SHIPPING_QUOTERS: list[Callable[[Warehouse, Order, int], tuple[float, str] | None]] = []
UNIT_WEIGHT_GRAMS = 500  # assumed for products without a weight


def _shipping_costs(
    order: Order, warehouses: list[Warehouse], lines: list[engine.LineNeed]
) -> dict[int, tuple[float, str]]:
    """A quote per warehouse for the whole open part of the order (one parcel from there)."""
    if not SHIPPING_QUOTERS or not lines:
        return {}
    weights = dict(
        Product.objects.filter(pk__in={ln.product_id for ln in lines}).values_list("pk", "weight_grams")
    )
    grams = sum((weights.get(ln.product_id) or UNIT_WEIGHT_GRAMS) * ln.quantity for ln in lines)
    costs = {}
    for warehouse in warehouses:
        for quote in SHIPPING_QUOTERS:
            price = quote(warehouse, order, grams)
            if price is not None:
                costs[warehouse.pk] = price
                break
    return costs


def _open_lines(order: Order, *, whole: bool = False) -> list[engine.LineNeed]:
    """Units still to route; with ``whole``, every unit not cancelled (a dry run replays the order)."""
    needs = []
    for line in OrderLine.objects.filter(order=order).order_by("line_number"):
        units = line.quantity - line.qty_cancelled - (0 if whole else line.qty_allocated)
        if units > 0:
            needs.append(engine.LineNeed(line.pk, line.product_id, units))
    return needs


def _past_cutoff(warehouse: Warehouse, now: datetime) -> bool:
    if warehouse.cutoff_time is None:
        return False
    try:
        local = now.astimezone(ZoneInfo(warehouse.time_zone))
    except (KeyError, ValueError):
        local = now
    return local.time() >= warehouse.cutoff_time


def _capacity_left(
    warehouses: list[Warehouse], now: datetime, pending: Mapping[int, int] | None = None
) -> dict[int, int | None]:
    """Orders each warehouse can still take today: its daily capacity less today's count (and less
    ``pending``, what the caller's batch has counted and not written yet)."""
    if all(w.capacity_per_day is None for w in warehouses):
        return {w.pk: None for w in warehouses}
    used = Counter(pending or {})
    used.update(
        dict(
            WarehouseDayLoad.objects.filter(
                day=timezone.localdate(now), warehouse__in=warehouses
            ).values_list("warehouse_id", "orders")
        )
    )
    return {
        w.pk: None if w.capacity_per_day is None else w.capacity_per_day - used.get(w.pk, 0)
        for w in warehouses
    }


@dataclass
class SnapshotCache:
    """What stays the same for every order of a batch routed in one transaction: the warehouses each
    rule set may use, with their ranks, the lanes to each country, and the rule set in force per
    channel and service level. ``day_loads``: the orders the
    batch has counted against each warehouse today and not written yet."""

    warehouses: dict[int | None, tuple[list[Warehouse], dict[int, int | None]]] = field(default_factory=dict)
    lanes: dict[tuple[int | None, str], list[LaneTransit]] = field(default_factory=dict)
    rule_sets: dict[tuple[int, str], RuleSet | None] = field(default_factory=dict)
    day_loads: Counter[int] = field(default_factory=Counter)


def _warehouses_of(rule_set: RuleSet | None) -> tuple[list[Warehouse], dict[int, int | None]]:
    if rule_set is None:
        return list(Warehouse.objects.filter(is_active=True)), {}
    ranks = dict(rule_set.warehouses.values_list("warehouse_id", "rank"))
    return list(Warehouse.objects.filter(pk__in=ranks, is_active=True)), ranks


def snapshot(
    order: Order,
    rule_set: RuleSet | None,
    now: datetime,
    *,
    whole: bool = False,
    exclude: frozenset[int] = frozenset(),
    cache: SnapshotCache | None = None,
    lines: list[engine.LineNeed] | None = None,
    stock_available: Callable[[int, int], int | None] | None = None,
) -> tuple[list[engine.LineNeed], engine.Destination, list[engine.Candidate]]:
    """What the engine needs to know, read once: lines, destination, candidate warehouses with stock.

    ``whole`` (dry runs): the whole order as if it arrived now, its own reservations counted as free.
    ``exclude``: warehouses not to ask this time (one that just found the goods missing).
    ``cache``: shared by the orders of one batch (see ``SnapshotCache``); such a batch also passes
    the order's open ``lines`` and ``stock_available`` (warehouse id, product id -> units, None
    without a position), the stock it holds locked and reserves from in memory.
    """
    if lines is None:
        lines = _open_lines(order, whole=whole)
    address = order.shipping_address
    destination = engine.Destination(
        address.country,
        float(address.latitude) if address.latitude is not None else None,
        float(address.longitude) if address.longitude is not None else None,
    )
    rule_set_id = rule_set.pk if rule_set is not None else None
    if cache is None:
        warehouses, ranks = _warehouses_of(rule_set)
    else:
        if rule_set_id not in cache.warehouses:
            cache.warehouses[rule_set_id] = _warehouses_of(rule_set)
        warehouses, ranks = cache.warehouses[rule_set_id]
    warehouses = [w for w in warehouses if w.pk not in exclude]
    products = {line.product_id for line in lines}
    available: dict[int, dict[int, int]] = {w.pk: {} for w in warehouses}
    if stock_available is not None:
        for warehouse in warehouses:
            for product_id in products:
                units = stock_available(warehouse.pk, product_id)
                if units is not None:
                    available[warehouse.pk][product_id] = units
    else:
        rows = StockPosition.objects.filter(warehouse__in=warehouses, product_id__in=products).values_list(
            "warehouse_id", "product_id", "on_hand", "allocated", "safety_stock"
        )
        for warehouse_id, product_id, on_hand, allocated, safety in rows:
            available[warehouse_id][product_id] = max(on_hand - allocated - safety, 0)
    if whole:
        for held in inventory_selectors.active_allocations(order.pk):
            by_product = available.get(held["warehouse_id"])
            if by_product is not None:
                product = next(ln.product_id for ln in lines if ln.line_id == held["line_id"])
                by_product[product] = by_product.get(product, 0) + held["quantity"]
    if cache is None:
        country_lanes = list(
            LaneTransit.objects.filter(warehouse__in=warehouses, country=destination.country)
        )
    else:
        key = (rule_set_id, destination.country)
        if key not in cache.lanes:
            # every lane of the rule set's warehouses; those excluded now are skipped below
            cache.lanes[key] = list(
                LaneTransit.objects.filter(
                    warehouse__in=cache.warehouses[rule_set_id][0], country=destination.country
                )
            )
        included = {w.pk for w in warehouses}
        country_lanes = [lane for lane in cache.lanes[key] if lane.warehouse_id in included]
    lanes = {}
    for lane in country_lanes:
        if address.postal_code.replace(" ", "").startswith(lane.postal_prefix.replace(" ", "")):
            best = lanes.get(lane.warehouse_id)
            if best is None or len(lane.postal_prefix) > len(best.postal_prefix):
                lanes[lane.warehouse_id] = lane
    capacity = _capacity_left(warehouses, now, cache.day_loads if cache is not None else None)
    # Quotes only when the rules weigh cost, and only from warehouses that hold something wanted.
    costs = (
        _shipping_costs(order, [w for w in warehouses if any(available[w.pk].values())], lines)
        if rule_set is not None and rule_set.weight_cost > 0
        else {}
    )
    candidates = [
        engine.Candidate(
            warehouse_id=w.pk,
            code=w.code,
            country=w.country,
            latitude=float(w.latitude),
            longitude=float(w.longitude),
            available=available[w.pk],
            kind=w.kind,
            rank=ranks.get(w.pk),
            capacity_left=capacity[w.pk],
            past_cutoff=_past_cutoff(w, now),
            transit_days=float(lanes[w.pk].transit_days) if w.pk in lanes else None,
            shipping_cost=costs[w.pk][0] if w.pk in costs else None,
            shipping_currency=costs[w.pk][1] if w.pk in costs else "",
        )
        for w in sorted(warehouses, key=lambda w: w.pk)
    ]
    return lines, destination, candidates
