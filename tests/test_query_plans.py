"""The queries behind the busiest lists keep using their indexes: with sequential scans priced out,
each plan must name its index, so a change that makes a query unable to use it (a new sort, a
function around a column) fails here instead of at a million orders (docs/benchmarks.md, "At a
real merchant's size")."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from orders import selectors
from orders.models import Order

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded():
    call_command("seed_scale", orders=400, skus=30, warehouses=5, seed=3, stdout=StringIO())
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE orders_order")


def plan(queryset, *settings: str) -> str:
    """The plan with the given scans priced out. SET LOCAL would last to the end of the test's own
    transaction, and the deferred foreign-key checks at its end would then run with every scan
    priced out (minutes, with seed_scale's shipments): each setting is reset right after."""
    changed = ["enable_seqscan = off", *settings]
    with transaction.atomic(), connection.cursor() as cursor:
        try:
            for setting in changed:
                cursor.execute(f"SET LOCAL {setting}")
            sql, params = queryset.query.sql_with_params()
            cursor.execute("EXPLAIN " + sql, params)
            return "\n".join(row[0] for row in cursor.fetchall())
        finally:
            for setting in changed:
                cursor.execute(f"RESET {setting.split('=')[0].strip()}")


def test_the_order_list_reads_its_first_page_from_an_index(seeded):
    assert "order_placed_recent" in plan(selectors.order_search()[:50])


def test_the_order_list_filtered_by_status_reads_its_index(seeded):
    assert "order_status_placed" in plan(selectors.order_search(statuses=["backordered"])[:50])


def test_a_channels_updated_since_page_reads_an_index(seeded):
    since = timezone.now() - timedelta(days=30)
    channel_id = Order.objects.values_list("channel_id", flat=True).first()
    page = Order.objects.filter(channel_id=channel_id, updated_at__gte=since).order_by("-id")[:51]
    assert "Index" in plan(page) and "Seq Scan" not in plan(page)


@pytest.mark.parametrize(
    "text",
    ["sc-0000123", "c12@scale", "anna", "maria papa"],
    ids=["the channel's order number", "an e-mail's start", "part of a name", "two words of a name"],
)
def test_a_search_reads_indexes_instead_of_every_order(seeded, text):
    """With only bitmap scans allowed, a table can be read only through an index condition (a plain
    index scan could walk a whole index in place of a sequential scan, as the planner does on a
    table this small): so no "Seq Scan" means every table of the search is reached by an index."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE orders_customer")
    found = plan(
        selectors.order_search(text=text)[:50], "enable_indexscan = off", "enable_indexonlyscan = off"
    )
    assert "Seq Scan" not in found, found
    assert "order_external_id_upper" in found
    assert "_trgm" in found  # the customer's e-mail or names through their trigram indexes


def test_a_deep_page_of_the_order_list_reads_its_keys_from_the_index_alone(seeded):
    """Page 200 walks 9,950 index entries for its keys and joins 50 rows, not 10,000 (the
    paginator's deferred join): the keys' query must stay an index-only scan of the list's index.
    On this small, unvacuumed table the planner prefers other plans, so they are priced out: what
    is left is an index-only scan if the query allows one, else a priced-out plan that fails here."""
    keys = selectors.order_search().values_list("pk", flat=True)[150:200]
    found = plan(keys, "enable_indexscan = off", "enable_bitmapscan = off", "enable_sort = off")
    assert "Index Only Scan using order_placed_recent" in found, found
