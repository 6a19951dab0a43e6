"""The simulated merchant run through the real OMS: the command runs the greedy baseline and the rule
set on the same orders, each keeps every invariant, its figures are those of the OMS's own tables,
the first day is bounded with HiGHS, the run is saved and the dashboard shows it; the bound is exact
on problems small enough to enumerate."""

import itertools
import json
import random
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from orders.models import Order, OrderEvent, OrderStatus
from shipments.models import Shipment, ShipmentDirection, ShipmentStatus
from simulation import bound, services
from simulation.models import SimulationRun
from simulation.scratch import Scratch
from simulation.world import Demand, Params
from tests.test_browser import browser, log_in, page, shot  # noqa: F401 (fixtures)
from tracking.models import EventSource, TrackingEvent, TrackingState

SMALL = Params(days=2, orders_per_day=5, warehouses=3, seed=5, skus=20)
DRAIN_DAYS = 5  # the sale day triples orders and pickers work through them over two days
# The small configuration: three ordinary days of 200 orders (the sale is left to SMALL, whose
# second day has it), through the rule set, then two days for the parcels on their way.
THREE_DAYS = Params(days=3, orders_per_day=200, warehouses=3, seed=3, skus=200, sale_day=99)


def _stream_size(params: Params) -> int:
    demand = Demand(params)
    return sum(
        len(demand.day(day, (params.start + timedelta(days=day)).weekday())) for day in range(params.days)
    )


def _check_against_the_oms_tables(rules: dict) -> None:
    """Inside the rule set's kept scratch database: the reported figures are its rows."""
    outcome = rules["outcomes"]
    assert outcome["orders"] == rules["tally"]["orders"] == Order.objects.count()
    outbound = Shipment.objects.filter(direction=ShipmentDirection.OUTBOUND).exclude(
        status=ShipmentStatus.CANCELLED
    )
    assert outcome["shipments"] == outbound.count() == rules["tally"]["parcels"]
    assert outcome["shipped_orders"] == outbound.values("order_id").distinct().count()
    # reserved in full on arrival: the order's first move out of "received" was to "allocated"
    filled = OrderEvent.objects.filter(from_status=OrderStatus.RECEIVED, to_status=OrderStatus.ALLOCATED)
    assert rules["tally"]["filled_at_arrival"] == filled.values("order_id").distinct().count() > 0
    states = list(TrackingState.objects.filter(delivered_at__isnull=False, promised_date__isnull=False))
    assert states
    on_time = sum(timezone.localdate(s.delivered_at) <= s.promised_date for s in states) / len(states)
    assert outcome["on_time"] == pytest.approx(on_time)
    # the courier's scans came in through the signed webhook intake, on the simulated clock
    scans = list(TrackingEvent.objects.filter(source=EventSource.WEBHOOK))
    assert len(scans) >= 5 * len(states)
    assert min(e.occurred_at for e in scans).date() >= SMALL.start
    assert not Order.objects.filter(placed_at__date__lt=SMALL.start).exists()
    # a few days after the last order nearly everything ordered has arrived (some sent back since)
    delivered = (
        OrderEvent.objects.filter(to_status=OrderStatus.DELIVERED).values("order_id").distinct().count()
    )
    assert delivered >= 0.8 * outcome["orders"]
    assert (
        Order.objects.filter(
            status__in=[OrderStatus.DELIVERED, OrderStatus.PARTIALLY_RETURNED, OrderStatus.RETURNED]
        ).count()
        == delivered
    )
    assert outcome["cycle_hours"]["all"]["n"] == delivered
    assert outcome["kpis"]["orders"]["value"] == outcome["orders"]
    for key in ("perfect_order", "on_time", "first_attempt", "eta_exact_date", "fill_rate_at_arrival"):
        assert 0 <= outcome[key] <= 1, key


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_simulate_runs_greedy_and_the_rule_set_through_the_oms_and_the_dashboard_shows_the_run(
    page,  # noqa: F811
    ops_user,
    tmp_path,
):
    out = StringIO()
    output = tmp_path / "run.json"
    scratch = Scratch(keep=True)
    try:
        call_command(
            "simulate",
            f"--days={SMALL.days}",
            f"--orders-per-day={SMALL.orders_per_day}",
            f"--warehouses={SMALL.warehouses}",
            f"--seed={SMALL.seed}",
            f"--skus={SMALL.skus}",
            "--strategy=compare",
            f"--drain-days={DRAIN_DAYS}",
            f"--output={output}",
            "--keep",
            stdout=out,
            stderr=StringIO(),
        )
        run = SimulationRun.objects.get()
        greedy, rules = run.results["variants"]["greedy"], run.results["variants"]["rules"]
        with scratch.attach("rules"):
            _check_against_the_oms_tables(rules)
    finally:
        scratch.made = [scratch._name("greedy"), scratch._name("rules")]
        scratch.keep = False
        scratch.cleanup()

    assert json.loads(output.read_text()) == json.loads(json.dumps(run.results, default=str))
    # the same order stream for both, and both keep every invariant: every order delivered or
    # explained, the ledger reconciled, nothing oversold, the outbox empty, every KPI equal to its
    # recomputation from the raw rows
    assert greedy["outcomes"]["orders"] == rules["outcomes"]["orders"] == _stream_size(SMALL)
    for variant in (greedy, rules):
        assert set(variant["invariants"]) == {
            "every_order_terminal_or_explained",
            "ledger_reconciles",
            "no_unit_oversold",
            "outbox_empty",
            "kpis_equal_recomputation",
        }
        assert not any(variant["invariants"].values()), variant["invariants"]
        # each simulated day says how long it took, and the days fit inside the variant's time
        seconds = [day["seconds"] for day in variant["daily"]]
        assert len(seconds) == SMALL.days + DRAIN_DAYS and all(s > 0 for s in seconds)
        assert sum(seconds) <= variant["seconds"] + 0.1
    # the offline bound is at most what either strategy did on the first day
    first = run.results["table"]["first_day"]
    assert first["bound"]["parcels"] <= min(first["greedy"]["parcels"], first["rules"]["parcels"])
    assert (
        first["bound"]["lane_cost"] <= min(first["greedy"]["lane_cost"], first["rules"]["lane_cost"]) + 1e-6
    )
    printed = out.getvalue()
    assert "Extra shipments per order" in printed and f"Saved as run {run.pk}" in printed
    # the merchant's own database holds the saved run and nothing of the simulated orders
    assert Order.objects.count() == 0

    log_in(page)
    page.click("nav.mainnav >> text=Simulation")
    page.wait_for_url("**/dashboard/simulation/")
    page.click(f"text=Run {run.pk}")
    page.wait_for_selector("#outcomes table")
    headers = [h.lower() for h in page.locator("#outcomes thead th").all_inner_texts()]
    assert headers[1:3] == ["greedy", "rules"]
    row = page.locator("#outcomes tbody tr", has_text="On-time delivery").inner_text()
    assert f"{rules['outcomes']['on_time']:.1%}" in row
    assert page.locator("#charts svg").count() >= 10
    assert page.locator("#trends figure", has_text="wall-clock seconds").locator("svg").count() == 2
    assert page.locator("#invariants .badge.ok").count() == 10
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "simulation-run")


@pytest.mark.django_db(transaction=True)
def test_three_days_of_200_orders_through_the_rule_set_keep_every_invariant():
    scratch = Scratch()
    scratch.prepare()
    try:
        with scratch.database("three_days"):
            result = services.variant_run(THREE_DAYS, "rules", drain_days=2)
    finally:
        scratch.cleanup()
    tally, outcome = result["tally"], result["outcomes"]
    assert tally["orders"] == outcome["orders"] == _stream_size(THREE_DAYS) >= 500
    # every order delivered or explained, the ledger reconciled, nothing oversold, the outbox empty,
    # every KPI equal to its recomputation from the raw rows
    assert set(result["invariants"]) == {
        "every_order_terminal_or_explained",
        "ledger_reconciles",
        "no_unit_oversold",
        "outbox_empty",
        "kpis_equal_recomputation",
    }
    assert not any(result["invariants"].values()), result["invariants"]
    # the whole flow ran: the orders were picked, packed and handed over, their parcels tracked to the
    # door, and the first days' orders are home two days after the last order
    assert tally["parcels"] >= outcome["shipped_orders"] >= 0.95 * tally["orders"]
    assert outcome["cycle_hours"]["all"]["n"] >= 0.5 * tally["orders"]
    assert outcome["kpis"]["orders"]["value"] == tally["orders"]
    assert tally["short_picks"] > 0  # a shelf found short was written off and its order routed again


def _brute_force(problem: bound.DayProblem, objective: str) -> float:
    """Every way to send each (order, product) unit from a warehouse holding it, within stock."""
    pairs = [(o, p) for o, lines in sorted(problem.served.items()) for p in sorted(lines)]
    choices = [[w for (w, q) in problem.stock if q == p and problem.stock[(w, q)] > 0] for _, p in pairs]
    best = float("inf")
    for plan in itertools.product(*choices):
        used: dict = {}
        for (_, p), w in zip(pairs, plan, strict=True):
            used[(w, p)] = used.get((w, p), 0) + 1
        if any(n > problem.stock[key] for key, n in used.items()):
            continue
        parcels = {(o, w) for (o, _), w in zip(pairs, plan, strict=True)}
        value = (
            len(parcels)
            if objective == "parcels"
            else sum(problem.lane_cost[(w, problem.city[o])] for o, w in parcels)
        )
        best = min(best, value)
    return best


def test_the_bound_is_the_optimum_on_problems_small_enough_to_enumerate():
    rng = random.Random(11)
    for _ in range(25):
        warehouses, products, cities = [1, 2, 3], [10, 11, 12], [0, 1]
        stock = {(w, p): rng.randint(0, 2) for w in warehouses for p in products}
        served = {}
        for order in range(1, 5):
            wanted = rng.sample(products, rng.randint(1, 2))
            served[order] = {p: 1 for p in wanted}
        held = {p: sum(stock[(w, p)] for w in warehouses) for p in products}
        needed = {p: sum(1 for lines in served.values() if p in lines) for p in products}
        for p in products:  # every unit served on the day was in stock somewhere
            stock[(1, p)] += max(needed[p] - held[p], 0)
        problem = bound.DayProblem(
            served=served,
            city={o: rng.choice(cities) for o in served},
            stock=stock,
            lane_cost={(w, c): round(rng.uniform(4, 9), 2) for w in warehouses for c in cities},
        )
        for objective in ("parcels", "cost"):
            solved = bound.solve(problem, objective)
            assert solved.optimal
            assert solved.value == pytest.approx(_brute_force(problem, objective), abs=1e-6)
