"""The order list an ops person works from: sort by any column, filter by warehouse, export what the
filters show, act on many orders at once, and always know which page of how many."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory import services as stock
from oms.dashboard import CappedPaginator
from orders import selectors
from orders.models import Order, Product
from routing import services as routing
from tests.factories import make_warehouse, order_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def five(api, products):
    """Five orders of 1..5 caps (totals 15.00 .. 75.00), two allocated at Athens."""
    ids = []
    for n in range(1, 6):
        body = order_payload(f"L-{n}", lines=[{"sku": "CAP-NAVY", "quantity": n, "unit_price": "15.00"}])
        body["order_discount"] = body["shipping_total"] = "0"
        ids.append(api.post("/api/v1/orders/", body, format="json").json()["id"])
    athens = make_warehouse("ATH")
    stock.stock_receive(warehouse=athens, product=Product.objects.get(sku="CAP-NAVY"), quantity=3, actor="t")
    for order_id in ids[:2]:
        routing.route_order(order_id=order_id)
    return ids


def listed(response) -> list[str]:
    page = response.content.decode()
    found = [(page.index(f">L-{n}<"), f"L-{n}") for n in range(1, 6) if f">L-{n}<" in page]
    return [external_id for _, external_id in sorted(found)]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("total", ["L-1", "L-2", "L-3", "L-4", "L-5"]),
        ("-total", ["L-5", "L-4", "L-3", "L-2", "L-1"]),
        ("number", ["L-1", "L-2", "L-3", "L-4", "L-5"]),
        ("-external_id", ["L-5", "L-4", "L-3", "L-2", "L-1"]),
        ("-lines", ["L-1", "L-2", "L-3", "L-4", "L-5"]),  # one line each: the newest first among equals
        ("status", ["L-1", "L-2", "L-3", "L-4", "L-5"]),  # allocated before received
    ],
)
def test_the_list_sorts_by_any_column(ops_client, five, sort, expected):
    response = ops_client.get("/dashboard/orders/", {"sort": sort})
    if sort == "-lines":
        expected = ["L-5", "L-4", "L-3", "L-2", "L-1"]
    assert listed(response) == expected
    column = sort.lstrip("-")
    direction = "descending" if sort.startswith("-") else "ascending"
    assert f'aria-sort="{direction}"><a href="?sort=' in response.content.decode()
    assert column in response.content.decode()


def test_the_warehouse_filter_keeps_the_orders_it_serves(ops_client, five):
    assert listed(ops_client.get("/dashboard/orders/", {"warehouse": "ATH"})) == [
        "L-2",
        "L-1",
    ]  # newest first


def test_the_export_is_the_filtered_list_as_csv(ops_client, five):
    response = ops_client.get("/dashboard/orders/export.csv", {"status": "received", "sort": "total"})
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert [(r["external_id"], r["total"], r["lines"], r["status"]) for r in rows] == [
        ("L-3", "45.00", "1", "received"),
        ("L-4", "60.00", "1", "received"),
        ("L-5", "75.00", "1", "received"),
    ]
    assert rows[0]["email"] == "maria.p@example.gr"


def test_bulk_hold_then_cancel_reports_each_refusal(ops_client, five):
    chosen = five[2:]
    held = ops_client.post(
        "/dashboard/orders/bulk/", {"action": "hold", "order": chosen, "note": "address check"}, follow=True
    )
    assert "Put on hold: 3 orders done." in held.content.decode()
    assert set(Order.objects.filter(pk__in=chosen).values_list("status", flat=True)) == {"on_hold"}
    no_note = ops_client.post("/dashboard/orders/bulk/", {"action": "hold", "order": chosen}, follow=True)
    assert "why is needed" in no_note.content.decode().lower()

    Order.objects.filter(pk=five[0]).update(status="shipped")  # one of them has shipped meanwhile
    cancelled = ops_client.post(
        "/dashboard/orders/bulk/",
        {"action": "cancel", "order": [five[0], *chosen], "note": "test"},
        follow=True,
    )
    page = cancelled.content.decode()
    assert "Cancel: 3 orders done." in page
    assert f"{Order.objects.get(pk=five[0]).number}: " in page  # the refusal, with why
    assert Order.objects.get(pk=five[0]).status == "shipped"


def test_bulk_reroute_and_pick_lists(ops_client, five):
    stock.stock_receive(
        warehouse=make_warehouse("SKG", "40.64", "22.94"),
        product=Product.objects.get(sku="CAP-NAVY"),
        quantity=50,
        actor="t",
    )
    rerouted = ops_client.post(
        "/dashboard/orders/bulk/", {"action": "reroute", "order": five[2:]}, follow=True
    )
    assert "Re-route: 3 orders done." in rerouted.content.decode()
    assert set(Order.objects.filter(pk__in=five).values_list("status", flat=True)) == {"allocated"}
    pdf = ops_client.post("/dashboard/orders/bulk/", {"action": "pick_lists", "order": five[:2]})
    assert pdf["Content-Type"] == "application/pdf"
    import pypdfium2

    document = pypdfium2.PdfDocument(io.BytesIO(pdf.content))
    try:
        text = "".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()
    for order_id in five[:2]:
        assert Order.objects.get(pk=order_id).number in text
    assert set(Order.objects.filter(pk__in=five[:2]).values_list("status", flat=True)) == {"in_fulfillment"}


def test_every_list_says_which_page_of_how_many(ops_client, five, settings, monkeypatch):
    settings.DASHBOARD_PAGE_SIZE = 2
    assert "Page 2 of 3" in ops_client.get("/dashboard/orders/", {"page": 2}).content.decode()
    monkeypatch.setattr(CappedPaginator, "cap", 3)  # more rows than are counted
    monkeypatch.setattr(selectors, "COUNT_CAP", 2)
    page = ops_client.get("/dashboard/orders/").content.decode()
    assert "Page 1 of 2+" in page and "more than 3 rows" in page
    assert "Received <b>2+</b>" in page  # three received orders, counted up to two


@pytest.mark.parametrize("sort", ["", "-total", "lines", "customer", "status"])
@pytest.mark.parametrize(
    "filters", [{}, {"q": "papadop"}, {"status": "received"}], ids=["all", "search", "status"]
)
def test_later_pages_hold_the_rows_an_offset_would_in_the_same_order(
    ops_client, five, settings, sort, filters
):
    """Pages after the first fetch their rows' keys first, then the rows (a deferred join): walking
    the pages gives the whole list once, in its order, whatever the sort or the filter."""
    whole = listed(ops_client.get("/dashboard/orders/", {"sort": sort, **filters}))
    settings.DASHBOARD_PAGE_SIZE = 2
    walked = []
    for number in range(1, (len(whole) + 1) // 2 + 1):
        walked += listed(ops_client.get("/dashboard/orders/", {"sort": sort, "page": number, **filters}))
    assert walked == whole and len(whole) == len(set(whole))
    with CaptureQueriesContext(connection) as queries:
        ops_client.get("/dashboard/orders/", {"sort": sort, "page": 2, **filters})
    offsets = [q["sql"] for q in queries.captured_queries if " OFFSET " in q["sql"]]
    keys_only = 'SELECT "orders_order"."id" AS "pk"'
    assert len(offsets) == 1 and offsets[0].split(" FROM ")[0] == keys_only, offsets
    assert len(whole) == (3 if filters.get("status") else 5)
