"""The routing engine: a pure function from a snapshot (order lines, candidate warehouses with their
stock and limits, the rule set) to a plan, with the trace that explains it.

No database, no clock, no I/O: the same snapshot always gives the same plan, so the engine can be
tested exhaustively, benchmarked on its own, and replayed on past orders with a draft rule set.

How a plan is chosen:
1. Candidates the rules exclude are rejected with a reason (store excluded, other country, past
   cut-off, no capacity left, none of the stock needed).
2. Plans are sets of warehouses. With ``minimize_shipments`` the smallest set that can serve every
   line wins, then the cheapest among those; otherwise the cheapest set up to ``max_shipments``, a
   split costing ``weights.split`` each.
3. Within a set, each line takes from the set's cheapest warehouse first.
4. When no allowed set serves everything, the plan serves as many units as it can (fewest, then
   cheapest warehouses) and backorders the rest; when nothing can be served at all the order is
   unroutable.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import combinations
from math import asin, cos, radians, sin, sqrt

EARTH_RADIUS_KM = 6371.0
# Sets of two or more warehouses are searched in a pool: the cheapest candidates overall plus the
# cheapest holders of each product needed. On small networks (up to the pool size) the search is
# exhaustive, which the tests check against brute force; on large ones a decision stays within
# milliseconds.
POOL_CHEAPEST = {2: 16, 3: 10}
POOL_PER_PRODUCT = {2: 3, 3: 2}
POOL_LARGER = 8


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    lat1, lon1, lat2, lon2 = map(radians, (lat1, lon1, lat2, lon2))
    a = sin((lat2 - lat1) / 2) ** 2 + cos(lat1) * cos(lat2) * sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * asin(sqrt(a))


@dataclass(frozen=True)
class LineNeed:
    line_id: int
    product_id: int
    quantity: int


@dataclass(frozen=True)
class Destination:
    country: str
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class Candidate:
    warehouse_id: int
    code: str
    country: str
    latitude: float
    longitude: float
    available: Mapping[int, int]  # product id -> units that may be promised
    kind: str = "warehouse"
    rank: int | None = None  # the rule set's ranking, 1 = first choice
    capacity_left: int | None = None  # orders it can still ship today; None = no limit
    past_cutoff: bool = False
    transit_days: float | None = None  # from the lane table, when admins filled it
    shipping_cost: float | None = None  # a carrier quote for this parcel, when known
    shipping_currency: str = ""  # the quote's currency (shown in the trace; the engine weighs the amount)


@dataclass(frozen=True)
class Weights:
    distance: float = 1.0  # per 100 km (or per transit day when the lane table has one)
    cost: float = 0.0  # per unit of money of a carrier quote
    split: float = 5.0  # per shipment beyond the first
    rank: float = 0.0  # per rank step
    balance: float = 0.0  # per share of a warehouse's stock the plan takes


@dataclass(frozen=True)
class Rules:
    max_shipments: int = 3
    minimize_shipments: bool = True
    keep_within_country: bool = False
    exclude_stores: bool = False
    respect_cutoff: bool = False
    respect_capacity: bool = True
    weights: Weights = field(default_factory=Weights)


@dataclass(frozen=True)
class Pick:
    line_id: int
    warehouse_id: int
    quantity: int


@dataclass
class CandidateTrace:
    warehouse_id: int
    code: str
    accepted: bool
    reason: str = ""
    distance_km: float | None = None
    transit_days: float | None = None
    cost: float | None = None


@dataclass
class Plan:
    status: str  # complete, partial or unroutable
    picks: list[Pick]
    backordered: dict[int, int]  # line id -> units no warehouse could serve
    warehouses: list[int]  # the chosen set, cheapest first
    score: float
    candidates: list[CandidateTrace]
    plans_considered: int = 0

    @property
    def shipments(self) -> int:
        return len({p.warehouse_id for p in self.picks})


def _rejection(candidate: Candidate, destination: Destination, rules: Rules, needed: set[int]) -> str:
    if rules.exclude_stores and candidate.kind == "store":
        return "stores do not ship for this channel"
    if rules.keep_within_country and candidate.country != destination.country:
        return f"outside {destination.country}"
    if rules.respect_capacity and candidate.capacity_left is not None and candidate.capacity_left <= 0:
        return "no capacity left today"
    if rules.respect_cutoff and candidate.past_cutoff:
        return "past today's cut-off"
    if not any(candidate.available.get(product, 0) > 0 for product in needed):
        return "no stock of what the order needs"
    return ""


def _shipment_cost(
    candidate: Candidate, destination: Destination, weights: Weights
) -> tuple[float, float | None]:
    distance = None
    if destination.latitude is not None and destination.longitude is not None:
        distance = haversine_km(
            candidate.latitude, candidate.longitude, destination.latitude, destination.longitude
        )
    if candidate.transit_days is not None:
        reach = candidate.transit_days * weights.distance
    elif distance is not None:
        reach = distance / 100 * weights.distance
    else:
        reach = 0.0 if candidate.country == destination.country else 10 * weights.distance
    cost = (
        reach + weights.cost * (candidate.shipping_cost or 0.0) + weights.rank * ((candidate.rank or 1) - 1)
    )
    return cost, distance


def _fill(need: Mapping[int, int], group: list[Candidate]) -> tuple[dict[tuple[int, int], int], int]:
    """Take each product from the group's warehouses in order; returns what each gives and units served."""
    taken: dict[tuple[int, int], int] = {}
    served = 0
    for product, units in need.items():
        left = units
        for candidate in group:
            part = min(left, candidate.available.get(product, 0))
            if part > 0:
                taken[(candidate.warehouse_id, product)] = part
                left -= part
                served += part
            if left == 0:
                break
    return taken, served


def _pool(ordered: list[Candidate], need: Mapping[int, int], size: int) -> list[Candidate]:
    cheapest = POOL_CHEAPEST.get(size, POOL_LARGER)
    if size == 1 or len(ordered) <= cheapest:
        return ordered
    per_product = POOL_PER_PRODUCT.get(size, 1)
    chosen = {c.warehouse_id for c in ordered[:cheapest]}
    for product in need:
        holders = [c for c in ordered if c.available.get(product, 0) > 0][:per_product]
        chosen |= {c.warehouse_id for c in holders}
    return [c for c in ordered if c.warehouse_id in chosen]


def plan_order(
    *, lines: Iterable[LineNeed], destination: Destination, candidates: Iterable[Candidate], rules: Rules
) -> Plan:
    lines = [line for line in lines if line.quantity > 0]
    need: dict[int, int] = {}
    for line in lines:
        need[line.product_id] = need.get(line.product_id, 0) + line.quantity
    total = sum(need.values())
    trace: list[CandidateTrace] = []
    usable: list[tuple[float, Candidate]] = []
    for candidate in candidates:
        cost, distance = _shipment_cost(candidate, destination, rules.weights)
        reason = _rejection(candidate, destination, rules, set(need))
        trace.append(
            CandidateTrace(
                candidate.warehouse_id,
                candidate.code,
                not reason,
                reason,
                None if distance is None else round(distance, 1),
                candidate.transit_days,
                round(cost, 3),
            )
        )
        if not reason:
            usable.append((cost, candidate))
    usable.sort(key=lambda item: (item[0], item[1].rank or 0, item[1].warehouse_id))
    costs = {c.warehouse_id: cost for cost, c in usable}
    ordered = [c for _, c in usable]

    def score(group: list[Candidate], taken: dict[tuple[int, int], int]) -> float:
        used = [c for c in group if any(w == c.warehouse_id for w, _ in taken)]
        value = sum(costs[c.warehouse_id] for c in used) + rules.weights.split * max(len(used) - 1, 0)
        if rules.weights.balance:
            value += rules.weights.balance * sum(
                units / max(next(c for c in group if c.warehouse_id == w).available.get(p, 0), 1)
                for (w, p), units in taken.items()
            )
        return value

    # Compared as (-served, shipments when minimizing them, score): most units first, then - when the
    # rules say so - fewest parcels even if the order cannot be served in full, then the lowest score.
    best: tuple[int, int, float, list[Candidate], dict] | None = None
    considered = 0
    limit = max(1, rules.max_shipments)
    for size in range(1, min(limit, len(ordered)) + 1):
        for group in combinations(_pool(ordered, need, size), size):
            considered += 1
            taken, served = _fill(need, list(group))
            used = {w for w, _ in taken}
            if len(used) < size:
                continue  # a smaller set does the same and was (or will be) counted there
            key = (-served, len(used) if rules.minimize_shipments else 0, score(list(group), taken))
            if best is None or key < best[:3]:
                best = (*key, list(group), taken)
        if rules.minimize_shipments and best is not None and -best[0] == total:
            break
    if best is None:
        return Plan(
            "unroutable", [], {line.line_id: line.quantity for line in lines}, [], 0.0, trace, considered
        )
    _, _, best_score, group, taken = best
    picks: list[Pick] = []
    backordered: dict[int, int] = {}
    remaining = dict(taken)
    for line in lines:
        left = line.quantity
        for candidate in group:
            key = (candidate.warehouse_id, line.product_id)
            part = min(left, remaining.get(key, 0))
            if part > 0:
                picks.append(Pick(line.line_id, candidate.warehouse_id, part))
                remaining[key] -= part
                left -= part
        if left:
            backordered[line.line_id] = left
    status = "complete" if not backordered else "partial"
    chosen = [c.warehouse_id for c in group if any(p.warehouse_id == c.warehouse_id for p in picks)]
    return Plan(status, picks, backordered, chosen, round(best_score, 3), trace, considered)
