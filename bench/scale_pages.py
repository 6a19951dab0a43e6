"""The pages and API lists ops and channels use most, timed on a year of a busy merchant.

    .venv/bin/python bench/scale_pages.py --seed-orders 1000000 --skus 100000 --warehouses 50
    .venv/bin/python bench/scale_pages.py --reuse            # the database seeded by an earlier run

On the database ``oms_bench_scale`` (seeded with ``manage.py seed_scale`` unless ``--reuse``), each
page is requested ``--requests`` times through Django in-process (the full middleware stack, an ops
user's session, a channel's key), after two warm-up requests; p50 and p95 in milliseconds against
the goals of issue 17 (150 ms for pages, 50 ms for the API lists).
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

os.environ.setdefault("BENCH_DB", "oms_bench_scale")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from intake import bench_env, recreate_database  # noqa: E402


def timed(get, url: str, requests: int) -> tuple[float, float, int]:
    for _ in range(2):
        status = get(url).status_code
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        response = get(url)
        samples.append((time.perf_counter() - started) * 1000)
        status = response.status_code
    samples.sort()
    return statistics.median(samples), samples[max(int(len(samples) * 0.95) - 1, 0)], status


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed-orders", type=int, default=1_000_000)
    parser.add_argument("--skus", type=int, default=100_000)
    parser.add_argument("--warehouses", type=int, default=50)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--reuse", action="store_true", help="keep the database an earlier run seeded")
    args = parser.parse_args()
    if not args.reuse:
        recreate_database()
    os.environ.update(bench_env() | {"ALLOWED_HOSTS": "testserver"})
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from oms.dashboard import OPS_GROUP
    from orders import services
    from orders.models import Channel, Order

    if not args.reuse:
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        call_command("seed_scale", orders=args.seed_orders, skus=args.skus, warehouses=args.warehouses)
        print(f"seed_scale: {time.perf_counter() - started:.0f} s")
    user = User.objects.filter(username="bench-ops").first()
    if user is None:
        user = User.objects.create_user("bench-ops", password="bench-ops-password")
        user.groups.add(Group.objects.get_or_create(name=OPS_GROUP)[0])
    ops = Client()
    ops.force_login(user)
    channel = Channel.objects.get(code="scale-web")
    key = services.api_key_create(name="bench", channel=channel, rate_limit_per_minute=0)[1]
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    total = Order.objects.count()
    some = Order.objects.filter(channel=channel).order_by("-id").values_list("id", flat=True)[1000]
    email, external_id = Order.objects.filter(pk=some).values_list("contact_email", "external_id").get()
    external_id = external_id.lower()  # ops type it in any case
    since = (timezone.now() - timezone.timedelta(days=30)).isoformat()
    first_page = api.get("/api/v1/orders/", {"updated_since": since}).json()
    cursor_page = first_page["next"].split("testserver", 1)[-1]
    pages = [
        ("dashboard: order list, first page", ops.get, "/dashboard/orders/", 150),
        ("dashboard: order list, status filter", ops.get, "/dashboard/orders/?status=backordered", 150),
        ("dashboard: order list, search by e-mail", ops.get, f"/dashboard/orders/?q={email}", 150),
        ("dashboard: order list, search by external id", ops.get, f"/dashboard/orders/?q={external_id}", 150),
        (
            "dashboard: order list, search by an e-mail's start",
            ops.get,
            f"/dashboard/orders/?q={email[:6]}",
            150,
        ),
        ("dashboard: order list, search by a name", ops.get, "/dashboard/orders/?q=Sofia+Rossi", 150),
        ("dashboard: order list, page 200", ops.get, "/dashboard/orders/?page=200", 150),
        ("dashboard: an order's page", ops.get, f"/dashboard/orders/{some}/", 150),
        ("dashboard: stock list", ops.get, "/dashboard/inventory/", 150),
        ("dashboard: fulfilment queue", ops.get, "/dashboard/fulfilment/", 150),
        ("dashboard: routing exceptions", ops.get, "/dashboard/routing/exceptions/", 150),
        (
            "API: orders updated in 30 days, first page",
            api.get,
            f"/api/v1/orders/?{urlencode({'updated_since': since})}",
            50,
        ),
        ("API: the same, next cursor page", api.get, cursor_page, 50),
    ]
    print(f"{total:,} orders; {args.requests} requests each after two warm-ups")
    print(f"{'page':<48} {'p50 ms':>8} {'p95 ms':>8} {'goal':>6}  status")
    for label, get, url, goal in pages:
        p50, p95, status = timed(get, url, args.requests)
        verdict = "met" if p95 <= goal and status == 200 else "MISSED"
        print(f"{label:<48} {p50:8.1f} {p95:8.1f} {goal:6d}  {status} {verdict}")


if __name__ == "__main__":
    main()
