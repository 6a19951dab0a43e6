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
    with django_assert_max_num_queries(7):
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
