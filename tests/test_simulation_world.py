"""The simulated merchant's order stream: reproducible by seed and day, Zipf-shaped over the
catalogue, weekly and sale-day seasonality, Poisson counts, destinations by population."""

import statistics
from collections import Counter

from simulation.world import CITIES, WEEKDAY_FACTORS, Demand, Params, poisson


def test_the_same_seed_gives_the_same_days_in_any_order_and_another_seed_others():
    demand = Demand(Params(orders_per_day=300, seed=7))
    day_three = demand.day(3, 3)
    for n in range(3):
        demand.day(n, n)
    assert Demand(Params(orders_per_day=300, seed=7)).day(3, 3) == day_three == demand.day(3, 3)
    assert Demand(Params(orders_per_day=300, seed=8)).day(3, 3) != day_three
    assert [a.minute for a in day_three] == sorted(a.minute for a in day_three)
    assert all(0 <= a.minute < 1440 and 1 <= len(a.lines) <= 5 for a in day_three)


def test_counts_are_poisson_around_the_days_mean():
    import random

    rng = random.Random(1)
    for mean in (4.0, 30.0, 400.0):
        draws = [poisson(rng, mean) for _ in range(4000)]
        assert abs(statistics.mean(draws) - mean) < 0.05 * mean + 0.2
        assert abs(statistics.pvariance(draws) - mean) < 0.12 * mean + 0.5  # variance = mean
    demand = Demand(Params(orders_per_day=200, seed=3, days=400, sale_day=-1))
    counts = [len(demand.day(n, 2)) for n in range(150)]
    expected = 200 * WEEKDAY_FACTORS[2]
    assert abs(statistics.mean(counts) - expected) < 0.03 * expected


def test_weekdays_and_the_sale_day_set_the_rate():
    demand = Demand(Params(orders_per_day=1000, days=30))
    assert demand.rate(1, 4) > demand.rate(1, 6)  # a Friday is busier than a Sunday
    assert abs(sum(WEEKDAY_FACTORS) / 7 - 1) < 1e-9  # a week averages the daily figure
    sale = demand.params.the_sale_day
    assert sale == 20 and demand.rate(sale, 4) == 3.0 * demand.rate(sale + 1, 4)


def test_best_sellers_follow_zipf_and_cities_their_population():
    demand = Demand(Params(orders_per_day=3000, skus=100, seed=5))
    units = Counter()
    cities = Counter()
    for n in range(5):
        for arrival in demand.day(n, n):
            cities[arrival.city] += 1
            for rank, _ in arrival.lines:
                units[rank] += 1
    # rank 1 sells about twice rank 2 and ten times rank 10 (s = 1)
    assert 1.7 < units[0] / units[1] < 2.3
    assert 7 < units[0] / units[9] < 13
    athens, thessaloniki = cities[0], cities[1]
    expected = CITIES[0][4] / CITIES[1][4]
    assert 0.85 * expected < athens / thessaloniki < 1.15 * expected
    assert cities.most_common(1)[0][0] == 0


def test_a_customer_decides_on_a_return_once_per_order_however_many_parcels_it_came_in():
    from datetime import datetime, time, timedelta

    from django.utils import timezone

    from simulation.runner import Parcel, Simulation, Watch
    from simulation.services import VARIANTS
    from simulation.world import Customers

    params = Params(days=1, orders_per_day=10, seed=4)
    simulation = Simulation(params, VARIANTS["rules"], customers=Customers(return_share=1.0))
    # the simulated clock's first day, whatever today is
    placed = datetime.combine(params.start, time(10), tzinfo=timezone.get_default_timezone())
    delivered = placed + timedelta(days=2)
    simulation.watch = {
        7: Watch(placed_at=placed, city=0, key="0:7"),
        8: Watch(placed_at=placed, city=0, key="0:8"),
    }
    for shipment_id, order_id in ((1, 7), (2, 7), (3, 8)):
        parcel = Parcel(shipment_id, order_id, f"SBX{shipment_id}", placed, script=[])
        simulation._delivered(parcel, delivered)
    # every customer returns (share 1.0), each order once: the split order's second parcel adds none
    assert sorted(ident for _, _, what, ident in simulation.later if what == "return") == [7, 8]
