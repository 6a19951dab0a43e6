"""The replenishment pages in headless Chromium: the queue (approve with a changed quantity, then
order) and the purchase orders (send, receive part)."""

import pytest

from inventory.models import StockPosition
from orders.models import Product
from replenishment.evaluation import suggestions_evaluate
from replenishment.models import PurchaseOrder, ReorderRule, Supplier
from tests.factories import make_warehouse
from tests.test_browser import browser, log_in, page, shot  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_ops_order_what_the_rules_suggest_and_receive_it(page, ops_user, products):  # noqa: F811
    dc = make_warehouse("DC")
    supplier = Supplier.objects.create(code="acme", name="Acme", lead_time_days=7)
    for sku, on_hand in (("CAP-NAVY", 2), ("TSHIRT-BLK-M", 1)):
        product = Product.objects.get(sku=sku)
        StockPosition.objects.create(warehouse=dc, product=product, on_hand=on_hand)
        ReorderRule.objects.create(
            product=product,
            warehouse=dc,
            reorder_point=5,
            order_up_to=20,
            order_multiple=6,
            source="supplier",
            supplier=supplier,
        )
    suggestions_evaluate()
    log_in(page)
    page.goto("/dashboard/replenishment/")
    assert page.locator("#suggestions tbody tr").count() == 2
    # both positions have just crossed their reorder point: the alert names them
    assert page.locator("#crossed li").count() == 2
    assert "CAP-NAVY at DC: position 2, reorder point 5" in page.locator("#crossed").inner_text()
    shot(page, "replenishment-queue")
    page.check("input[aria-label='Select all']")
    first = page.locator("#suggestions tbody tr").first
    first.locator("input[type=number]").fill("30")
    page.click("button:has-text('Approve selected')")
    page.wait_for_selector("text=2 suggestion(s) approved.")
    page.goto("/dashboard/replenishment/?status=approved")
    page.check("input[aria-label='Select all']")
    page.click("button:has-text('Order selected')")
    page.wait_for_selector("text=Ordered: 1 purchase order(s) to send")
    page.goto("/dashboard/replenishment/purchase-orders/")
    po = PurchaseOrder.objects.get()
    assert sorted(po.lines.values_list("quantity", flat=True)) == [24, 30]
    page.click("button:has-text('Send to Acme')")
    page.wait_for_selector(f"#po-{po.pk} [data-status=sent]")
    line = po.lines.get(product__sku="CAP-NAVY")
    page.fill(f"input[name=receive-{line.pk}]", "12")
    page.click(f"#po-{po.pk} button:has-text('Receive')")
    page.wait_for_selector(f"#po-{po.pk} [data-status=partially_received]")
    with page.expect_download() as download:
        page.click(f"#po-{po.pk} a:has-text('CSV')")
    assert download.value.suggested_filename == f"{po}.csv"
    shot(page, "replenishment-purchase-orders")
    assert StockPosition.objects.get(warehouse=dc, product__sku="CAP-NAVY").on_hand == 2 + 12


def test_the_production_page_draws_each_sites_load_and_reports_what_was_made(page, ops_user, products):  # noqa: F811
    from datetime import timedelta

    from django.utils import timezone

    from replenishment import services as replenishment
    from replenishment.models import ProductionOrder, ProductionSite

    plant = ProductionSite.objects.create(
        code="plant",
        name="Thessaloniki plant",
        warehouse=make_warehouse("DC"),
        lead_time_days=5,
        capacity_per_day=120,
    )
    today = timezone.localdate()
    for sku, quantity, due in (("CAP-NAVY", 300, 4), ("TSHIRT-BLK-M", 90, 2), ("HOODIE-GRY-L", 500, 6)):
        ProductionOrder.objects.create(
            site=plant,
            product=Product.objects.get(sku=sku),
            quantity=quantity,
            due_date=today + timedelta(days=due),
        )
    replenishment.production_schedule(site_id=plant.pk)
    log_in(page)
    page.goto("/dashboard/replenishment/production/")
    bars = page.locator("#site-plant svg rect")
    assert bars.count() == 14
    # 890 units at 120 a day: seven full days, the eighth holds the last 50
    assert [bars.nth(n).get_attribute("class") for n in range(9)] == ["full"] * 7 + ["used", "idle"]
    box = bars.nth(0).bounding_box()
    assert box and box["height"] > 40  # a full day is drawn, not a zero-height bar
    shot(page, "replenishment-production")
    first = ProductionOrder.objects.get(product__sku="TSHIRT-BLK-M")
    page.fill(f"#mo-{first.pk} input[name=quantity]", "90")
    page.click(f"#mo-{first.pk} button:has-text('Made')")
    page.wait_for_selector("text=90 unit(s) booked into DC")
    assert ProductionOrder.objects.get(pk=first.pk).status == "done"
    assert StockPosition.objects.get(warehouse=plant.warehouse, product=first.product).on_hand == 90
