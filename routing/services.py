"""Routing writes: publishing rule sets, and routing an order (snapshot -> engine -> reservation ->
decision with its trace) in one transaction."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from inventory import selectors as inventory_selectors
from inventory import services as stock
from inventory.models import StockPosition, Warehouse, WarehouseDayLoad
from oms.errors import Conflict, ValidationFailed
from oms.events import event_emit
from orders import services as order_services
from orders.models import HoldReason, Order, OrderLine, OrderStatus, Product, ServiceLevel
from routing import engine
from routing.models import (
    DecisionOutcome,
    LaneTransit,
    RoutingDecision,
    RuleSet,
    RuleSetChange,
    RuleSetStatus,
    WhenUnroutable,
)

# In fulfilment, an order is routed again only for units a warehouse found short (its status stays).
ROUTABLE = frozenset(
    {
        OrderStatus.RECEIVED,
        OrderStatus.BACKORDERED,
        OrderStatus.PARTIALLY_ALLOCATED,
        OrderStatus.IN_FULFILLMENT,
        OrderStatus.PARTIALLY_SHIPPED,
    }
)
MAX_ATTEMPTS = 3
ACTOR = "routing"


# ------------------------------------------------------------------------------------------ rule sets


@transaction.atomic
def rule_set_publish(*, rule_set_id: int, user: AbstractBaseUser | None) -> RuleSet:
    """Put a draft in force for its scope; the rule set it replaces is retired, not deleted."""
    rule_set = RuleSet.objects.select_for_update().filter(pk=rule_set_id).first()
    if rule_set is None:
        raise ValidationFailed("No such rule set.", details={"rule_set": [str(rule_set_id)]})
    if rule_set.status != RuleSetStatus.DRAFT:
        raise Conflict(f"{rule_set} is not a draft.", code="not_a_draft")
    if not rule_set.warehouses.exists():
        raise ValidationFailed(
            "A rule set needs at least one warehouse.", details={"warehouses": ["Add one."]}
        )
    RuleSet.objects.select_for_update().filter(
        channel=rule_set.channel, service_level=rule_set.service_level, status=RuleSetStatus.PUBLISHED
    ).update(status=RuleSetStatus.RETIRED)
    rule_set.status = RuleSetStatus.PUBLISHED
    rule_set.published_at = timezone.now()
    rule_set.published_by = user if user is not None and user.pk else None
    rule_set.save(update_fields=["status", "published_at", "published_by"])
    _record(rule_set, user, "published")
    return rule_set


@transaction.atomic
def rule_set_draft_from(*, rule_set_id: int, user: AbstractBaseUser | None) -> RuleSet:
    """A new draft version that starts as a copy of a rule set (published ones are never edited)."""
    source = RuleSet.objects.get(pk=rule_set_id)
    warehouses = list(source.warehouses.all())
    latest = (
        RuleSet.objects.filter(name=source.name)
        .order_by("-version")
        .values_list("version", flat=True)
        .first()
    )
    draft = RuleSet.objects.get(pk=source.pk)
    draft.pk = None
    draft.status = RuleSetStatus.DRAFT
    draft.version = (latest or 0) + 1
    draft.based_on = source
    draft.published_at = draft.published_by = None
    draft.created_by = user if user is not None and user.pk else None
    draft.save()
    for item in warehouses:
        item.pk = None
        item.rule_set = draft
    draft.warehouses.model.objects.bulk_create(warehouses)
    _record(draft, user, "drafted", {"based_on": [None, f"{source.name} v{source.version}"]})
    return draft


def _user(user: AbstractBaseUser | None):
    return user if user is not None and user.pk else None


def _record(rule_set: RuleSet, user: AbstractBaseUser | None, what: str, changes: dict | None = None) -> None:
    RuleSetChange.objects.create(rule_set=rule_set, changed_by=_user(user), what=what, changes=changes or {})


def rule_set_warehouses(rule_set: RuleSet) -> list[str]:
    """The allowed warehouses as the history shows them: code, and rank where one is set."""
    return [
        f"{item.warehouse.code}" + (f" #{item.rank}" if item.rank is not None else "")
        for item in rule_set.warehouses.select_related("warehouse").order_by("warehouse__code")
    ]


@transaction.atomic
def rule_set_record_edit(
    *, rule_set_id: int, user: AbstractBaseUser | None, changes: dict[str, list], created: bool = False
) -> None:
    """Write down an admin's edit of a draft (field -> [before, after]); published and retired rule
    sets are history and never edited."""
    rule_set = RuleSet.objects.select_for_update().get(pk=rule_set_id)
    if rule_set.status != RuleSetStatus.DRAFT:
        raise Conflict(f"{rule_set} is not a draft: draft a new version to change it.", code="not_a_draft")
    if created or changes:
        _record(rule_set, user, "created" if created else "edited", changes)


def rule_set_in_force(*, channel_id: int, service_level: str) -> RuleSet | None:
    """The published rule set for a channel and service level, the most specific one first."""
    candidates = (
        RuleSet.objects.filter(status=RuleSetStatus.PUBLISHED)
        .filter(Q(channel_id=channel_id) | Q(channel__isnull=True))
        .filter(Q(service_level=service_level) | Q(service_level=""))
    )
    return min(candidates, key=lambda r: (r.channel_id is None, r.service_level == ""), default=None)


def rules_of(rule_set: RuleSet | None) -> engine.Rules:
    if rule_set is None:
        return engine.Rules()
    return engine.Rules(
        max_shipments=rule_set.max_shipments,
        minimize_shipments=rule_set.minimize_shipments,
        keep_within_country=rule_set.keep_within_country,
        exclude_stores=rule_set.exclude_stores,
        respect_cutoff=rule_set.respect_cutoff,
        respect_capacity=rule_set.respect_capacity,
        weights=engine.Weights(
            distance=rule_set.weight_distance,
            cost=rule_set.weight_cost,
            split=rule_set.weight_split,
            rank=rule_set.weight_rank,
            balance=rule_set.weight_balance,
        ),
    )


# ------------------------------------------------------------------------------------------- snapshot


# Carrier quotes for the engine's cost weight: functions (warehouse, order, weight in grams) -> price
# or None. The shipments app registers one (it depends on routing, so routing cannot import it).
SHIPPING_QUOTERS: list[Callable[[Warehouse, Order, int], float | None]] = []
UNIT_WEIGHT_GRAMS = 500  # assumed for products without a weight


def _shipping_costs(
    order: Order, warehouses: list[Warehouse], lines: list[engine.LineNeed]
) -> dict[int, float]:
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


def _capacity_left(warehouses: list[Warehouse], now: datetime) -> dict[int, int | None]:
    """Orders each warehouse can still take today: its daily capacity less today's count."""
    if all(w.capacity_per_day is None for w in warehouses):
        return {w.pk: None for w in warehouses}
    used = dict(
        WarehouseDayLoad.objects.filter(day=timezone.localdate(now), warehouse__in=warehouses).values_list(
            "warehouse_id", "orders"
        )
    )
    return {
        w.pk: None if w.capacity_per_day is None else w.capacity_per_day - used.get(w.pk, 0)
        for w in warehouses
    }


def snapshot(
    order: Order,
    rule_set: RuleSet | None,
    now: datetime,
    *,
    whole: bool = False,
    exclude: frozenset[int] = frozenset(),
) -> tuple[list[engine.LineNeed], engine.Destination, list[engine.Candidate]]:
    """What the engine needs to know, read once: lines, destination, candidate warehouses with stock.

    ``whole`` (dry runs): the whole order as if it arrived now, its own reservations counted as free.
    ``exclude``: warehouses not to ask this time (one that just found the goods missing).
    """
    lines = _open_lines(order, whole=whole)
    address = order.shipping_address
    destination = engine.Destination(
        address.country,
        float(address.latitude) if address.latitude is not None else None,
        float(address.longitude) if address.longitude is not None else None,
    )
    ranks: dict[int, int | None] = {}
    if rule_set is not None:
        ranks = dict(rule_set.warehouses.values_list("warehouse_id", "rank"))
        warehouses = list(Warehouse.objects.filter(pk__in=ranks, is_active=True))
    else:
        warehouses = list(Warehouse.objects.filter(is_active=True))
    warehouses = [w for w in warehouses if w.pk not in exclude]
    products = {line.product_id for line in lines}
    available: dict[int, dict[int, int]] = {w.pk: {} for w in warehouses}
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
    lanes = {}
    for lane in LaneTransit.objects.filter(warehouse__in=warehouses, country=destination.country):
        if address.postal_code.replace(" ", "").startswith(lane.postal_prefix.replace(" ", "")):
            best = lanes.get(lane.warehouse_id)
            if best is None or len(lane.postal_prefix) > len(best.postal_prefix):
                lanes[lane.warehouse_id] = lane
    capacity = _capacity_left(warehouses, now)
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
            shipping_cost=costs.get(w.pk),
        )
        for w in sorted(warehouses, key=lambda w: w.pk)
    ]
    return lines, destination, candidates


# ------------------------------------------------------------------------------------------- routing

# Without a lane table entry, a parcel is assumed to need a day to leave plus a day per 500 km.
KM_PER_TRANSIT_DAY = 500


def _estimated_days(candidate: engine.Candidate, distance_km: float | None) -> float:
    if candidate.transit_days is not None:
        days = candidate.transit_days
    else:
        days = 1 + (distance_km or 0) / KM_PER_TRANSIT_DAY
    return days + (1 if candidate.past_cutoff else 0)


def _alerts(
    order: Order, plan: engine.Plan | None, candidates: dict[int, engine.Candidate], now: datetime
) -> list[dict]:
    """What ops should hear about this decision (each also goes out as a ``routing.<code>`` event)."""
    alerts = []
    if plan is None:
        return alerts
    if plan.backordered:
        reasons = {t.reason for t in plan.candidates if not t.accepted}
        if not any(t.accepted for t in plan.candidates) and reasons == {"no stock of what the order needs"}:
            alerts.append(
                {"code": "insufficient_stock", "message": "No warehouse in the network has the stock."}
            )
        else:
            alerts.append(
                {
                    "code": "insufficient_stock",
                    "message": "Not enough stock in the allowed warehouses for every unit.",
                }
            )
    if any(t.reason == "no capacity left today" for t in plan.candidates):
        full = sorted(t.code for t in plan.candidates if t.reason == "no capacity left today")
        alerts.append(
            {"code": "capacity_exhausted", "message": f"No capacity left today at {', '.join(full)}."}
        )
    if order.requested_delivery_end and plan.warehouses:
        distances = {t.warehouse_id: t.distance_km for t in plan.candidates}
        days = max(_estimated_days(candidates[w], distances.get(w)) for w in plan.warehouses)
        if now + timedelta(days=days) > order.requested_delivery_end:
            alerts.append(
                {
                    "code": "sla_at_risk",
                    "message": (
                        f"About {days:.1f} days to deliver: the requested window ends "
                        f"{timezone.localtime(order.requested_delivery_end):%d %b %H:%M}."
                    ),
                }
            )
    return alerts


def _trace_json(plan: engine.Plan) -> list[dict]:
    return [
        {
            "warehouse": t.code,
            "accepted": t.accepted,
            "reason": t.reason,
            "distance_km": t.distance_km,
            "transit_days": t.transit_days,
            "cost": t.cost,
            "chosen": t.warehouse_id in plan.warehouses,
        }
        for t in plan.candidates
    ]


def _left_out(warehouse_ids: frozenset[int]) -> list[dict]:
    """Warehouses not asked this time, in the trace so that ops see why."""
    return [
        {
            "warehouse": code,
            "accepted": False,
            "reason": "left out this time: it could not ship these units",
            "distance_km": None,
            "transit_days": None,
            "cost": None,
            "chosen": False,
        }
        for code in Warehouse.objects.filter(pk__in=warehouse_ids)
        .order_by("code")
        .values_list("code", flat=True)
    ]


@transaction.atomic
def route_order(
    *, order_id: int, now: datetime | None = None, exclude_warehouse_ids: frozenset[int] = frozenset()
) -> RoutingDecision | None:
    """Plan the order's open lines, reserve the plan, move the order on and record why.

    The plan is made on a snapshot read before the stock rows are locked; if another order took the
    stock meanwhile, the reservation comes back short and the order is planned again from a fresh
    snapshot, up to ``MAX_ATTEMPTS`` times. Returns None for an order that is not waiting to be routed.
    ``exclude_warehouse_ids``: not asked this time (a warehouse that has just found units missing).
    """
    now = now or timezone.now()
    order = order_services.order_lock(order_id)
    if order.status not in ROUTABLE:
        return None
    rule_set = rule_set_in_force(channel_id=order.channel_id, service_level=order.service_level)
    if order.service_level == ServiceLevel.PICKUP:
        return _route_pickup(order, rule_set, now)
    rules = rules_of(rule_set)
    started = time.perf_counter()
    attempts = 0
    plan = None
    candidates_by_id: dict[int, engine.Candidate] = {}
    while attempts < MAX_ATTEMPTS:
        attempts += 1
        lines, destination, candidates = snapshot(order, rule_set, now, exclude=exclude_warehouse_ids)
        candidates_by_id = {c.warehouse_id: c for c in candidates}
        if not lines:
            break
        plan = engine.plan_order(lines=lines, destination=destination, candidates=candidates, rules=rules)
        if not plan.picks:
            break
        outcome = stock.stock_allocate(
            order_id=order.pk,
            actor=ACTOR,
            locked=order,
            plan=[
                stock.PlannedPick(order_line_id=p.line_id, warehouse_id=p.warehouse_id, quantity=p.quantity)
                for p in plan.picks
            ],
        )
        order.status = outcome.status  # stock_allocate moved the order it had locked
        planned = sum(p.quantity for p in plan.picks)
        if sum(outcome.allocated.values()) == planned:
            break  # the plan held
    # keyed by the line number ops see on the order page (read only when something waits)
    numbers = (
        dict(OrderLine.objects.filter(order=order).values_list("pk", "line_number"))
        if plan is not None and plan.backordered
        else {}
    )
    backordered = {
        str(numbers[line_id]): units for line_id, units in (plan.backordered if plan else {}).items()
    }
    if order.status == OrderStatus.RECEIVED:
        # nothing could be reserved at all
        if rule_set is not None and rule_set.when_unroutable == WhenUnroutable.HOLD:
            order_services.order_hold(
                order_id=order.pk,
                reason=HoldReason.UNROUTABLE,
                actor=order_services.Actor.system(ACTOR),
                note="No warehouse can serve this order under the routing rules.",
            )
            outcome_name = DecisionOutcome.HELD
        else:
            order_services.order_transition(
                order_id=order.pk,
                to_status=OrderStatus.BACKORDERED,
                actor=order_services.Actor.system(ACTOR),
                locked=order,
            )
            outcome_name = DecisionOutcome.BACKORDERED
    elif order.status in (OrderStatus.IN_FULFILLMENT, OrderStatus.PARTIALLY_SHIPPED):
        outcome_name = (
            DecisionOutcome.PARTIAL if plan is not None and plan.backordered else DecisionOutcome.ALLOCATED
        )
    else:
        outcome_name = {
            OrderStatus.ALLOCATED: DecisionOutcome.ALLOCATED,
            OrderStatus.PARTIALLY_ALLOCATED: DecisionOutcome.PARTIAL,
        }.get(order.status, DecisionOutcome.BACKORDERED)
    alerts = _alerts(order, plan, candidates_by_id, now)
    for alert in alerts:
        event_emit(
            name=f"routing.{alert['code']}",
            aggregate_type="order",
            aggregate_id=order.pk,
            payload={"order_id": order.pk, **alert},
        )
    return RoutingDecision.objects.create(
        order=order,
        alerts=alerts,
        rule_set=rule_set,
        outcome=outcome_name,
        attempts=attempts,
        plan=inventory_selectors.active_allocations(order.pk),
        backordered=backordered,
        trace=(_trace_json(plan) if plan else []) + _left_out(exclude_warehouse_ids),
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
    )


def _route_pickup(order: Order, rule_set: RuleSet | None, now: datetime) -> RoutingDecision:
    """Pick-up in store: the store's own stock first; what it lacks comes from the best warehouse
    (planned as a parcel to the store), and the promised hand-over date follows the slowest part."""
    started = time.perf_counter()
    store = Warehouse.objects.filter(code__iexact=order.pickup_location, is_active=True).first()
    system = order_services.Actor.system(ACTOR)
    if store is None:
        order_services.order_hold(
            order_id=order.pk,
            reason=HoldReason.UNROUTABLE,
            actor=system,
            note=f"Unknown pick-up store '{order.pickup_location}'.",
        )
        return RoutingDecision.objects.create(
            order=order,
            rule_set=rule_set,
            outcome=DecisionOutcome.HELD,
            duration_ms=0.0,
            alerts=[{"code": "unknown_store", "message": f"No active store '{order.pickup_location}'."}],
        )
    rules = rules_of(rule_set)
    lines, _, candidates = snapshot(order, None, now)
    at_store = engine.Destination(store.country, float(store.latitude), float(store.longitude))
    trace: list[dict] = []
    promised = None
    store_candidates = [c for c in candidates if c.warehouse_id == store.pk]
    own = engine.plan_order(
        lines=lines,
        destination=at_store,
        candidates=store_candidates,
        rules=engine.Rules(max_shipments=1, respect_capacity=False),
    )
    trace += _trace_json(own)
    if own.picks:
        stock.stock_allocate(
            order_id=order.pk,
            actor=ACTOR,
            locked=order,
            plan=[
                stock.PlannedPick(order_line_id=p.line_id, warehouse_id=p.warehouse_id, quantity=p.quantity)
                for p in own.picks
            ],
        )
        days = 1 if _past_cutoff(store, now) else 0
        promised = now + timedelta(days=days)
    rest = _open_lines(order)
    backordered: dict[int, int] = {}
    if rest:
        others = [c for c in candidates if c.warehouse_id != store.pk]
        supply = engine.plan_order(
            lines=rest,
            destination=at_store,
            candidates=others,
            rules=engine.Rules(
                max_shipments=rules.max_shipments,
                minimize_shipments=rules.minimize_shipments,
                respect_cutoff=rules.respect_cutoff,
                respect_capacity=rules.respect_capacity,
                keep_within_country=True,
                weights=rules.weights,
            ),
        )
        trace += [dict(t, transfer_to_store=True) for t in _trace_json(supply)]
        backordered = supply.backordered
        if supply.picks:
            stock.stock_allocate(
                order_id=order.pk,
                actor=ACTOR,
                locked=order,
                plan=[
                    stock.PlannedPick(
                        order_line_id=p.line_id, warehouse_id=p.warehouse_id, quantity=p.quantity
                    )
                    for p in supply.picks
                ],
            )
            by_id = {c.warehouse_id: c for c in others}
            distances = {t.warehouse_id: t.distance_km for t in supply.candidates}
            # the parcel travels to the store, then the store needs a day to shelve it
            days = max(_estimated_days(by_id[w], distances.get(w)) for w in supply.warehouses) + 1
            promised = max(promised or now, now + timedelta(days=days))
    order.refresh_from_db(fields=["status", "hold_reason"])
    if order.status == OrderStatus.RECEIVED:
        order_services.order_transition(
            order_id=order.pk, to_status=OrderStatus.BACKORDERED, actor=system, locked=order
        )
        order.status = OrderStatus.BACKORDERED
    numbers = dict(OrderLine.objects.filter(order=order).values_list("pk", "line_number"))
    outcome = {
        OrderStatus.ALLOCATED: DecisionOutcome.ALLOCATED,
        OrderStatus.PARTIALLY_ALLOCATED: DecisionOutcome.PARTIAL,
    }.get(order.status, DecisionOutcome.BACKORDERED)
    return RoutingDecision.objects.create(
        order=order,
        rule_set=rule_set,
        outcome=outcome,
        plan=inventory_selectors.active_allocations(order.pk),
        backordered={str(numbers[k]): v for k, v in backordered.items()},
        trace=trace,
        promised_date=promised if outcome == DecisionOutcome.ALLOCATED else None,
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
    )


def backorders_route(*, product_id: int) -> list[RoutingDecision]:
    """Offer arriving stock to the orders waiting for the product, oldest placed first, each routed
    under its rules in its own transaction; stop at the first order that gets nothing more."""
    decisions = []
    for order_id in inventory_selectors.orders_waiting_for(product_id):
        before = sum(a["quantity"] for a in inventory_selectors.active_allocations(order_id))
        decision = route_order(order_id=order_id)
        if decision is None:
            continue
        decisions.append(decision)
        if sum(p["quantity"] for p in decision.plan) == before:
            break
    return decisions


def routing_enabled() -> bool:
    return getattr(settings, "ROUTING_ON_RECEIPT", True)


def order_reroute(*, order_id: int, actor: order_services.Actor) -> RoutingDecision | None:
    """Ops' one-click re-route from the exceptions queue: an order held as unroutable is released
    first (the release is recorded as theirs), then routed with today's stock and rules."""
    with transaction.atomic():
        order = order_services.order_lock(order_id)
        if order.status == OrderStatus.ON_HOLD:
            if order.hold_reason != HoldReason.UNROUTABLE:
                raise Conflict(
                    f"Order {order.number} is held for another reason: release it on its page.",
                    code="held_for_another_reason",
                )
            order_services.order_release_hold(order_id=order.pk, actor=actor, note="re-route")
        return route_order(order_id=order.pk)


# ------------------------------------------------------------------------------------------- dry run


@dataclass
class PlanSummary:
    orders: int = 0
    split: int = 0
    unroutable: int = 0
    partial: int = 0
    distance_km: float = 0.0
    score: float = 0.0

    def add(self, plan: engine.Plan) -> None:
        self.orders += 1
        self.split += plan.shipments > 1
        self.unroutable += plan.status == "unroutable"
        self.partial += plan.status == "partial"
        self.distance_km += sum(
            t.distance_km or 0 for t in plan.candidates if t.warehouse_id in plan.warehouses
        )
        self.score += plan.score

    @property
    def split_rate(self) -> float:
        return self.split / self.orders if self.orders else 0.0

    @property
    def average_distance_km(self) -> float:
        return self.distance_km / self.orders if self.orders else 0.0

    @property
    def average_score(self) -> float:
        return self.score / self.orders if self.orders else 0.0


@dataclass
class DryRunReport:
    draft: RuleSet
    days: int
    published: PlanSummary = field(default_factory=PlanSummary)
    proposed: PlanSummary = field(default_factory=PlanSummary)
    changed: list[dict] = field(default_factory=list)  # orders whose warehouses would change


def rule_set_dry_run(
    *, rule_set_id: int, days: int = 7, now: datetime | None = None, limit: int = 2000
) -> DryRunReport:
    """Replay the last ``days`` of orders in a rule set's scope with it and with the rule set in force,
    on today's stock, and compare. Reads only: nothing is reserved, decided or changed."""
    now = now or timezone.now()
    draft = RuleSet.objects.select_related("channel").get(pk=rule_set_id)
    orders = (
        Order.objects.filter(placed_at__gte=now - timedelta(days=days))
        .exclude(status=OrderStatus.CANCELLED)
        .select_related("shipping_address")
        .order_by("-placed_at")
    )
    if draft.channel_id:
        orders = orders.filter(channel_id=draft.channel_id)
    if draft.service_level:
        orders = orders.filter(service_level=draft.service_level)
    report = DryRunReport(draft=draft, days=days)
    proposed_rules = rules_of(draft)
    for order in orders[:limit]:
        in_force = rule_set_in_force(channel_id=order.channel_id, service_level=order.service_level)
        lines, destination, candidates = snapshot(order, in_force, now, whole=True)
        if not lines:
            continue
        current = engine.plan_order(
            lines=lines, destination=destination, candidates=candidates, rules=rules_of(in_force)
        )
        lines, destination, candidates = snapshot(order, draft, now, whole=True)
        proposed = engine.plan_order(
            lines=lines, destination=destination, candidates=candidates, rules=proposed_rules
        )
        report.published.add(current)
        report.proposed.add(proposed)
        codes = {t.warehouse_id: t.code for t in current.candidates + proposed.candidates}
        before = sorted(codes[w] for w in current.warehouses)
        after = sorted(codes[w] for w in proposed.warehouses)
        if before != after:
            report.changed.append(
                {"order_id": order.pk, "number": order.number, "before": before, "after": after}
            )
    return report
