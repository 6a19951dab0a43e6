"""Inventory dashboard pages and the CSV import command."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from inventory import services as stock
from inventory.models import StockMovement, StockPosition
from orders.models import Product
from tests.factories import make_warehouse

pytestmark = pytest.mark.django_db


@pytest.fixture
def stocked(products):
    ath = make_warehouse("ATH1", "37.9", "23.7", name="Athens DC")
    honey = Product.objects.create(sku="HONEY-450", name="Thyme honey", lot_tracked=True)
    stock.stock_receive(
        warehouse=ath, product=Product.objects.get(sku="CAP-NAVY"), quantity=40, actor="t", bin_code="B-02-1"
    )
    stock.stock_receive(warehouse=ath, product=Product.objects.get(sku="TSHIRT-BLK-M"), quantity=3, actor="t")
    stock.stock_receive(
        warehouse=ath,
        product=honey,
        quantity=12,
        actor="t",
        lot_code="L-77",
        expiry_date=timezone.localdate() + timedelta(days=10),
    )
    return ath


@pytest.mark.parametrize(
    "url", ["/dashboard/inventory/", "/dashboard/inventory/attention/", "/dashboard/inventory/CAP-NAVY/"]
)
def test_pages_need_login(client, url):
    assert client.get(url).status_code == 302


def test_stock_list_and_search(ops_client, stocked):
    content = ops_client.get("/dashboard/inventory/").content.decode()
    assert "ATH1 40 / 0 / <b>40</b>" in content
    found = ops_client.get("/dashboard/inventory/", {"q": "honey"}).content.decode()
    assert "HONEY-450" in found and "CAP-NAVY" not in found
    assert "CAP-NAVY" in ops_client.get("/dashboard/inventory/", {"q": "cap-"}).content.decode()


def test_detail_shows_positions_lots_and_ledger(ops_client, stocked):
    content = ops_client.get("/dashboard/inventory/honey-450/").content.decode()
    assert "L-77" in content and "Receipt" in content and "+12" in content
    cap = ops_client.get("/dashboard/inventory/CAP-NAVY/").content.decode()
    assert "B-02-1" in cap
    assert ops_client.get("/dashboard/inventory/NOPE/").status_code == 404


def test_alerts_list_low_stock_and_expiring_lots(ops_client, stocked):
    content = ops_client.get("/dashboard/inventory/attention/").content.decode()
    assert "TSHIRT-BLK-M" in content  # 3 sellable
    assert "L-77" in content  # expires in 10 days
    low_section = content.split("Expiring within")[0]
    assert "CAP-NAVY" not in low_section


def test_list_query_budget(ops_client, stocked, django_assert_max_num_queries):
    # 11: the session, the user, the ops check, the page's own reads, and the banners (open KPI
    # alerts, disabled webhook endpoints, shop orders that could not be taken, carrier calls waiting)
    with django_assert_max_num_queries(11):
        ops_client.get("/dashboard/inventory/")


def test_import_command_applies_all_or_nothing(tmp_path, stocked):
    good = tmp_path / "count.csv"
    good.write_text("warehouse,sku,quantity\nATH1,CAP-NAVY,38\nath1,tshirt-blk-m,5\n")
    out = StringIO()
    call_command("import_stock", str(good), "--kind", "count", "--reference", "CS-9", stdout=out)
    assert "2/2 rows" in out.getvalue()
    assert "Applied 2 rows (count): 2 positions changed, +2 / -2 units" in out.getvalue()
    figures = dict(StockPosition.objects.values_list("product__sku", "on_hand"))
    assert (figures["CAP-NAVY"], figures["TSHIRT-BLK-M"]) == (38, 5)
    movements = StockMovement.objects.count()
    bad = tmp_path / "bad.csv"
    bad.write_text("warehouse,sku,quantity\nATH1,CAP-NAVY,1\nATH1,GHOST,2\n")
    err = StringIO()
    with pytest.raises(CommandError, match="invalid"):
        call_command("import_stock", str(bad), "--kind", "receipt", stdout=StringIO(), stderr=err)
    assert "rows.1.sku: Unknown SKU 'GHOST'." in err.getvalue()
    assert StockMovement.objects.count() == movements


# ---------------------------------------------------------------- filters, export, adjustments, transfers


@pytest.fixture
def two_houses(stocked):
    skg = make_warehouse("SKG1", "40.6", "22.9", name="Thessaloniki DC")
    stock.stock_receive(warehouse=skg, product=Product.objects.get(sku="HOODIE-GRY-L"), quantity=7, actor="t")
    return stocked, skg


def test_the_stock_list_filters_by_warehouse_and_exports_what_it_shows(ops_client, two_houses):
    page = ops_client.get("/dashboard/inventory/", {"warehouse": "SKG1"}).content.decode()
    assert "HOODIE-GRY-L" in page and "CAP-NAVY" not in page
    response = ops_client.get("/dashboard/inventory/export.csv", {"warehouse": "ATH1"})
    rows = b"".join(response.streaming_content).decode().lstrip("\ufeff").splitlines()
    assert rows[0] == "sku,product,warehouse,on_hand,allocated,safety_stock,in_transit,available"
    assert "CAP-NAVY,Cap navy,ATH1,40,0,0,0,40" in rows
    assert not any("SKG1" in row for row in rows)


def test_stock_is_adjusted_with_a_reason_from_the_product_page(ops_client, two_houses):
    url = "/dashboard/inventory/CAP-NAVY/adjust/"
    refused = ops_client.post(url, {"warehouse": "ATH1", "delta": "-2", "reason": ""}, follow=True)
    assert "Not adjusted" in refused.content.decode()
    assert StockPosition.objects.get(warehouse__code="ATH1", product__sku="CAP-NAVY").on_hand == 40
    done = ops_client.post(url, {"warehouse": "ATH1", "delta": "-2", "reason": "damaged"}, follow=True)
    assert "now 38 on hand" in done.content.decode()
    movement = StockMovement.objects.filter(kind="adjustment").get()
    assert (movement.quantity, movement.reason, movement.actor) == (-2, "damaged", "olga")


def test_a_transfer_is_started_sent_and_received_from_the_dashboard(ops_client, two_houses):
    form = {
        "sku": "CAP-NAVY",
        "from_warehouse": "ATH1",
        "to_warehouse": "SKG1",
        "quantity": "5",
        "back": "product",
    }
    page = ops_client.post("/dashboard/inventory/transfers/new/", form, follow=True).content.decode()
    assert "5 x CAP-NAVY ATH1 → SKG1, planned" in page  # "send now" unticked: planned
    from inventory.models import Transfer

    transfer = Transfer.objects.get()
    listing = ops_client.get("/dashboard/inventory/transfers/").content.decode()
    assert f"/dashboard/inventory/transfers/{transfer.pk}/ship/" in listing
    ops_client.post(f"/dashboard/inventory/transfers/{transfer.pk}/ship/")
    assert StockPosition.objects.get(warehouse__code="SKG1", product__sku="CAP-NAVY").in_transit == 5
    again = ops_client.post(
        f"/dashboard/inventory/transfers/{transfer.pk}/ship/", follow=True
    ).content.decode()
    assert "cannot be in transit now" in again
    ops_client.post(f"/dashboard/inventory/transfers/{transfer.pk}/receive/")
    skg = StockPosition.objects.get(warehouse__code="SKG1", product__sku="CAP-NAVY")
    assert (skg.on_hand, skg.in_transit) == (5, 0)
    received = ops_client.get("/dashboard/inventory/transfers/", {"status": "received"}).content.decode()
    assert f"#{transfer.pk}" in received and "Received" in received
    sent_at_once = ops_client.post(
        "/dashboard/inventory/transfers/new/", form | {"ship": "on", "quantity": "999"}, follow=True
    ).content.decode()
    assert "Not enough free stock at the source" in sent_at_once
    assert Transfer.objects.count() == 1  # nothing half-written
