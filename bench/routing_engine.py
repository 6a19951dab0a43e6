"""Decision latency of the pure routing engine (no database), and its plans against a greedy
"closest warehouse first" baseline on the same random orders.

    .venv/bin/python bench/routing_engine.py [--orders 2000] [--seed 7]
"""

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from routing.engine import Candidate, Destination, LineNeed, Rules, haversine_km, plan_order

PRODUCTS = 300


def network(rng: random.Random, size: int) -> list[Candidate]:
    houses = []
    for n in range(size):
        stock = {
            p: rng.randint(1, 40)
            for p in rng.sample(range(PRODUCTS), rng.randint(PRODUCTS // 4, PRODUCTS // 2))
        }
        houses.append(Candidate(n + 1, f"W{n + 1}", "GR", rng.uniform(35, 41.5), rng.uniform(20, 28), stock))
    return houses


def order(rng: random.Random, lines: int) -> tuple[list[LineNeed], Destination]:
    products = rng.sample(range(PRODUCTS), lines)
    return (
        [LineNeed(i + 1, p, rng.randint(1, 3)) for i, p in enumerate(products)],
        Destination("GR", rng.uniform(35, 41.5), rng.uniform(20, 28)),
    )


def greedy_closest(lines, destination, candidates):
    """Baseline: every line from the closest warehouse that still has it."""
    by_distance = sorted(
        candidates,
        key=lambda c: haversine_km(c.latitude, c.longitude, destination.latitude, destination.longitude),
    )
    used, distance = set(), 0.0
    for line in lines:
        left = line.quantity
        for c in by_distance:
            if c.available.get(line.product_id, 0) > 0 and left:
                left -= min(left, c.available[line.product_id])
                if c.warehouse_id not in used:
                    used.add(c.warehouse_id)
                    distance += haversine_km(
                        c.latitude, c.longitude, destination.latitude, destination.longitude
                    )
    return len(used), distance


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    rules = Rules(max_shipments=3)
    print(
        f"{'lines':>5} {'warehouses':>10} {'p50 ms':>8} {'p99 ms':>8}   split rate engine / greedy   "
        "distance engine / greedy"
    )
    for warehouses in (10, 50, 200):
        houses = network(rng, warehouses)
        for lines in (1, 5, 20):
            timings, splits, greedy_splits, dist, greedy_dist = [], 0, 0, 0.0, 0.0
            for _ in range(args.orders):
                needs, destination = order(rng, lines)
                started = time.perf_counter()
                plan = plan_order(lines=needs, destination=destination, candidates=houses, rules=rules)
                timings.append((time.perf_counter() - started) * 1000)
                splits += plan.shipments > 1
                dist += sum(t.distance_km or 0 for t in plan.candidates if t.warehouse_id in plan.warehouses)
                g_used, g_dist = greedy_closest(needs, destination, houses)
                greedy_splits += g_used > 1
                greedy_dist += g_dist
            timings.sort()
            p99 = timings[int(len(timings) * 0.99) - 1]
            print(
                f"{lines:>5} {warehouses:>10} {statistics.median(timings):>8.3f} {p99:>8.3f}   "
                f"{splits / args.orders:>6.1%} / {greedy_splits / args.orders:<6.1%}               "
                f"{dist / max(greedy_dist, 1):.2f}"
            )


if __name__ == "__main__":
    main()
