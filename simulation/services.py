"""Running the simulation and keeping its results: one variant in the database the OMS is connected
to (an empty one: ``scratch`` makes it), the offline bound for its first day, the side-by-side
outcome table with the published anchors, and the saved run the dashboard shows."""

from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from django.db.models import Sum

from shipments.carriers.sandbox import SERVICES
from shipments.models import PackageLine, Shipment, ShipmentDirection, ShipmentStatus
from simulation import bound, outcomes
from simulation.models import SimulationRun
from simulation.runner import Simulation
from simulation.setup import Variant
from simulation.world import Params, lane_surcharge

VARIANTS = {
    "greedy": Variant("greedy", "greedy"),
    "rules": Variant("rules", "rules"),
    "rules-no-reorder": Variant("rules-no-reorder", "rules", reorder=False),
    "rules-no-notifications": Variant("rules-no-notifications", "rules", notifications=False),
}
STRATEGIES = {
    "all": list(VARIANTS),
    "greedy": ["greedy"],
    "rules": ["rules"],
    "compare": ["greedy", "rules"],
}

# The published results each outcome is set beside (docs/simulation.md cites them).
ANCHORS = {
    "extra_shipments": (
        "Xu, Allgor & Graves (M&SOM 2006): 40 - 50 % fewer by re-evaluating in batches; goal >= 50 %"
    ),
    "cost_gap_closed": "Acimovic & Graves (M&SOM 2015): 36 % of the gap closed; goal >= 40 %",
    "perfect_order": "APQC median 90 %; goal >= 95 %",
    "on_time": "the brief: 98 - 99 %; goal >= 98 %",
    "eta_exact_date": "AfterShip publishes 91 %; goal >= 95 %",
}
BASE_PRICE = float(SERVICES["standard"][0])

# The outcome table's rows: (key, label, format, goal per variant or None, what it is compared with)
OUTCOME_ROWS = [
    ("extra_shipments_per_order", "Extra shipments per order", "{:.3f}", None, "see the comparison below"),
    ("outbound_cost_per_order", "Outbound cost per order (EUR)", "{:.2f}", None, "see the comparison below"),
    ("perfect_order", "Perfect order rate", "{:.1%}", 0.95, ANCHORS["perfect_order"]),
    ("on_time", "On-time delivery", "{:.1%}", 0.98, ANCHORS["on_time"]),
    ("eta_exact_date", "Delivery date right (single date)", "{:.1%}", 0.95, ANCHORS["eta_exact_date"]),
    ("eta_inside_window", "Delivery date inside the window", "{:.1%}", None, "the KPI page's ETA accuracy"),
    ("fill_rate_at_arrival", "Fill rate at arrival", "{:.1%}", None, "with and without reorder rules"),
    ("stockout_share_of_sku_days", "Stock-out SKU-days", "{:.1%}", None, "with and without reorder rules"),
    (
        "wismo_per_100_shipped",
        "WISMO contacts per 100 shipped",
        "{:.1f}",
        None,
        "with and without notifications",
    ),
    ("first_attempt", "First-attempt delivery", "{:.1%}", None, ""),
    ("cost_per_delivery", "Cost per delivery (EUR)", "{:.2f}", None, "labels and handling"),
]


def variant_run(
    params: Params, name: str, *, drain_days: int = 7, progress: Callable[[int, int], None] | None = None
) -> dict:
    """Run one variant in the connected (empty) database and read its outcomes there."""
    simulation = Simulation(params, VARIANTS[name], drain_days=drain_days, progress=progress)
    raw = simulation.run()
    last = params.start + timedelta(days=params.days - 1)
    result = {
        "variant": name,
        "seconds": raw["seconds"],
        "timings": raw["timings"],
        "tally": raw["tally"],
        "daily": raw["daily"],
        "outcomes": outcomes.outcomes(params.start, last, raw["tally"]),
        "invariants": outcomes.invariants(),
        "first_day": _first_day(simulation),
    }
    result["invariants"]["kpis_equal_recomputation"] = [
        code for code, row in result["outcomes"]["kpis"].items() if not row["agrees"]
    ]
    return result


def _first_day(simulation: Simulation) -> dict:
    """The first day's orders as the variant served them, and the bound problem they pose: every
    variant starts that day from the same opening stock."""
    start = simulation.start
    day_orders = {
        order_id: watch.city
        for order_id, watch in simulation.watch.items()
        if start <= watch.placed_at < start + timedelta(days=1)
    }
    served: dict[int, dict[int, int]] = defaultdict(dict)
    for order_id, product_id, units in (
        PackageLine.objects.filter(
            package__shipment__order_id__in=day_orders,
            package__shipment__direction=ShipmentDirection.OUTBOUND,
        )
        .exclude(package__shipment__status=ShipmentStatus.CANCELLED)
        .values_list("package__shipment__order_id", "order_line__product_id")
        .annotate(units=Sum("quantity"))
    ):
        served[order_id][product_id] = served[order_id].get(product_id, 0) + units
    hub_of = simulation.hub_of
    lane_cost = {
        (warehouse_id, city): BASE_PRICE + lane_surcharge(hub, city)
        for warehouse_id, hub in hub_of.items()
        for city in set(day_orders.values())
    }
    parcels = list(
        Shipment.objects.filter(order_id__in=served, direction=ShipmentDirection.OUTBOUND)
        .exclude(status=ShipmentStatus.CANCELLED)
        .values_list("order_id", "warehouse_id")
    )
    problem = bound.DayProblem(
        served=dict(served),
        city={order_id: day_orders[order_id] for order_id in served},
        stock={key: units for key, units in simulation.opening.items() if units > 0},
        lane_cost=lane_cost,
    )
    return {
        "orders": len(served),
        "parcels": len(parcels),
        "lane_cost": round(sum(lane_cost[(w, day_orders[o])] for o, w in parcels), 2),
        "problem": problem,
    }


def bounds_of(first_day: dict) -> dict:
    problem = first_day.pop("problem")
    parcels = bound.solve(problem, "parcels")
    cost = bound.solve(problem, "cost")
    return {
        "parcels": parcels.value,
        "parcels_optimal": parcels.optimal,
        "lane_cost": round(cost.value, 2),
        "lane_cost_optimal": cost.optimal,
    }


def _share(before: float | None, after: float | None) -> float | None:
    if before is None or after is None or not before:
        return None
    return (before - after) / before


def comparison(results: dict[str, dict]) -> dict:
    """The outcome table: each figure of each variant, and the headline comparisons with anchors."""
    table: dict = {"anchors": ANCHORS, "rows": {}}
    greedy, rules = results.get("greedy"), results.get("rules")
    if greedy and rules:
        g, r = greedy["outcomes"], rules["outcomes"]
        table["extra_shipments_fewer"] = _share(
            g["extra_shipments_per_order"], r["extra_shipments_per_order"]
        )
        first_g, first_r = greedy["first_day"], rules["first_day"]
        bound_parcels = rules["bound"]["parcels"]
        bound_cost = rules["bound"]["lane_cost"]
        gap_parcels = first_g["parcels"] - bound_parcels
        gap_cost = first_g["lane_cost"] - bound_cost
        table["first_day"] = {
            "greedy": {"parcels": first_g["parcels"], "lane_cost": first_g["lane_cost"]},
            "rules": {"parcels": first_r["parcels"], "lane_cost": first_r["lane_cost"]},
            "bound": rules["bound"],
            "parcel_gap_closed": (first_g["parcels"] - first_r["parcels"]) / gap_parcels
            if gap_parcels > 0
            else None,
            "cost_gap_closed": (first_g["lane_cost"] - first_r["lane_cost"]) / gap_cost
            if gap_cost > 0
            else None,
        }
    for name, result in results.items():
        o = result["outcomes"]
        table["rows"][name] = {
            "extra_shipments_per_order": o["extra_shipments_per_order"],
            "outbound_cost_per_order": o["outbound_cost_per_order"],
            "perfect_order": o["perfect_order"],
            "on_time": o["on_time"],
            "eta_exact_date": o["eta_exact_date"],
            "eta_inside_window": o["eta_inside_window"],
            "fill_rate_at_arrival": o["fill_rate_at_arrival"],
            "stockout_share_of_sku_days": o["stockout_share_of_sku_days"],
            "wismo_per_100_shipped": o["wismo_per_100_shipped"],
            "first_attempt": o["first_attempt"],
            "cost_per_delivery": o["cost_per_delivery"],
            "cycle_hours": o["cycle_hours"],
            "seconds": result["seconds"],
        }
    return table


def run_save(
    *, params: Params, strategy: str, results: dict[str, dict], table: dict, seconds: float
) -> SimulationRun:
    return SimulationRun.objects.create(
        days=params.days,
        orders_per_day=params.orders_per_day,
        warehouses=params.warehouses,
        seed=params.seed,
        strategy=strategy,
        seconds=Decimal(str(round(seconds, 1))),
        # the database keeps a JSON object's keys in its own order: the variants' order is kept apart
        results={"params": params_dict(params), "order": list(results), "variants": results, "table": table},
    )


def params_dict(params: Params) -> dict:
    return {
        "days": params.days,
        "orders_per_day": params.orders_per_day,
        "warehouses": params.warehouses,
        "seed": params.seed,
        "skus": params.skus,
        "zipf_s": params.zipf_s,
        "sale_day": params.the_sale_day,
        "sale_factor": params.sale_factor,
        "start": params.start.isoformat(),
    }
