"""Routing end to end on PostgreSQL: snapshot read + engine + reservation + decision, per order.

    .venv/bin/python bench/routing_e2e.py [--orders 500] [--warehouses 50] [--lines 5]

On a fresh database ``oms_bench_routing``: warehouses spread over Greece, 300 products stocked in
about half of them, and orders of ``--lines`` lines to random Greek addresses. Each order is routed
with ``route_order`` (one transaction, as the Celery task does) and timed; p50 / p99 are printed
with the engine's own share.
"""

import argparse
import os
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

os.environ.setdefault("BENCH_DB", "oms_bench_routing")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from intake import bench_env, recreate_database  # noqa: E402

PRODUCTS = 300


def setup(rng: random.Random, warehouses: int, orders: int, lines: int, code: str = "bench") -> list[int]:
    from django.utils import timezone

    from inventory.models import MovementKind, StockMovement, StockPosition, Warehouse
    from orders import services
    from orders.models import Address, Customer, Order, OrderLine, Product

    channel = services.channel_create(code=code, name="Bench", kind="web")
    houses = Warehouse.objects.bulk_create(
        [
            Warehouse(
                code=f"{code}-{n:03d}",
                name=f"W{n}",
                line1="x",
                city="x",
                country="GR",
                latitude=Decimal(f"{rng.uniform(35, 41.5):.4f}"),
                longitude=Decimal(f"{rng.uniform(20, 28):.4f}"),
            )
            for n in range(warehouses)
        ]
    )
    products = Product.objects.bulk_create(
        [Product(sku=f"{code}-{n:04d}", name=f"P {n}") for n in range(PRODUCTS)]
    )
    positions = StockPosition.objects.bulk_create(
        [
            StockPosition(warehouse=h, product=p, on_hand=rng.randint(5, 500))
            for h in houses
            for p in products
            if rng.random() < 0.5
        ]
    )
    StockMovement.objects.bulk_create(
        [
            StockMovement(position=pos, kind=MovementKind.RECEIPT, quantity=pos.on_hand, actor="bench")
            for pos in positions
        ]
    )
    customer = Customer.objects.create(email=f"{code}@example.com")
    addresses = Address.objects.bulk_create(
        [
            Address(
                name="B",
                line1="x",
                city="x",
                postal_code="104 34",
                country="GR",
                latitude=Decimal(f"{rng.uniform(35, 41.5):.4f}"),
                longitude=Decimal(f"{rng.uniform(20, 28):.4f}"),
            )
            for _ in range(orders)
        ]
    )
    now = timezone.now()
    created = Order.objects.bulk_create(
        [
            Order(
                channel=channel,
                external_id=f"R-{n}",
                customer=customer,
                shipping_address=addresses[n],
                currency="EUR",
                subtotal=1,
                total=1,
                placed_at=now,
            )
            for n in range(orders)
        ]
    )
    OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=order,
                line_number=i + 1,
                product=product,
                sku=product.sku,
                name="",
                quantity=rng.randint(1, 3),
                unit_price=1,
                total=1,
            )
            for order in created
            for i, product in enumerate(rng.sample(products, lines))
        ]
    )
    return [o.pk for o in created]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--warehouses", type=int, default=50)
    parser.add_argument("--lines", type=int, default=5)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    recreate_database()
    os.environ.update(bench_env())
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from routing.models import RoutingDecision
    from routing.services import route_order

    order_ids = setup(random.Random(args.seed), args.warehouses, args.orders, args.lines)
    for order_id in order_ids[:20]:  # warm-up: imports, caches, connections
        route_order(order_id=order_id)
    timings = []
    for order_id in order_ids[20:]:
        started = time.perf_counter()
        route_order(order_id=order_id)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    engine = sorted(
        RoutingDecision.objects.filter(order_id__in=order_ids[20:]).values_list("duration_ms", flat=True)
    )
    outcomes = {}
    for outcome in RoutingDecision.objects.filter(order_id__in=order_ids[20:]).values_list(
        "outcome", flat=True
    ):
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    p99 = timings[int(len(timings) * 0.99) - 1]
    print(
        f"{len(timings)} orders of {args.lines} lines over {args.warehouses} warehouses, routed one by one:"
    )
    print(
        f"  end to end (snapshot + plan + reservation + decision): p50 {statistics.median(timings):.1f} ms, "
        f"p99 {p99:.1f} ms"
    )
    print(
        f"  plan and reserve loop as recorded on the decision: p50 {statistics.median(engine):.1f} ms, "
        f"p99 {engine[int(len(engine) * 0.99) - 1]:.1f} ms"
    )
    print(f"  outcomes: {outcomes}")


if __name__ == "__main__":
    main()
