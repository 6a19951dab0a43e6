"""The reorder evaluation over a million stock positions, against one SQL statement computing the same
inventory positions with psql, and the incremental evaluation of one SKU after one stock movement.

    .venv/bin/python bench/replenishment.py [--warehouses 50] [--skus 20000] [--runs 3]

On a fresh database ``oms_bench_repl``: warehouses x SKUs positions (1,000,000 by default) seeded with
COPY, random stock (a third of them below their reorder point), a default reorder rule per SKU (a
supplier each) and warehouse rules for one position in ten (transfers and production among them),
purchase orders on order, planned transfers and production orders, and backordered order lines.

Measured, in the same run:
- baseline: psql running the evaluation's own figures (the CTEs that compute every position's
  inventory position and need) as one SELECT over all positions, best of ``--runs``;
- the full evaluation (``suggestions_evaluate()``), first on an empty suggestion table (all inserts,
  every one a crossing with its event), then on the same figures (nothing to write), then after a
  tenth of the positions moved (their suggestions rewritten, some withdrawn, some new);
- the incremental evaluation: a receipt on one position, then ``suggestions_evaluate(product_ids=[sku])``,
  for ``--samples`` SKUs; median and p95 in milliseconds.
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

os.environ.setdefault("BENCH_DB", "oms_bench_repl")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from intake import BENCH_DB, BENCH_URL, bench_env, recreate_database  # noqa: E402


def copy_rows(table: str, columns: list[str], rows) -> int:
    from django.db import connection

    connection.ensure_connection()
    count = 0
    with (
        connection.connection.cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def seed(warehouses: int, skus: int, rng: random.Random) -> dict:
    from django.db import connection
    from django.utils import timezone

    from inventory.models import Transfer, Warehouse
    from orders import services
    from orders.models import Address, Customer, Order, OrderLine, OrderStatus, Product
    from replenishment.models import (
        ProductionOrder,
        ProductionSite,
        PurchaseOrder,
        PurchaseOrderLine,
        Supplier,
    )

    now = timezone.now()
    started = time.perf_counter()
    houses = Warehouse.objects.bulk_create(
        [
            Warehouse(
                code=f"W{n:02d}", name=f"W{n}", line1="x", city="x", country="GR", latitude=37, longitude=23
            )
            for n in range(warehouses)
        ]
    )
    copy_rows(
        "orders_product",
        ["sku", "name", "is_active", "created_at", "updated_at", "lot_tracked"],
        ((f"S-{n:06d}", f"Product {n}", True, now, now, False) for n in range(skus)),
    )
    product_ids = list(Product.objects.order_by("pk").values_list("pk", flat=True))
    house_ids = [h.pk for h in houses]

    def positions():
        for warehouse_id in house_ids:
            for product_id in product_ids:
                on_hand = rng.randint(0, 150)
                allocated = rng.randint(0, on_hand // 3)
                yield (
                    on_hand,
                    allocated,
                    rng.choice((0, 0, 0, 5)),
                    rng.choice((0, 0, 2)),
                    now,
                    product_id,
                    warehouse_id,
                )

    count = copy_rows(
        "inventory_stockposition",
        ["on_hand", "allocated", "in_transit", "safety_stock", "updated_at", "product_id", "warehouse_id"],
        positions(),
    )
    suppliers = Supplier.objects.bulk_create(
        [Supplier(code=f"sup-{n}", name=f"Supplier {n}", lead_time_days=5 + n % 10) for n in range(20)]
    )
    sites = ProductionSite.objects.bulk_create(
        [
            ProductionSite(
                code=f"site-{n}",
                name=f"Site {n}",
                warehouse=houses[n],
                lead_time_days=4,
                capacity_per_day=500,
            )
            for n in range(3)
        ]
    )

    def rules():
        for index, product_id in enumerate(product_ids):
            supplier = suppliers[index % len(suppliers)].pk
            yield (
                50,
                120,
                12,
                6,
                None,
                1,
                "supplier",
                False,
                True,
                now,
                product_id,
                None,
                None,
                None,
                supplier,
            )
            if index % 10 == 0:  # one position in ten has a rule of its own
                warehouse_id = house_ids[1 + index % (len(house_ids) - 1)]
                if index % 30 == 0:
                    yield (
                        20,
                        80,
                        1,
                        1,
                        None,
                        1,
                        "transfer",
                        False,
                        True,
                        now,
                        product_id,
                        None,
                        house_ids[0],
                        warehouse_id,
                        None,
                    )
                elif index % 30 == 10:
                    site = sites[index % len(sites)]
                    yield (
                        30,
                        200,
                        50,
                        10,
                        None,
                        1,
                        "production",
                        False,
                        True,
                        now,
                        product_id,
                        site.pk,
                        None,
                        warehouse_id,
                        None,
                    )
                else:
                    yield (
                        40,
                        100,
                        1,
                        1,
                        3,
                        1,
                        "supplier",
                        True,
                        True,
                        now,
                        product_id,
                        None,
                        None,
                        warehouse_id,
                        supplier,
                    )

    copy_rows(
        "replenishment_reorderrule",
        [
            "reorder_point",
            "order_up_to",
            "min_order_qty",
            "order_multiple",
            "lead_time_days",
            "review_period_days",
            "source",
            "covers_backorders",
            "is_active",
            "updated_at",
            "product_id",
            "production_site_id",
            "source_warehouse_id",
            "warehouse_id",
            "supplier_id",
        ],
        rules(),
    )
    purchase_orders = PurchaseOrder.objects.bulk_create(
        [
            PurchaseOrder(supplier=suppliers[n % 20], warehouse=houses[n % warehouses], status="sent")
            for n in range(5000)
        ]
    )
    PurchaseOrderLine.objects.bulk_create(
        [
            PurchaseOrderLine(
                purchase_order=po, product_id=rng.choice(product_ids), quantity=rng.randint(6, 60)
            )
            for po in purchase_orders
            for _ in range(4)
        ]
    )
    ProductionOrder.objects.bulk_create(
        [
            ProductionOrder(site=sites[n % 3], product_id=rng.choice(product_ids), quantity=100)
            for n in range(600)
        ]
    )
    Transfer.objects.bulk_create(
        [
            Transfer(
                product_id=rng.choice(product_ids),
                from_warehouse=houses[0],
                to_warehouse=houses[1 + n % (warehouses - 1)],
                quantity=5,
                status="planned",
            )
            for n in range(1000)
        ]
    )
    channel = services.channel_create(code="bench", name="Bench", kind="web")
    customer = Customer.objects.create(email="bench@example.com")
    address = Address.objects.create(name="B", line1="x", city="Athens", postal_code="104 34", country="GR")
    orders = Order.objects.bulk_create(
        [
            Order(
                channel=channel,
                external_id=f"B-{n}",
                customer=customer,
                shipping_address=address,
                currency="EUR",
                subtotal=1,
                total=1,
                placed_at=now,
                status=OrderStatus.BACKORDERED,
            )
            for n in range(20_000)
        ]
    )
    OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=order,
                line_number=1,
                product_id=product_ids[(index := rng.randrange(len(product_ids)))],
                sku=f"S-{index:06d}",
                name="x",
                quantity=rng.randint(1, 4),
                unit_price=1,
                total=1,
            )
            for order in orders
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {
        "positions": count,
        "products": product_ids,
        "houses": house_ids,
        "seconds": time.perf_counter() - started,
    }


def psql_seconds(sql: str, runs: int) -> float:
    parsed = urlparse(BENCH_URL)
    command = [
        "psql",
        "-X",
        "-q",
        "-h",
        parsed.hostname,
        "-p",
        str(parsed.port or 5432),
        "-U",
        parsed.username or "postgres",
        "-d",
        BENCH_DB,
        "-v",
        "ON_ERROR_STOP=1",
    ]
    overhead = min(_timed([*command, "-c", "SELECT 1"]) for _ in range(3))
    return min(_timed([*command, "-c", sql]) for _ in range(runs)) - overhead


def _timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--warehouses", type=int, default=50)
    parser.add_argument("--skus", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3, help="psql and steady-state runs; the best counts")
    parser.add_argument("--samples", type=int, default=50, help="incremental evaluations timed")
    parser.add_argument("--profile", action="store_true", help="EXPLAIN ANALYZE the evaluation's statements")
    args = parser.parse_args()
    recreate_database()
    os.environ.update(bench_env())
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from inventory import services as stock
    from inventory.models import Warehouse
    from orders.models import Product
    from replenishment.evaluation import EVALUATION_WORK_MEM, _figures_sql, suggestions_evaluate
    from replenishment.models import Suggestion

    call_command("migrate", verbosity=0)
    rng = random.Random(20261203)
    seeded = seed(args.warehouses, args.skus, rng)
    print(
        f"seeded {seeded['positions']:,} positions ({args.warehouses} warehouses x {args.skus:,} SKUs) "
        f"in {seeded['seconds']:.1f} s"
    )

    baseline_sql = _figures_sql(None) + (
        "SELECT count(*), sum(inventory_position), count(*) FILTER "
        "(WHERE inventory_position <= reorder_point + safety_stock) FROM needs"
    )
    if args.profile:
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + baseline_sql)
            print("\n".join(row[0] for row in cursor.fetchall()))
    baseline = psql_seconds(baseline_sql, args.runs)
    print(f"psql, the same inventory positions in one SELECT (best of {args.runs}): {baseline:.2f} s")
    default_settings = baseline
    baseline = psql_seconds(
        f"SET work_mem = '{EVALUATION_WORK_MEM}'; SET jit = off; " + baseline_sql, args.runs
    )
    print(
        f"psql, the same with the evaluation's settings (work_mem {EVALUATION_WORK_MEM}, jit off; best of "
        f"{args.runs}): {baseline:.2f} s  <- the ratios below are against this"
    )

    started = time.perf_counter()
    first = suggestions_evaluate()
    first_seconds = time.perf_counter() - started
    print(
        f"full evaluation, empty suggestions: {first_seconds:.2f} s ({first.upserted:,} suggestions, "
        f"{first.crossed:,} crossings) -> {first_seconds / baseline:.2f} x psql"
    )
    unchanged = []
    for _ in range(args.runs):
        started = time.perf_counter()
        again = suggestions_evaluate()
        unchanged.append(time.perf_counter() - started)
    assert again.crossed == 0 and again.upserted == 0
    print(
        f"full evaluation, nothing changed (best of {args.runs}): {min(unchanged):.2f} s "
        f"({again.upserted:,} written) -> {min(unchanged) / baseline:.2f} x psql"
    )
    churn = []
    for run in range(args.runs):
        with connection.cursor() as cursor:  # a tenth of the positions moved since the last run
            cursor.execute(
                "UPDATE inventory_stockposition SET on_hand = on_hand + 7 WHERE id %% 10 = %s", [run]
            )
        started = time.perf_counter()
        moved = suggestions_evaluate()
        churn.append(time.perf_counter() - started)
    print(
        f"full evaluation, a tenth of the positions moved (best of {args.runs}): {min(churn):.2f} s "
        f"({moved.upserted:,} written, {moved.withdrawn:,} withdrawn, {moved.crossed:,} crossings) "
        f"-> {min(churn) / baseline:.2f} x psql"
    )
    assert Suggestion.objects.filter(status="open").count() == (
        Suggestion.objects.filter(status="open").values("position_id").distinct().count()
    )

    houses = list(Warehouse.objects.order_by("pk"))
    sample = rng.sample(seeded["products"], args.samples)
    timings = []
    for product_id in sample:
        product = Product.objects.get(pk=product_id)
        stock.stock_receive(warehouse=rng.choice(houses), product=product, quantity=3, actor="bench")
        started = time.perf_counter()
        suggestions_evaluate(product_ids=[product_id])
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    p95 = timings[max(int(len(timings) * 0.95) - 1, 0)]
    print(
        f"the same against psql with its default settings ({default_settings:.2f} s): first "
        f"{first_seconds / default_settings:.2f} x, "
        f"nothing changed {min(unchanged) / default_settings:.2f} x, "
        f"a tenth moved {min(churn) / default_settings:.2f} x"
    )
    print(
        f"incremental evaluation of one SKU ({args.warehouses} positions) after a receipt, {args.samples} "
        f"samples: median {statistics.median(timings):.1f} ms, p95 {p95:.1f} ms"
    )


if __name__ == "__main__":
    main()
