"""The pure routing engine: no database, so these run in microseconds and can be exhaustive."""

from itertools import combinations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from routing.engine import Candidate, Destination, LineNeed, Rules, Weights, haversine_km, plan_order

ATHENS = Destination("GR", 37.98, 23.73)


def house(wid, code, lat, lon, stock, country="GR", **extra) -> Candidate:
    return Candidate(wid, code, country, lat, lon, stock, **extra)


ATH = dict(lat=37.98, lon=23.72)  # next to the customer
SKG = dict(lat=40.64, lon=22.94)  # ~300 km
BER = dict(lat=52.52, lon=13.40)  # ~1,800 km


def test_haversine_athens_thessaloniki():
    assert round(haversine_km(37.9838, 23.7275, 40.6401, 22.9444)) == 303


def test_closest_warehouse_wins_when_it_has_stock():
    plan = plan_order(
        lines=[LineNeed(1, 10, 2)],
        destination=ATHENS,
        rules=Rules(),
        candidates=[house(2, "SKG", **SKG, stock={10: 5}), house(1, "ATH", **ATH, stock={10: 5})],
    )
    assert (plan.status, plan.warehouses, plan.picks[0].quantity) == ("complete", [1], 2)


def test_next_best_when_the_closest_lacks_stock():
    plan = plan_order(
        lines=[LineNeed(1, 10, 2)],
        destination=ATHENS,
        rules=Rules(),
        candidates=[
            house(1, "ATH", **ATH, stock={10: 1}),
            house(2, "SKG", **SKG, stock={10: 5}),
            house(3, "BER", **BER, stock={10: 50}),
        ],
    )
    assert plan.warehouses == [2]  # one shipment from Thessaloniki beats a split Athens + Thessaloniki


def test_split_when_no_single_warehouse_has_everything():
    plan = plan_order(
        lines=[LineNeed(1, 10, 1), LineNeed(2, 20, 1)],
        destination=ATHENS,
        rules=Rules(),
        candidates=[
            house(1, "ATH", **ATH, stock={10: 1}),
            house(2, "SKG", **SKG, stock={20: 1}),
            house(3, "BER", **BER, stock={20: 1}),
        ],
    )
    assert plan.status == "complete"
    assert sorted((p.line_id, p.warehouse_id) for p in plan.picks) == [(1, 1), (2, 2)]


def test_max_shipments_leaves_the_rest_backordered():
    plan = plan_order(
        lines=[LineNeed(1, 10, 1), LineNeed(2, 20, 1)],
        destination=ATHENS,
        rules=Rules(max_shipments=1),
        candidates=[house(1, "ATH", **ATH, stock={10: 1}), house(2, "SKG", **SKG, stock={20: 1})],
    )
    assert plan.status == "partial"
    assert plan.shipments == 1 and len(plan.backordered) == 1


def test_ranked_rules_beat_distance_when_weighted():
    candidates = [
        house(1, "ATH", **ATH, stock={10: 5}, rank=2),
        house(2, "SKG", **SKG, stock={10: 5}, rank=1),
    ]
    assert plan_order(
        lines=[LineNeed(1, 10, 1)], destination=ATHENS, candidates=candidates, rules=Rules()
    ).warehouses == [1]
    ranked = Rules(weights=Weights(rank=100))
    assert plan_order(
        lines=[LineNeed(1, 10, 1)], destination=ATHENS, candidates=candidates, rules=ranked
    ).warehouses == [2]


def test_capacity_cutoff_country_and_store_rules_reject_with_reasons():
    candidates = [
        house(1, "ATH", **ATH, stock={10: 5}, capacity_left=0),
        house(2, "ATH-ST", **ATH, stock={10: 5}, kind="store"),
        house(3, "SKG", **SKG, stock={10: 5}, past_cutoff=True),
        house(4, "BER", **BER, stock={10: 5}, country="DE"),
        house(5, "PAT", lat=38.25, lon=21.73, stock={99: 5}),
    ]
    rules = Rules(exclude_stores=True, respect_cutoff=True, keep_within_country=True)
    plan = plan_order(lines=[LineNeed(1, 10, 1)], destination=ATHENS, candidates=candidates, rules=rules)
    assert plan.status == "unroutable"
    assert plan.backordered == {1: 1}
    reasons = {t.code: t.reason for t in plan.candidates}
    assert reasons == {
        "ATH": "no capacity left today",
        "ATH-ST": "stores do not ship for this channel",
        "SKG": "past today's cut-off",
        "BER": "outside GR",
        "PAT": "no stock of what the order needs",
    }


def test_lane_transit_days_override_straight_line_distance():
    candidates = [
        house(1, "ATH", **ATH, stock={10: 5}, transit_days=3),
        house(2, "SKG", **SKG, stock={10: 5}, transit_days=1),
    ]
    plan = plan_order(lines=[LineNeed(1, 10, 1)], destination=ATHENS, candidates=candidates, rules=Rules())
    assert plan.warehouses == [2]


def test_the_same_snapshot_gives_the_same_plan():
    args = dict(
        lines=[LineNeed(1, 10, 3), LineNeed(2, 20, 2)],
        destination=ATHENS,
        rules=Rules(),
        candidates=[house(i, f"W{i}", 37 + i / 10, 23, {10: i % 3, 20: i % 2}) for i in range(1, 9)],
    )
    assert plan_order(**args) == plan_order(**args)


# ------------------------------------------------------------------------------ against brute force


def brute_force(lines, destination, candidates, rules):
    """Every subset of warehouses up to max_shipments: most units served, then fewest shipments
    (when minimizing them), then lowest cost."""
    from routing.engine import _fill, _rejection, _shipment_cost

    need = {}
    for line in lines:
        need[line.product_id] = need.get(line.product_id, 0) + line.quantity
    usable = [c for c in candidates if not _rejection(c, destination, rules, set(need))]
    cost = {c.warehouse_id: _shipment_cost(c, destination, rules.weights)[0] for c in usable}
    best = None
    for size in range(1, min(rules.max_shipments, len(usable)) + 1):
        for group in combinations(usable, size):
            ordered = sorted(group, key=lambda c: (cost[c.warehouse_id], c.rank or 0, c.warehouse_id))
            taken, served = _fill(need, ordered)
            used = {w for w, _ in taken}
            if len(used) < size:
                continue
            value = sum(cost[w] for w in used) + rules.weights.split * (len(used) - 1)
            key = (-served, len(used) if rules.minimize_shipments else 0, round(value, 6))
            best = key if best is None or key < best else best
    return best


stocks = st.dictionaries(st.integers(1, 3), st.integers(0, 4), max_size=3)
candidate_lists = st.lists(st.tuples(st.floats(35, 42), st.floats(19, 28), stocks), min_size=1, max_size=6)
line_lists = st.lists(st.tuples(st.integers(1, 3), st.integers(1, 5)), min_size=1, max_size=4)


@settings(max_examples=300, deadline=None)
# Served in part either way: one parcel from W1 beats two nearer ones when shipments are minimized.
@example(
    raw_candidates=[(35.0, 19.0, {2: 3}), (35.0, 23.0, {2: 2}), (37.0, 22.0, {2: 1})],
    raw_lines=[(1, 1), (2, 3)],
    max_shipments=2,
    minimize=True,
    split=0.0,
)
@given(
    raw_candidates=candidate_lists,
    raw_lines=line_lists,
    max_shipments=st.integers(1, 3),
    minimize=st.booleans(),
    split=st.floats(0, 20),
)
def test_engine_matches_brute_force_on_small_networks(
    raw_candidates, raw_lines, max_shipments, minimize, split
):
    candidates = [
        house(i + 1, f"W{i + 1}", lat, lon, stock) for i, (lat, lon, stock) in enumerate(raw_candidates)
    ]
    lines = [LineNeed(i + 1, product, quantity) for i, (product, quantity) in enumerate(raw_lines)]
    rules = Rules(max_shipments=max_shipments, minimize_shipments=minimize, weights=Weights(split=split))
    plan = plan_order(lines=lines, destination=ATHENS, candidates=candidates, rules=rules)
    expected = brute_force(lines, ATHENS, candidates, rules)
    served = sum(p.quantity for p in plan.picks)
    if expected is None:
        assert plan.status == "unroutable" and served == 0
        return
    assert served == -expected[0]
    if rules.minimize_shipments:
        assert plan.shipments == expected[1]
    assert abs(plan.score - expected[2]) < 1e-3
    # every pick is stock that exists, and nothing is served twice
    for candidate in candidates:
        for product, available in candidate.available.items():
            taken = sum(
                p.quantity
                for p in plan.picks
                if p.warehouse_id == candidate.warehouse_id
                and next(ln for ln in lines if ln.line_id == p.line_id).product_id == product
            )
            assert taken <= available
    for line in lines:
        assert (
            sum(p.quantity for p in plan.picks if p.line_id == line.line_id)
            + plan.backordered.get(line.line_id, 0)
            == line.quantity
        )
