"""Routing an order: snapshot -> engine -> reservation of the plan -> decision with its trace, in
one transaction, re-planned when stock moved meanwhile."""

import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from inventory import selectors as inventory_selectors
from inventory import services as stock
from inventory.models import Warehouse
from oms.errors import Conflict
from oms.events import event_emit, events_emit
from oms.sql import insert_rows
from orders import services as order_services
from orders.models import Address, HoldReason, Order, OrderLine, OrderStatus, ServiceLevel
from routing import engine
from routing.models import (
    DecisionOutcome,
    RoutingDecision,
    RuleSet,
    WhenUnroutable,
)
from routing.services.rule_sets import rule_set_in_force, rules_of
from routing.services.snapshot import SnapshotCache, _open_lines, _past_cutoff, snapshot

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


def _trace_json(
    plan: engine.Plan, candidates: dict[int, engine.Candidate], *, estimated_destination: bool = False
) -> list[dict]:
    """Every candidate's verdict, with what it was judged on: its distance (``distance_basis`` says when
    the address's position is its city's centre), transit days from the lane table or, without one,
    estimated from the distance, the carrier's quote in its currency, and the engine's score."""
    trace = []
    for t in plan.candidates:
        candidate = candidates.get(t.warehouse_id)
        quote = candidate.shipping_cost if candidate else None
        trace.append(
            {
                "warehouse": t.code,
                "accepted": t.accepted,
                "reason": t.reason,
                "distance_km": t.distance_km,
                "distance_basis": "city centre"
                if estimated_destination and t.distance_km is not None
                else "",
                "transit_days": t.transit_days,
                "transit_days_estimated": None
                if t.transit_days is not None or t.distance_km is None
                else round(1 + t.distance_km / KM_PER_TRANSIT_DAY, 1),
                "quote": None if quote is None else round(quote, 2),
                "quote_currency": candidate.shipping_currency if candidate and quote is not None else "",
                "cost": t.cost,
                "chosen": t.warehouse_id in plan.warehouses,
            }
        )
    return trace


def _estimated(order: Order) -> bool:
    """Whether the order's position is its city's centre, not coordinates the channel sent."""
    return order.shipping_address.coordinates_source == "city"


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
    order = order_services.order_lock(order_id)
    return _route(order, now or timezone.now(), exclude_warehouse_ids, None)


# Orders routed together by one task when a backlog waits (the routing handler's batch).
ROUTING_BATCH = 50


@transaction.atomic
def orders_route(*, order_ids: list[int], now: datetime | None = None) -> list[RoutingDecision]:
    """Route many waiting orders in one transaction, each under its own rules and with its own
    decision and trace, as ``route_order`` would one by one in order of arrival.

    Orders just received (not for pick-up) are planned one after the other against a ``StockBook``:
    the orders, then every active warehouse's stock of what they need, are locked up front in the
    global order (orders, positions, lots by key), so each plan holds as made and two batches queue
    instead of deadlocking; everything the batch reserves, moves and records is then written in a
    few statements. The others (pick-ups, orders coming back) are routed one by one after them,
    under the same locks. The warehouses' day loads are counted in memory and written at the end.
    """
    now = now or timezone.now()
    orders = [o for o in order_services.orders_lock(order_ids) if o.status in ROUTABLE]
    if not orders:
        return []
    together = [
        o for o in orders if o.status == OrderStatus.RECEIVED and o.service_level != ServiceLevel.PICKUP
    ]
    cache = SnapshotCache()
    decisions = _route_together(together, now, cache) if together else []
    rest = [o for o in orders if o not in together]
    if rest:
        stock.stock_lock_for_orders(
            product_ids=OrderLine.objects.filter(order__in=rest).values_list("product_id", flat=True)
        )
    for order in rest:
        decision = _route(order, now, frozenset(), cache)
        if decision is not None:
            decisions.append(decision)
    stock.day_loads_count(counts=cache.day_loads)
    return decisions


def _route_together(orders: list[Order], now: datetime, cache: SnapshotCache) -> list[RoutingDecision]:
    """The received orders of a batch, planned in order against one stock book (see ``orders_route``)."""
    lines_of: dict[int, list[OrderLine]] = {o.pk: [] for o in orders}
    lines = list(
        OrderLine.objects.select_for_update(of=("self",))
        .filter(order__in=orders)
        .select_related("product")
        .order_by("order_id", "line_number")
    )
    for line in lines:
        lines_of[line.order_id].append(line)
    book = stock.StockBook(lines=lines, actor=ACTOR)
    held_before = inventory_selectors.active_allocations_of([o.pk for o in orders])
    addresses = {a.pk: a for a in Address.objects.filter(pk__in={o.shipping_address_id for o in orders})}
    system = order_services.Actor.system(ACTOR)
    moves: list[tuple[Order, str]] = []
    to_hold: list[Order] = []
    decisions: list[RoutingDecision] = []
    alert_events: dict[str, list[tuple[object, dict]]] = {}
    for order in orders:
        started = time.perf_counter()
        order.shipping_address = addresses[order.shipping_address_id]
        rule_set = _rule_set(order, cache)
        rules = rules_of(rule_set)
        before = held_before.get(order.pk, [])
        order_lines = lines_of[order.pk]
        served = {h["warehouse_id"] for h in before}
        reserved_any = False
        plan = None
        candidates_by_id: dict[int, engine.Candidate] = {}
        attempts = 0
        codes: dict[int, str] = {}
        while attempts < MAX_ATTEMPTS:
            attempts += 1
            needs = [
                engine.LineNeed(line.pk, line.product_id, units)
                for line in order_lines
                if (units := line.quantity - line.qty_cancelled - line.qty_allocated) > 0
            ]
            needs_, destination, candidates = snapshot(
                order, rule_set, now, cache=cache, lines=needs, stock_available=book.available
            )
            candidates_by_id = {c.warehouse_id: c for c in candidates}
            codes.update({c.warehouse_id: c.code for c in candidates})
            if not needs_:
                break
            plan = engine.plan_order(
                lines=needs_, destination=destination, candidates=candidates, rules=rules
            )
            if not plan.picks:
                break
            outcome, took_from = book.reserve(
                order=order,
                lines=order_lines,
                plan=[
                    stock.PlannedPick(
                        order_line_id=p.line_id, warehouse_id=p.warehouse_id, quantity=p.quantity
                    )
                    for p in plan.picks
                ],
            )
            reserved_any = True
            cache.day_loads.update(took_from - served)
            served |= took_from
            if sum(outcome.allocated.values()) == sum(p.quantity for p in plan.picks):
                break  # the plan held (it falls short only where lots are too close to expiry)
        numbers = {line.pk: line.line_number for line in order_lines}
        backordered = {
            str(numbers[line_id]): units for line_id, units in (plan.backordered if plan else {}).items()
        }
        if not reserved_any:
            if rule_set is not None and rule_set.when_unroutable == WhenUnroutable.HOLD:
                to_hold.append(order)
                outcome_name = DecisionOutcome.HELD
            else:
                moves.append((order, OrderStatus.BACKORDERED))
                outcome_name = DecisionOutcome.BACKORDERED
        else:
            total_need = sum(max(ln.quantity - ln.qty_cancelled - ln.qty_allocated, 0) for ln in order_lines)
            any_allocated = any(ln.qty_allocated > ln.qty_shipped for ln in order_lines)
            target = (
                OrderStatus.ALLOCATED
                if total_need == 0
                else OrderStatus.PARTIALLY_ALLOCATED
                if any_allocated
                else OrderStatus.BACKORDERED
            )
            moves.append((order, target))
            outcome_name = {
                OrderStatus.ALLOCATED: DecisionOutcome.ALLOCATED,
                OrderStatus.PARTIALLY_ALLOCATED: DecisionOutcome.PARTIAL,
            }.get(target, DecisionOutcome.BACKORDERED)
        alerts = _alerts(order, plan, candidates_by_id, now)
        for alert in alerts:
            alert_events.setdefault(f"routing.{alert['code']}", []).append(
                (order.pk, {"order_id": order.pk, **alert})
            )
        held = _held_after(before, book, order_lines, codes)
        decisions.append(
            RoutingDecision(
                order=order,
                alerts=alerts,
                rule_set=rule_set,
                outcome=outcome_name,
                attempts=attempts,
                plan=held,
                reserved=_reserved(before, held),
                backordered=backordered,
                trace=_trace_json(plan, candidates_by_id, estimated_destination=_estimated(order))
                if plan
                else [],
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
            )
        )
    book.write()
    order_services.orders_transition(moves=moves, actor=system)
    for order in to_hold:
        order_services.order_hold(
            order_id=order.pk,
            reason=HoldReason.UNROUTABLE,
            actor=system,
            note="No warehouse can serve this order under the routing rules.",
        )
    for name, items in alert_events.items():
        events_emit(name=name, aggregate_type="order", items=items)
    return insert_rows(decisions)


def _held_after(
    before: list[dict], book: stock.StockBook, lines: list[OrderLine], codes: dict[int, str]
) -> list[dict]:
    """What the order holds once the book's reservations for it are written, in ``active_allocations``'
    shape and order (by line, then warehouse code)."""
    units = {(h["line_id"], h["warehouse_id"]): h["quantity"] for h in before}
    known = {h["warehouse_id"]: h["warehouse"] for h in before} | codes
    line_ids = {line.pk: line.line_number for line in lines}
    for allocation in book.draft.allocations:
        if allocation.order_line_id in line_ids:
            key = (allocation.order_line_id, allocation.position.warehouse_id)
            units[key] = units.get(key, 0) + allocation.quantity
    return [
        {
            "line_id": line_id,
            "line_number": line_ids[line_id],
            "warehouse_id": warehouse_id,
            "warehouse": known[warehouse_id],
            "quantity": quantity,
        }
        for (line_id, warehouse_id), quantity in sorted(
            units.items(), key=lambda i: (i[0][0], known[i[0][1]])
        )
    ]


def _rule_set(order: Order, cache: SnapshotCache | None) -> RuleSet | None:
    if cache is None:
        return rule_set_in_force(channel_id=order.channel_id, service_level=order.service_level)
    key = (order.channel_id, order.service_level)
    if key not in cache.rule_sets:
        cache.rule_sets[key] = rule_set_in_force(
            channel_id=order.channel_id, service_level=order.service_level
        )
    return cache.rule_sets[key]


def _route(
    order: Order, now: datetime, exclude_warehouse_ids: frozenset[int], cache: SnapshotCache | None
) -> RoutingDecision | None:
    """``route_order`` on an order its caller has locked; ``cache``: shared by a batch."""
    if order.status not in ROUTABLE:
        return None
    held_before = inventory_selectors.active_allocations(order.pk)
    rule_set = _rule_set(order, cache)
    if order.service_level == ServiceLevel.PICKUP:
        return _route_pickup(order, rule_set, now, held_before, cache)
    rules = rules_of(rule_set)
    started = time.perf_counter()
    attempts = 0
    plan = None
    candidates_by_id: dict[int, engine.Candidate] = {}
    while attempts < MAX_ATTEMPTS:
        attempts += 1
        lines, destination, candidates = snapshot(
            order, rule_set, now, exclude=exclude_warehouse_ids, cache=cache
        )
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
            day_loads=cache.day_loads if cache is not None else None,
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
    held = inventory_selectors.active_allocations(order.pk)
    return RoutingDecision.objects.create(
        order=order,
        alerts=alerts,
        rule_set=rule_set,
        outcome=outcome_name,
        attempts=attempts,
        plan=held,
        reserved=_reserved(held_before, held),
        backordered=backordered,
        trace=(_trace_json(plan, candidates_by_id, estimated_destination=_estimated(order)) if plan else [])
        + _left_out(exclude_warehouse_ids),
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
    )


def _reserved(before: list[dict], after: list[dict]) -> list[dict]:
    """What a decision added to what the order holds, per line and warehouse."""
    earlier = {(h["line_id"], h["warehouse_id"]): h["quantity"] for h in before}
    added = []
    for held in after:
        units = held["quantity"] - earlier.get((held["line_id"], held["warehouse_id"]), 0)
        if units > 0:
            added.append(held | {"quantity": units})
    return added


def _route_pickup(
    order: Order,
    rule_set: RuleSet | None,
    now: datetime,
    held_before: list[dict],
    cache: SnapshotCache | None = None,
) -> RoutingDecision:
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
    lines, _, candidates = snapshot(order, None, now, cache=cache)
    day_loads = cache.day_loads if cache is not None else None
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
    trace += _trace_json(own, {c.warehouse_id: c for c in candidates})
    if own.picks:
        stock.stock_allocate(
            order_id=order.pk,
            actor=ACTOR,
            locked=order,
            plan=[
                stock.PlannedPick(order_line_id=p.line_id, warehouse_id=p.warehouse_id, quantity=p.quantity)
                for p in own.picks
            ],
            day_loads=day_loads,
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
        trace += [
            dict(t, transfer_to_store=True)
            for t in _trace_json(supply, {c.warehouse_id: c for c in candidates})
        ]
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
                day_loads=day_loads,
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
    held = inventory_selectors.active_allocations(order.pk)
    return RoutingDecision.objects.create(
        order=order,
        rule_set=rule_set,
        outcome=outcome,
        plan=held,
        reserved=_reserved(held_before, held),
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
