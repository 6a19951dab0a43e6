"""The Webhooks page in headless Chromium: ops find it in the menu, see a disabled endpoint with what
waits for it and turn it on again, open a delivery's request and answer, and send deliveries again
by ticking them or by picking days."""

import pytest
from django.utils import timezone

from integrations import services
from integrations.models import WebhookDelivery, WebhookEndpoint, WebhookStatus
from tests.factories import order_payload
from tests.receiver import Receiver
from tests.test_browser import browser, page, shot  # noqa: F401 (fixtures)
from tests.test_shop_adapters import catalogue, shopify  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_ops_enable_an_endpoint_read_a_delivery_and_send_a_range_again(
    page,  # noqa: F811
    ops_user,
    api,
    products,
    channel_key,
    settings,
):
    settings.WEBHOOK_DISABLE_AFTER = 2
    receiver = Receiver()
    try:
        key, _ = channel_key
        shop = WebhookEndpoint.objects.create(
            api_key=key, url=receiver.url + "/shop", events=["order."], public_only=False
        )
        WebhookEndpoint.objects.create(
            api_key=key, url=receiver.url + "/erp", events=[], description="ERP bridge", public_only=False
        )
        receiver.down["/hooks/shop"] = 503
        for n in range(3):
            api.post("/api/v1/orders/", order_payload(f"BW-{n}"), format="json")
        services.webhooks_fan_out()
        services.webhooks_send_due()
        shop.refresh_from_db()
        assert not shop.is_active

        page.goto("/login/")
        page.fill("input[name=username]", "olga")
        page.fill("input[name=password]", "pw-olga-123")
        page.click("button[type=submit]")
        page.wait_for_url("**/dashboard/kpis/")
        assert "1 webhook endpoint disabled after failing" in page.locator("p.banner").inner_text()
        page.click("nav.mainnav >> text=Integrations")
        page.wait_for_url("**/dashboard/integrations/webhooks/")
        assert page.locator("nav.mainnav a.active").inner_text() == "Integrations"
        # a laptop's width: the menu wraps rather than pushing "Log out" off the screen
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert page.locator('a.chip[data-queue="succeeded"] b').inner_text() == "3"
        assert page.locator('a.chip[data-queue="pending"] b').inner_text() == "3"
        disabled = page.locator("#endpoints tr", has_text="/hooks/shop")
        assert "disabled" in disabled.inner_text() and "2 failed tries in a row" in disabled.inner_text()
        shot(page, "webhooks")
        # the receiver is back: ops turn the endpoint on, and what waited goes out
        receiver.down.clear()
        disabled.locator("button", has_text="Enable again").click()
        page.wait_for_selector("text=is enabled again")
        assert services.webhooks_send_due() == {"delivered": 3}
        page.reload()
        assert page.locator('a.chip[data-queue="succeeded"] b').inner_text() == "6"
        # a delivery's request and answer
        page.locator("#deliveries tbody tr a.mono").first.click()
        page.wait_for_selector("#request")
        assert "webhook-signature" in page.locator("#request").text_content()
        assert '"type": "order.received"' in page.locator("#body").inner_text()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        shot(page, "webhook-delivery")
        # two ticked deliveries go again
        page.go_back()
        boxes = page.locator('#deliveries input[name="delivery"]')
        boxes.nth(0).check()
        boxes.nth(1).check()
        page.click("text=Send selected again")
        page.wait_for_selector("text=2 deliveries will be sent again")
        assert WebhookDelivery.objects.filter(status=WebhookStatus.PENDING).count() == 2
        services.webhooks_send_due()
        # today's deliveries of the ERP endpoint, by picking the day
        today = timezone.localdate().isoformat()
        page.click("#replay-range summary")
        form = page.locator("#replay-range form")
        form.locator('select[name="endpoint"]').select_option(label=receiver.url + "/erp")
        form.locator('input[name="start"]').fill(today)
        form.locator('input[name="end"]').fill(today)
        form.locator('select[name="status"]').select_option("succeeded")
        form.locator("button", has_text="Send again").click()
        page.wait_for_selector("text=3 deliveries from")
        assert set(
            WebhookDelivery.objects.filter(status=WebhookStatus.PENDING).values_list(
                "endpoint__url", flat=True
            )
        ) == {receiver.url + "/erp"}
    finally:
        receiver.close()


def test_ops_find_a_shop_call_that_needs_a_sku_and_apply_it(
    page,  # noqa: F811
    ops_user,
    shopify,  # noqa: F811
    client,
):
    from integrations.models import ShopWebhook, ShopWebhookStatus
    from integrations.shops import services as shops
    from orders.models import Order
    from tests.test_shop_adapters import post_shopify, shopify_order

    shopify.sku_mappings.all().delete()
    post_shopify(client, shopify_order())
    shops.shop_webhook_process(webhook_id=ShopWebhook.objects.get().pk)
    page.goto("/login/")
    page.fill("input[name=username]", "olga")
    page.fill("input[name=password]", "pw-olga-123")
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard/kpis/")
    page.click("p.banner a:has-text('could not be taken')")
    page.wait_for_url("**/dashboard/integrations/shops/?status=failed")
    assert page.locator('a.chip[data-queue="failed"] b').inner_text() == "1"
    row = page.locator("#shop-calls tbody tr").first
    assert "#9999" in row.inner_text() and "SKU2006-020" in row.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "shop-orders")
    shops.sku_mapping_set(connection=shopify, channel_sku="SKU2006-020", sku="LOUNGER-MC")
    row.locator('input[name="call"]').check()
    page.click("text=Try selected again")
    page.wait_for_selector("text=1 shop call applied.")
    assert ShopWebhook.objects.get().status == ShopWebhookStatus.PROCESSED and Order.objects.count() == 1


def test_ops_upload_a_marketplace_file_and_read_what_it_lacks(
    page,  # noqa: F811
    ops_user,
    channel,
    products,
    tmp_path,
):
    from tests.test_order_import import GOOD, HEADER, csv_row

    bad = tmp_path / "marketplace-bad.csv"
    bad.write_text(
        "\n".join([HEADER, csv_row("MP-1", "TSHIRT-BLK-M", 2, "19.90"), csv_row("MP-2", "NOPE", 1, "1.00")])
    )
    good = tmp_path / "marketplace.csv"
    good.write_text(GOOD)
    page.goto("/login/")
    page.fill("input[name=username]", "olga")
    page.fill("input[name=password]", "pw-olga-123")
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard/kpis/")
    page.goto("/dashboard/integrations/imports/")
    page.select_option('select[name="channel"]', value=str(channel.pk))
    page.set_input_files('input[name="file"]', str(bad))
    page.click("button:has-text('Import')")
    page.wait_for_selector("#problems")
    assert page.locator("#progress").get_attribute("data-status") == "failed"
    row = page.locator("#problems tbody tr").first
    assert row.locator("td").nth(0).inner_text() == "3" and "NOPE" in row.inner_text()
    shot(page, "order-import-problems")
    page.goto("/dashboard/integrations/imports/")
    page.select_option('select[name="channel"]', value=str(channel.pk))
    page.set_input_files('input[name="file"]', str(good))
    page.click("button:has-text('Import')")
    page.wait_for_selector("text=3 orders created")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "order-import-done")
