"""The ERP feeds over the API: invoices from shipments, credits from returns, stock valuation per
warehouse and day; read with a cursor and acknowledged, so that a consumer takes each entry once and
misses none, even when a transaction that began earlier commits after a later one (real concurrent
connections); CSV as JSON; integration keys only."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from integrations import exports
from integrations.models import ExportEntry, ExportFeed, ProductCost
from oms.events import outbox_publish_pending
from orders import services as orders
from returns.models import Credit
from tests.conftest import api_client_for
from tests.returns_world import delivered_order, shipped_order
from tests.test_fulfilment import network  # noqa: F401 (fixture)
from tests.test_returns import ask, everything_back, set_policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def erp(db):
    key, raw = orders.api_key_create(name="ERP", scopes=["exports"])
    return key, api_client_for(raw)


def test_a_shipment_becomes_an_invoice_with_its_lines_at_the_orders_prices(api, network, erp):  # noqa: F811
    order, shipment_id = shipped_order(api, network, "INV-1")
    outbox_publish_pending()
    _, client = erp
    page = client.get("/api/v1/exports/invoices/").json()
    (entry,) = page["entries"]
    assert entry["key"] == f"shipment:{shipment_id}" and entry["order_id"] == order.pk
    assert [
        (li["sku"], li["quantity"], li["unit_price"], li["discount"], li["net"]) for li in entry["lines"]
    ] == [
        ("TSHIRT-BLK-M", 2, "19.90", "0.00", "39.80"),
        ("HOODIE-GRY-L", 1, "49.00", "4.00", "45.00"),
        ("CAP-NAVY", 3, "15.00", "0.00", "45.00"),
    ]
    assert (entry["shipping"], entry["tax"], entry["currency"]) == (
        f"{order.shipping_total:.2f}",
        f"{order.tax_total:.2f}",
        "EUR",
    )
    assert Decimal(entry["total"]) == order.total  # everything shipped at once: the order's total
    assert page["next_cursor"] == entry["cursor"] and page["has_more"] is False
    # the event again (a redelivery): the ERP does not get a second invoice
    exports.invoice_record(shipment_id=shipment_id, order_id=order.pk)
    assert ExportEntry.objects.filter(feed=ExportFeed.INVOICES).count() == 1


def test_a_split_order_has_its_shipping_and_tax_on_the_first_invoice_only(api, network, erp):  # noqa: F811
    from shipments import services as fulfilment
    from tests.test_fulfilment import OPS, pack

    order, _ = shipped_order(api, network, "INV-2", contents={"TSHIRT-BLK-M": 2})
    box = pack(order, network["ATH"], {"HOODIE-GRY-L": 1, "CAP-NAVY": 3})
    shipment = fulfilment.shipment_create(package_ids=[box.pk], actor=OPS)
    fulfilment.shipment_buy_labels(shipment_id=shipment.pk, actor=OPS)
    fulfilment.shipment_hand_over(shipment_id=shipment.pk, actor=OPS)
    outbox_publish_pending()
    _, client = erp
    first, second = client.get("/api/v1/exports/invoices/").json()["entries"]
    assert [li["sku"] for li in first["lines"]] == ["TSHIRT-BLK-M"] and first[
        "shipping"
    ] == f"{order.shipping_total:.2f}"
    assert [li["sku"] for li in second["lines"]] == ["HOODIE-GRY-L", "CAP-NAVY"] and second[
        "shipping"
    ] == "0.00"
    assert Decimal(first["total"]) + Decimal(second["total"]) == order.total


def test_the_cursor_and_acknowledge_give_each_entry_once(erp, db):
    _, client = erp
    for n in range(5):
        exports._record(ExportFeed.INVOICES, f"test:{n}", {"n": n})
    page = client.get("/api/v1/exports/invoices/?limit=3").json()
    assert [e["n"] for e in page["entries"]] == [0, 1, 2] and page["has_more"] is True
    assert client.post(
        "/api/v1/exports/invoices/ack/", {"cursor": page["next_cursor"]}, format="json"
    ).json() == {"acked": page["next_cursor"]}
    rest = client.get("/api/v1/exports/invoices/").json()  # from the ack on
    assert [e["n"] for e in rest["entries"]] == [3, 4] and rest["has_more"] is False
    # acking again, or an older cursor, changes nothing; a cursor never given out is refused
    assert client.post("/api/v1/exports/invoices/ack/", {"cursor": "1"}, format="json").json() == {
        "acked": page["next_cursor"]
    }
    beyond = client.post("/api/v1/exports/invoices/ack/", {"cursor": "99"}, format="json")
    assert beyond.status_code == 400 and "cursor" in beyond.json()["error"]["details"]
    for bad in ("?after=-1", "?after=abc", "?limit=0", "?limit=5000"):
        answer = client.get(f"/api/v1/exports/invoices/{bad}")
        assert answer.status_code == 400, bad
    assert client.get("/api/v1/exports/payroll/").status_code == 404


def test_only_an_integration_key_with_the_exports_scope_reads_the_feeds(api, channel, db):
    assert api.get("/api/v1/exports/invoices/").status_code == 403  # a channel's key: never
    _, raw = orders.api_key_create(name="shop exports", channel=channel, scopes=["exports"])
    assert api_client_for(raw).get("/api/v1/exports/invoices/").status_code == 403
    _, raw = orders.api_key_create(name="WMS", scopes=["inventory"])
    assert api_client_for(raw).get("/api/v1/exports/credits/").status_code == 403


def test_the_feed_as_csv_has_a_row_per_invoice_line_and_the_next_cursor(api, network, erp):  # noqa: F811
    order, _ = shipped_order(api, network, "INV-3")
    outbox_publish_pending()
    _, client = erp
    answer = client.get("/api/v1/exports/invoices.csv")
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/csv")
    rows = answer.content.decode().strip().splitlines()
    assert rows[0].startswith("cursor,invoice,order_number") and len(rows) == 4  # header and three lines
    assert answer["X-Next-Cursor"] == "1" and order.number in rows[1]


def test_a_credit_is_exported_as_the_credits_api_shows_it(api, network, erp):  # noqa: F811
    set_policy(refund_shipping=True)
    order = delivered_order(api, network, "CR-1")
    ret = everything_back(ask(order, ("CAP-NAVY", 1, "wrong_item")))
    outbox_publish_pending()
    credit = Credit.objects.get(ret=ret)
    _, client = erp
    (entry,) = client.get("/api/v1/exports/credits/").json()["entries"]
    assert entry["key"] == f"credit:{credit.pk}" and entry["return_number"] == ret.number
    assert Decimal(entry["amount"]) == credit.amount and entry["order_ids"] == [order.pk]


def test_stock_valuation_per_warehouse_and_day_at_the_days_cost(network, erp, clock):  # noqa: F811
    today = timezone.localdate()
    ProductCost.objects.create(
        sku="CAP-NAVY", unit_cost=Decimal("4.50"), currency="EUR", valid_from=today - timedelta(days=30)
    )
    ProductCost.objects.create(
        sku="CAP-NAVY", unit_cost=Decimal("5.00"), currency="EUR", valid_from=today + timedelta(days=5)
    )
    clock.shift(timedelta(days=1))
    assert exports.valuation_close() == 2  # Athens and Thessaloniki, for the day the stock came in
    assert exports.valuation_close() == 0  # once
    _, client = erp
    by_warehouse = {
        e["warehouse"]: e for e in client.get("/api/v1/exports/stock_valuation/").json()["entries"]
    }
    athens = by_warehouse["ATH"]
    assert athens["day"] == today.isoformat()
    cap = next(i for i in athens["items"] if i["sku"] == "CAP-NAVY")
    assert (cap["units"], cap["unit_cost"], cap["value"]) == (10, "4.5000", "45.00")
    assert athens["totals"] == {"EUR": "45.00"} and athens["unvalued_skus"] == [
        "HOODIE-GRY-L",
        "TSHIRT-BLK-M",
    ]


@pytest.mark.django_db(transaction=True)
def test_an_entry_committed_after_a_later_one_is_not_skipped(erp):
    """Two writers on their own connections: the first inserts, the second inserts and commits, a
    reader takes the feed and acks it, then the first commits. Its entry has the lower id, so a cursor
    on ids would have passed it; the stamped sequence puts it after what the reader has seen."""
    _, client = erp
    inserted, release = threading.Event(), threading.Event()

    def slow_writer():
        with transaction.atomic():
            exports._record(ExportFeed.INVOICES, "slow", {"n": "slow"})
            inserted.set()
            release.wait(10)
        connection.close()

    writer = threading.Thread(target=slow_writer)
    writer.start()
    assert inserted.wait(10)
    exports._record(ExportFeed.INVOICES, "fast", {"n": "fast"})
    page = client.get("/api/v1/exports/invoices/").json()
    assert [e["n"] for e in page["entries"]] == ["fast"]
    client.post("/api/v1/exports/invoices/ack/", {"cursor": page["next_cursor"]}, format="json")
    release.set()
    writer.join(10)
    slow, fast = ExportEntry.objects.get(key="slow"), ExportEntry.objects.get(key="fast")
    assert slow.pk < fast.pk  # the case a cursor on ids gets wrong
    later = client.get("/api/v1/exports/invoices/").json()
    assert [e["n"] for e in later["entries"]] == ["slow"]
