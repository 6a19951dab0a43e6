"""The KPI pages on a year of a busy merchant, against computing a figure from the raw histories.

    .venv/bin/python bench/kpis.py --seed-orders 1000000      # seed_scale, then everything below
    .venv/bin/python bench/kpis.py --reuse                    # on the database seeded earlier

On the database ``oms_bench_scale`` (``manage.py seed_scale``: orders with their history, routing
decisions, shipments, carrier events, tracking states, ETAs):

1. ``kpis_rebuild``: a year of daily figures from the histories.
2. One day's new rows folded: the days yesterday's orders touch, found and recomputed (what the
   fold does with a day of new rows), and one day recomputed alone.
3. The KPI home page (30 and 365 days), a KPI's page and its drill-down, through Django in-process
   (the full middleware stack, an ops session) after two warm-ups: p50 and p95 against 150 ms.
4. The baseline, in the same run: on-time delivery over 30 and 365 days computed by one SQL query
   from the raw tables (what a page without figures would have to run per KPI), against the same
   figure read from the daily figures.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("BENCH_DB", "oms_bench_scale")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from intake import bench_env, recreate_database  # noqa: E402

RAW_ON_TIME = """
SELECT count(*) FILTER (WHERE (ts.delivered_at AT TIME ZONE %(tz)s)::date <= ts.promised_date)::numeric
       / NULLIF(count(*), 0)
FROM tracking_trackingstate ts JOIN shipments_shipment s ON s.id = ts.shipment_id
WHERE s.direction = 'outbound' AND ts.promised_date IS NOT NULL
  AND ts.delivered_at >= %(start)s AND ts.delivered_at < %(end)s
"""


def timed(call, n: int) -> tuple[float, float]:
    for _ in range(2):
        call()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(int(len(samples) * 0.95) - 1, 0)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed-orders", type=int, default=1_000_000)
    parser.add_argument("--skus", type=int, default=100_000)
    parser.add_argument("--warehouses", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--reuse", action="store_true", help="keep the database an earlier run seeded")
    parser.add_argument("--skip-rebuild", action="store_true", help="keep the figures an earlier run built")
    args = parser.parse_args()
    if not args.reuse:
        recreate_database()
    os.environ.update(bench_env() | {"ALLOWED_HOSTS": "testserver"})
    import django

    django.setup()
    from datetime import timedelta

    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import Client
    from django.utils import timezone

    from kpis import services
    from kpis.definitions import BY_CODE, Span
    from kpis.selectors import kpi_sum
    from oms.dashboard import OPS_GROUP
    from orders.models import Order

    if not args.reuse:
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        call_command("seed_scale", orders=args.seed_orders, skus=args.skus, warehouses=args.warehouses)
        print(f"seed_scale: {time.perf_counter() - started:.0f} s")
    total = Order.objects.count()
    started = time.perf_counter()
    rebuilt = services.figures_rebuild() if not args.skip_rebuild else services.FoldResult()
    print(
        f"kpis_rebuild: {time.perf_counter() - started:.1f} s for {rebuilt.days} days "
        f"({rebuilt.figures:,} figure rows), {total:,} orders"
    )
    # One day's new rows: the fold reads them, finds the days they touch (the orders' days) and
    # recomputes those days. The seed's ids do not follow time (its orders are placed at random over
    # the year), so its last rows by id are not a day's: the day's orders are taken by time instead.
    yesterday = timezone.localdate() - timedelta(days=1)
    span = Span(yesterday, yesterday)
    day_orders = set(
        Order.objects.filter(placed_at__gte=span.start, placed_at__lt=span.end).values_list("pk", flat=True)
    )
    started = time.perf_counter()
    touched = services.days_of_orders(day_orders)
    found = time.perf_counter() - started
    started = time.perf_counter()
    with transaction.atomic():
        written = services._replace(services.spans_of(touched))
    replaced = time.perf_counter() - started
    print(
        f"fold of a day's orders ({len(day_orders):,} orders placed yesterday): their days found in "
        f"{found * 1000:.0f} ms ({len(touched)} days), recomputed and replaced in {replaced:.2f} s "
        f"({written:,} figure rows)"
    )
    started = time.perf_counter()
    with transaction.atomic():
        one = services._replace([span])
    elapsed_ms = (time.perf_counter() - started) * 1000
    print(f"one day recomputed and replaced: {elapsed_ms:.0f} ms ({one:,} figure rows)")

    user = User.objects.filter(username="bench-ops").first()
    if user is None:
        user = User.objects.create_user("bench-ops", password="bench-ops-password")
        user.groups.add(Group.objects.get_or_create(name=OPS_GROUP)[0])
    ops = Client()
    ops.force_login(user)
    today = timezone.localdate()
    pages = [
        ("KPI home, last 30 days", "/dashboard/kpis/", {"days": "30"}),
        ("KPI home, last 365 days", "/dashboard/kpis/", {"days": "365"}),
        ("KPI home, 30 days, one warehouse", "/dashboard/kpis/", {"days": "30", "warehouse": "SC07"}),
        ("on-time delivery's page, 30 days", "/dashboard/kpis/on_time/", {"days": "30"}),
        (
            "on-time drill-down: late orders, one day",
            "/dashboard/kpis/on_time/orders/",
            {
                "start": (today - timedelta(days=3)).isoformat(),
                "end": (today - timedelta(days=3)).isoformat(),
                "missed": "1",
            },
        ),
    ]
    print(f"{total:,} orders; {args.requests} requests each after two warm-ups")
    print(f"{'page':<44} {'p50 ms':>8} {'p95 ms':>8} {'goal':>6}")
    for label, url, query in pages:
        status = ops.get(url, query).status_code
        p50, p95 = timed(lambda url=url, query=query: ops.get(url, query), args.requests)
        verdict = "met" if p95 <= 150 and status == 200 else "MISSED"
        print(f"{label:<44} {p50:8.1f} {p95:8.1f} {150:6d}  {status} {verdict}")
    on_time = BY_CODE["on_time"]
    for days in (30, 365):
        span = Span(today - timedelta(days=days - 1), today)
        params = {"tz": timezone.get_default_timezone_name(), "start": span.start, "end": span.end}

        def raw(params=params):
            with connection.cursor() as cursor:
                cursor.execute(RAW_ON_TIME, params)
                return cursor.fetchone()[0]

        def rolled(span=span):
            n, d = kpi_sum(on_time, span.first, span.last)
            return n / d if d else None

        assert abs(float(raw() or 0) - float(rolled() or 0)) < 1e-9, (raw(), rolled())
        raw_p50, _ = timed(raw, 5)
        rolled_p50, _ = timed(rolled, args.requests)
        print(
            f"on-time over {days} days: raw SQL {raw_p50:.1f} ms, from the figures {rolled_p50:.2f} ms "
            f"(x{raw_p50 / rolled_p50:.0f}); both {float(rolled() or 0):.4f}"
        )


if __name__ == "__main__":
    main()
