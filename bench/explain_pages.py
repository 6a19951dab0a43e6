"""EXPLAIN (ANALYZE, BUFFERS) of the queries behind the busiest lists, on the database
bench/scale_pages.py seeded (``oms_bench_scale``), for docs/benchmarks.md.

    .venv/bin/python bench/explain_pages.py
"""

import os
import sys
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("BENCH_DB", "oms_bench_scale")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from intake import bench_env  # noqa: E402


def main() -> None:
    os.environ.update(bench_env())
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from orders import selectors
    from orders.models import Channel, Order

    channel = Channel.objects.get(code="scale-web")
    some = Order.objects.filter(channel=channel).order_by("-id").values_list("id", flat=True)[1000]
    email, external_id = Order.objects.filter(pk=some).values_list("contact_email", "external_id").get()
    since = timezone.now() - timedelta(days=30)
    queries = [
        ("order list, first page", selectors.order_search()[:50]),
        ("order list, status filter", selectors.order_search(statuses=["backordered"])[:50]),
        ("order list, search by a whole e-mail", selectors.order_search(text=email)[:50]),
        ("order list, search by external id", selectors.order_search(text=external_id.lower())[:50]),
        ("order list, search by an e-mail's start", selectors.order_search(text=email[:6])[:50]),
        ("order list, search by a name", selectors.order_search(text="Sofia Rossi")[:50]),
        # the paginator's deferred join: the page's keys alone, then its 50 rows by key
        ("order list, page 200: its keys", selectors.order_search().values_list("pk", flat=True)[9950:10000]),
        (
            "API orders, updated_since",
            Order.objects.filter(channel=channel, updated_at__gte=since).order_by("-id")[:51],
        ),
    ]
    for title, queryset in queries:
        sql, params = queryset.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            print(f"#### {title}\n\n```")
            print("\n".join(row[0] for row in cursor.fetchall()))
            print("```\n")


if __name__ == "__main__":
    main()
