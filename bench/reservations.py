"""Stock reservations per second: one hot SKU against orders spread over 1,000 SKUs, and pgbench
running the same reservation SQL.

    .venv/bin/python bench/reservations.py [--orders 3000] [--threads 8] [--seconds 20]

On a fresh database ``oms_bench_stock``: 3 warehouses, 1,000 products with ample stock everywhere,
and one-line orders (one unit each). Then ``stock_allocate`` runs for every order from several
threads, each on its own PostgreSQL connection: first all orders of the hot SKU, then the orders
spread over all SKUs. The hot case serialises on the SKU's three position rows (that is what keeps
it from overselling); the spread case shows the cost without contention. Last, pgbench replays the
captured SQL of one reservation with varying order ids.
"""

import argparse
import os
import re
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("BENCH_DB", "oms_bench_stock")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from intake import bench_env, literal, recreate_database, run_pgbench  # noqa: E402

SKU_COUNT = 1000


def setup(order_count: int) -> tuple[list[int], list[int]]:
    """Warehouses, products, stock, and ``order_count`` hot plus ``order_count`` spread orders.

    Built with bulk inserts (this is set-up, not what is measured); every order's one line has the
    order's own id, which the pgbench script relies on.
    """
    from django.utils import timezone

    from inventory.models import MovementKind, StockMovement, StockPosition, Warehouse
    from orders import services
    from orders.models import Address, Customer, Order, OrderLine, Product

    channel = services.channel_create(code="bench", name="Bench", kind="web")
    houses = [
        Warehouse.objects.create(
            code=f"W{n}", name=f"W{n}", line1="x", city="x", country="GR", latitude=37 + n, longitude=23
        )
        for n in range(3)
    ]
    products = Product.objects.bulk_create(
        [Product(sku=f"S-{n:04d}", name=f"S {n}") for n in range(SKU_COUNT)]
    )
    positions = StockPosition.objects.bulk_create(
        [StockPosition(warehouse=h, product=p, on_hand=1_000_000) for h in houses for p in products]
    )
    StockMovement.objects.bulk_create(
        [
            StockMovement(position=pos, kind=MovementKind.RECEIPT, quantity=1_000_000, actor="bench")
            for pos in positions
        ]
    )
    customer = Customer.objects.create(email="bench@example.com")
    address = Address.objects.create(name="B", line1="x", city="Athens", postal_code="104 34", country="GR")
    now = timezone.now()
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
            )
            for n in range(2 * order_count)
        ]
    )
    OrderLine.objects.bulk_create(
        [
            OrderLine(
                id=order.pk,
                order=order,
                line_number=1,
                product=products[0] if n < order_count else products[n % SKU_COUNT],
                sku="",
                name="",
                quantity=1,
                unit_price=1,
                total=1,
            )
            for n, order in enumerate(orders)
        ]
    )
    ids = [o.pk for o in orders]
    return ids[:order_count], ids[order_count:]


def reserve_all(order_ids: list[int], threads: int) -> float:
    """Allocate every order from ``threads`` threads; returns reservations per second."""
    from django.db import connections

    from inventory.services import stock_allocate

    chunks = [order_ids[i::threads] for i in range(threads)]
    failures: list[BaseException] = []
    barrier = threading.Barrier(threads + 1)

    def work(chunk: list[int]) -> None:
        try:
            barrier.wait()
            for order_id in chunk:
                stock_allocate(order_id=order_id, actor="bench")
        except BaseException as exc:
            failures.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=work, args=(chunk,)) for chunk in chunks]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise failures[0]
    return len(order_ids) / elapsed


def capture(order_id: int) -> list[tuple[str, tuple]]:
    from django.db import connection

    from inventory.services import stock_allocate

    statements: list[tuple[str, tuple]] = []

    def record(execute, sql, params, many, context):
        statements.append((sql, tuple(params or ())))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        stock_allocate(order_id=order_id, actor="bench")
    return statements


def pgbench_script(statements: list[tuple[str, tuple]], order_id: int, first: int, last: int) -> str:
    """The captured reservation with the order (and its line, same id) varying per transaction."""
    lines = [f"\\set oid random({first}, {last})", "BEGIN;"]
    for sql, params in statements:
        if sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT")):
            continue
        rendered = [
            ":oid"
            if value == order_id
            else (
                f"ARRAY[{', '.join(':oid' if v == order_id else literal(v) for v in value)}]"
                if isinstance(value, list)
                else literal(value)
            )
            for value in params
        ]
        text = sql.replace("%s", "{}").format(*rendered) if params else sql
        lines.append(re.sub(r"\s+", " ", text) + ";")
    lines.append("COMMIT;")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=3000, help="orders per case")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=20, help="pgbench duration")
    parser.add_argument(
        "--profile", action="store_true", help="profile 300 spread reservations in one thread, then stop"
    )
    args = parser.parse_args()
    recreate_database()
    os.environ.update(bench_env())
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    hot, spread = setup(args.orders)
    if args.profile:
        import cProfile
        import pstats

        from inventory.services import stock_allocate

        profiler = cProfile.Profile()
        started = time.process_time()
        profiler.enable()
        for order_id in spread[:300]:
            stock_allocate(order_id=order_id, actor="bench")
        profiler.disable()
        print(f"CPU per reservation (profiled): {(time.process_time() - started) / 300 * 1000:.2f} ms")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
        return
    statements = capture(spread[-1])
    hot_rate = reserve_all(hot[:], args.threads)
    spread_rate = reserve_all(spread[:-1], args.threads)
    from inventory.selectors import stock_drifts
    from orders.models import Order

    assert Order.objects.filter(status="allocated").count() == 2 * args.orders
    assert stock_drifts() == []
    script = pgbench_script(statements, spread[-1], spread[0], spread[-2])
    pg = run_pgbench(script, args.seconds, args.threads, "simple")
    print(f"reservation SQL: {len(statements)} statements (captured from stock_allocate)")
    print(f"hot SKU (3 positions), {args.threads} threads: {hot_rate:8.1f} reservations/s")
    print(f"spread over {SKU_COUNT} SKUs, {args.threads} threads: {spread_rate:8.1f} reservations/s")
    print(f"ratio spread / hot: {spread_rate / hot_rate:.2f}")
    print(f"pgbench, same SQL, {args.threads} connections: {pg['tps']:.1f} tps (failed {pg['failed']})")
    print(
        f"ratio spread / pgbench: {spread_rate / pg['tps']:.3f}   hot / pgbench: {hot_rate / pg['tps']:.3f}"
    )


if __name__ == "__main__":
    main()
