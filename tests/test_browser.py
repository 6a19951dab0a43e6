"""Every dashboard page in headless Chromium (Debian's package), driven by Playwright."""

import os
import shutil
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import expect

from orders import services
from orders.models import Order
from tests.factories import make_warehouse, order_payload
from tests.test_fulfilment import network  # noqa: F401 (fixture)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parent.parent / "var" / "screenshots"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Chromium is missing: apt-get install -y chromium (.ci/run does this)."
    # Playwright's sync API runs an event loop in this thread; the ORM calls in these tests are
    # ordinary sync code, which Django would otherwise refuse next to a running loop.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()
    del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1366, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Every page keeps to its Content-Security-Policy: the browser reports what it blocked.
    page.on(
        "console",
        lambda message: (
            errors.append(f"CSP: {message.text}") if "Content Security Policy" in message.text else None
        ),
    )
    # A page's own parts (its styles, scripts, icon) are all there: none answers 404.
    page.on(
        "response",
        lambda response: (
            errors.append(f"{response.status} {response.url}")
            if response.status == 404 and ("/static/" in response.url or "favicon" in response.url)
            else None
        ),
    )
    yield page
    context.close()
    assert errors == [], errors


def log_in(page, username="olga", password="pw-olga-123"):
    page.goto("/dashboard/orders/")
    assert "/login/" in page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_login_list_search_and_detail(page, ops_user, api, other_api, products):
    for n in range(3):
        api.post("/api/v1/orders/", order_payload(f"WEB-{n}"), format="json")
    other_api.post("/api/v1/orders/", order_payload("MP-9"), format="json")
    log_in(page)
    page.wait_for_selector("table.list")
    assert page.locator("table.list tbody tr").count() == 4
    assert page.locator("nav.mainnav a.active").inner_text() == "Orders"
    shot(page, "order-list")

    page.fill("input[name=q]", "MP-9")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**q=MP-9**")
    assert page.locator("table.list tbody tr").count() == 1
    page.click("table.list tbody tr a")
    page.wait_for_selector("ol.timeline")
    assert "MP-9" in page.inner_text(".pagehead")
    assert page.locator("table.list tbody tr").count() == 3  # its three lines
    shot(page, "order-detail")


# Every example text of the order page's action fields fits inside its field.
PLACEHOLDERS_FIT = """() => [...document.querySelectorAll('section.actions input[placeholder]')].every(el => {
    const style = getComputedStyle(el);
    const pen = document.createElement('canvas').getContext('2d'); pen.font = style.font;
    const room = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return pen.measureText(el.placeholder).width <= room; })"""


def test_hold_release_and_cancel_from_the_order_page(page, ops_user, api, products):
    order_id = api.post("/api/v1/orders/", order_payload(), format="json").json()["id"]
    log_in(page)
    page.goto(f"/dashboard/orders/{order_id}/")
    page.select_option("select[name=reason]", "fraud_review")
    page.click("text=Put on hold")
    page.wait_for_selector(".message.success")
    assert "On hold" in page.inner_text(".pagehead .badge")
    assert Order.objects.get(pk=order_id).status == "on_hold"
    shot(page, "order-on-hold")

    # every field of the actions says what it is for, and its example fits
    assert page.evaluate(
        """() => [...document.querySelectorAll('section.actions input[type=text], section.actions select')]
                .every(el => el.labels.length > 0 && el.labels[0].innerText.trim().length > 0)"""
    )
    page.wait_for_load_state("load")  # the stylesheet applied, not just the elements there
    assert page.evaluate(PLACEHOLDERS_FIT)
    # a fraud hold is lifted with a reason, or not at all
    page.click("text=Release hold")
    page.wait_for_selector(".message.error")
    assert "Say why the fraud review is over" in page.inner_text(".messages")
    assert Order.objects.get(pk=order_id).status == "on_hold"
    page.fill("section.actions input[name=note]", "card holder confirmed by phone")
    page.click("text=Release hold")
    page.wait_for_selector(".message.success")
    assert Order.objects.get(pk=order_id).status == "received"
    page.wait_for_load_state("load")  # the stylesheet applied, not just the elements there
    assert page.evaluate(PLACEHOLDERS_FIT)

    page.once("dialog", lambda dialog: dialog.accept())
    page.fill("input[name=reason][type=text]", "customer asked")
    page.click("text=Cancel order")
    page.wait_for_selector(".message.success")
    assert Order.objects.get(pk=order_id).status == "cancelled"
    assert page.locator("text=No action is possible in this status.").count() == 1
    timeline = page.inner_text("ol.timeline")
    assert "Received → Cancelled" in timeline and "customer asked" in timeline


def test_refused_action_shows_the_reason(page, ops_user, api, products):
    order_id = api.post("/api/v1/orders/", order_payload(), format="json").json()["id"]
    log_in(page)
    page.goto(f"/dashboard/orders/{order_id}/")
    # the order changes under the user's feet: another user cancels it meanwhile
    services.order_cancel(order_id=order_id, actor=services.Actor.system("another user"))
    page.select_option("select[name=reason]", "fraud_review")
    page.click("text=Put on hold")
    page.wait_for_selector(".message.error")
    assert "cannot go from cancelled to on hold" in page.inner_text(".message.error")


def test_non_ops_user_sees_a_refusal(page, db):
    User.objects.create_user("visitor", password="pw-visitor-1")
    log_in(page, "visitor", "pw-visitor-1")
    assert "Not allowed" in page.inner_text("h1")


def test_api_docs_render_offline(page):
    page.goto("/api/docs/")
    page.wait_for_selector("text=OMS API", timeout=15000)
    page.wait_for_selector("text=/api/v1/orders/")
    shot(page, "api-docs")


def test_inventory_pages(page, ops_user, products):
    from datetime import timedelta

    from django.utils import timezone

    from inventory import services as stock

    ath = make_warehouse("ATH1", "37.9", "23.7", name="Athens DC")
    skg = make_warehouse("SKG1", "40.6", "22.9", name="Thessaloniki DC")
    cap = products[2]
    stock.stock_receive(warehouse=ath, product=cap, quantity=40, actor="receiving", bin_code="B-02-1")
    stock.stock_receive(warehouse=skg, product=cap, quantity=2, actor="receiving")
    honey = cap.__class__.objects.create(sku="HONEY-450", name="Thyme honey", lot_tracked=True)
    stock.stock_receive(
        warehouse=ath,
        product=honey,
        quantity=12,
        actor="receiving",
        lot_code="L-77",
        expiry_date=timezone.localdate() + timedelta(days=10),
    )
    log_in(page)
    page.click("nav.mainnav >> text=Inventory")
    page.wait_for_selector("table.list")
    assert page.locator("nav.mainnav a.active").inner_text() == "Inventory"
    shot(page, "inventory-list")
    page.fill("input[name=q]", "honey")
    page.click("form.filters button[type=submit]")
    page.click("text=HONEY-450")
    page.wait_for_selector("text=Ledger")
    assert "L-77" in page.inner_text("body")
    shot(page, "inventory-detail")
    page.click("nav.mainnav >> text=Stock alerts")
    page.wait_for_selector("text=Expiring within")
    body = page.inner_text("body")
    assert "SKG1" in body and "L-77" in body
    shot(page, "inventory-alerts")


def test_routing_exceptions_page_and_reroute(page, ops_user, api, products, settings):

    from inventory import services as stock

    settings.ROUTING_ON_RECEIPT = True
    ath = make_warehouse("ATH1", "37.9", "23.7", name="Athens DC")
    order_id = api.post("/api/v1/orders/", order_payload(), format="json").json()["id"]
    assert Order.objects.get(pk=order_id).status == "backordered"
    log_in(page)
    page.click("nav.mainnav >> text=Routing exceptions")
    page.wait_for_selector("table.list")
    shot(page, "routing-exceptions")
    for product in products:
        stock.stock_receive(warehouse=ath, product=product, quantity=10, actor="receiving")
    # the receipt's backorder filler may already have served it; re-route is then a no-op message
    page.click("text=Re-route")
    page.wait_for_selector(".message")
    assert Order.objects.get(pk=order_id).status == "allocated"
    page.goto(f"/dashboard/orders/{order_id}/")
    page.wait_for_selector("#routing")
    shot(page, "order-routing-panel")


def test_fulfilment_pages_from_wave_to_hand_over(page, ops_user, api, products):
    from inventory import services as stock
    from routing import services as routing
    from shipments.models import Carrier, CarrierService, PickList, Shipment

    athens = make_warehouse("ATH1", "37.9", "23.7", name="Athens DC")
    make_warehouse("SKG1", "40.6", "22.9", name="Thessaloniki DC")
    for product in products:
        stock.stock_receive(
            warehouse=athens, product=product, quantity=10, actor="receiving", bin_code="A-01"
        )
    carrier = Carrier.objects.create(code="sandbox", name="Sandbox Post", adapter="sandbox")
    CarrierService.objects.create(carrier=carrier, code="express", name="Express", service_level="express")
    order_id = api.post("/api/v1/orders/", order_payload(), format="json").json()["id"]
    routing.route_order(order_id=order_id)

    log_in(page)
    page.click("nav.mainnav >> text=Fulfilment")
    page.wait_for_selector("section.panel")
    shot(page, "fulfilment-work-queue")
    page.click("text=Release a wave")
    page.wait_for_selector("table.picklist")
    pick_list = PickList.objects.get()
    cap = pick_list.lines.get(sku="CAP-NAVY")
    page.fill(f"input[name=line-{cap.pk}]", "2")
    shot(page, "fulfilment-pick-list")
    page.click("text=Confirm what was found")
    page.wait_for_selector(".message")
    assert "1 unit(s) short went back to routing" in page.inner_text(".message")

    page.goto("/dashboard/fulfilment/")
    page.click("text=Pack SO-")
    page.wait_for_selector("#scan")
    for sku in ["tshirt-blk-m", "TSHIRT-BLK-M", "HOODIE-GRY-L", "CAP-NAVY", "CAP-NAVY", "CAP-NAVY", "NOPE-1"]:
        page.fill("#scan", sku)
        page.press("#scan", "Enter")
    # two caps were found, so the third scan is refused; an unknown SKU too
    assert "not on this order" in page.inner_text("#scan-result")
    counts = {
        row.get_attribute("data-sku"): row.query_selector("input").input_value()
        for row in page.query_selector_all("#pack-lines tbody tr")
    }
    assert counts == {"TSHIRT-BLK-M": "2", "HOODIE-GRY-L": "1", "CAP-NAVY": "2"}
    assert int(page.input_value("#weight")) > 200
    shot(page, "fulfilment-pack")
    page.click("text=Close the box")
    page.wait_for_selector("text=Handed to the carrier")
    shipment = Shipment.objects.get()
    package = shipment.packages.get()
    assert {line.order_line.sku: line.quantity for line in package.lines.all()} == {
        sku: int(units) for sku, units in counts.items()
    }
    label = page.request.get(f"/dashboard/fulfilment/labels/{package.pk}.pdf")
    assert (
        label.ok and label.headers["content-type"] == "application/pdf" and label.body().startswith(b"%PDF")
    )
    page.click("text=Handed to the carrier")
    page.wait_for_selector(".message.success")
    shot(page, "fulfilment-shipment")
    assert Shipment.objects.get(pk=shipment.pk).status == "shipped"
    assert Order.objects.get(pk=order_id).status == "partially_shipped"  # one cap is still to come
    page.goto(f"/dashboard/orders/{order_id}/")
    page.wait_for_selector("#fulfilment")
    shot(page, "order-fulfilment-panel")


def test_tracking_pages(page, ops_user, api, products):
    from datetime import timedelta

    from inventory import services as stock
    from routing import services as routing
    from shipments import services as fulfilment
    from shipments.carriers import sandbox
    from shipments.carriers.base import Tracking, TrackingEvent
    from shipments.models import Carrier, CarrierService
    from tracking import services as tracking
    from tracking.models import TrackingLink

    athens = make_warehouse("ATH1", "37.9", "23.7", name="Athens DC")
    for product in products:
        stock.stock_receive(
            warehouse=athens, product=product, quantity=10, actor="receiving", bin_code="A-01"
        )
    carrier = Carrier.objects.create(code="sandbox", name="Sandbox Post", adapter="sandbox")
    CarrierService.objects.create(carrier=carrier, code="express", name="Express", service_level="express")
    order_id = api.post("/api/v1/orders/", order_payload(), format="json").json()["id"]
    routing.route_order(order_id=order_id)
    actor = services.Actor.system("packer")
    pick_list = fulfilment.wave_release(warehouse_id=athens.pk, actor=actor)
    fulfilment.pick_list_confirm(
        pick_list_id=pick_list.pk,
        picked={line.pk: line.quantity for line in pick_list.lines.all()},
        actor=actor,
    )
    package = fulfilment.package_create(
        order_id=order_id,
        warehouse_id=athens.pk,
        contents=fulfilment.packable_units(order_id=order_id, warehouse_id=athens.pk),
        weight_grams=1500,
        length_mm=300,
        width_mm=200,
        height_mm=100,
        actor=actor,
    )
    shipment = fulfilment.shipment_create(package_ids=[package.pk], actor=actor)
    fulfilment.shipment_buy_labels(shipment_id=shipment.pk, actor=actor)
    shipment = fulfilment.shipment_hand_over(shipment_id=shipment.pk, actor=actor)
    tracking.tracking_start(shipment_id=shipment.pk)
    start = shipment.shipped_at
    events = []
    for hours, code, text in sandbox.NORMAL_SCRIPT[:3]:
        milestone, incident = sandbox.STATUS_MAP[code]
        events.append(
            TrackingEvent(code, text, start + timedelta(hours=hours), milestone, "Athens", incident)
        )
    tracking.events_ingest(
        shipment_id=shipment.pk, tracking=Tracking(shipment.tracking_number, tuple(events)), source="webhook"
    )
    token = TrackingLink.objects.get(order_id=order_id).token
    # a carrier's call the database refused an hour ago, still waiting
    from tracking.models import WebhookDelivery

    stuck = WebhookDelivery.objects.create(carrier=carrier, external_id="sbx-evt-7f3a", body="{}")
    WebhookDelivery.objects.filter(pk=stuck.pk).update(
        received_at=timezone.now() - timedelta(hours=1),
        error="OperationalError: could not extend file: No space left on device",
    )

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/track/{token}/")
    page.wait_for_selector(".parcel")
    assert "At the delivery depot near you" in page.inner_text(".status")
    assert "Maria" in page.inner_text("h1")
    assert "Papadopoulou" not in page.content()
    shot(page, "tracking-customer-page")
    # an unknown link: the customer's frame, nothing of the back office
    response = page.goto("/track/no-such-token/")
    assert response.status == 404
    assert "cannot find this tracking link" in page.inner_text("h1")
    assert page.locator("nav.mainnav").count() == 0 and "Back to orders" not in page.content()
    shot(page, "tracking-not-found")
    page.set_viewport_size({"width": 1366, "height": 900})
    log_in(page)
    expect(page.locator(".banner", has_text="1 carrier call not processed")).to_have_count(1)
    page.click("nav.mainnav >> text=Tracking")
    page.wait_for_selector("text=Update latency")
    assert "No space left on device" in page.inner_text("#carrier-calls")
    shot(page, "tracking-dashboard")
    page.goto(f"/dashboard/orders/{order_id}/")
    page.wait_for_selector("#tracking")
    shot(page, "order-tracking-panel")


def test_a_part_shipped_order_offers_to_cancel_or_hold_the_rest(page, ops_user, api, network):  # noqa: F811
    from tests.test_fulfilment import picked_order
    from tests.test_partial_shipments import ship

    order = picked_order(api, network)
    ship(order, network["ATH"], {"CAP-NAVY": 3})
    log_in(page)
    page.goto(f"/dashboard/orders/{order.pk}/")
    actions = page.locator("section.actions")
    assert "No action is possible" not in actions.inner_text()
    assert actions.locator("button", has_text="Put on hold").count() == 1
    shot(page, "order-part-shipped")
    page.once("dialog", lambda dialog: dialog.accept())
    page.fill("section.actions input[name=reason]", "customer changed their mind")
    actions.locator("button", has_text="Cancel the units not shipped").click()
    page.wait_for_selector(".message.success")
    assert "what shipped stays shipped" in page.locator(".messages").inner_text()
    order.refresh_from_db()
    assert order.status == "shipped"


def test_narrow_screens_keep_the_navigation_and_order_numbers_whole(page, ops_user, api, products):
    for n in range(3):
        api.post("/api/v1/orders/", order_payload(f"NARROW-{n}"), format="json")
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page)
    page.wait_for_selector("table.list")
    # measured once the stylesheet is in: the table can be in the DOM before it has loaded
    page.wait_for_load_state("load")
    # every navigation link can be seen on a phone: none runs off the right edge
    overflowing = page.evaluate(
        """() => [...document.querySelectorAll('nav.mainnav a')]
                 .filter(a => a.getBoundingClientRect().right > window.innerWidth + 1)
                 .map(a => a.innerText)"""
    )
    assert overflowing == []
    shot(page, "order-list-390")
    page.set_viewport_size({"width": 800, "height": 900})
    page.reload()
    heights = page.evaluate(
        """() => [...document.querySelectorAll('table.list tbody a[href^="/dashboard/orders/"]')].map(a => {
                 const r = a.getClientRects(); return r.length; })"""
    )
    assert heights and all(lines == 1 for lines in heights), heights  # one line box each: no wrap
    shot(page, "order-list-800")


def test_the_order_list_sorts_filters_without_reloading_and_acts_on_many(page, ops_user, api, products):
    for n in range(1, 5):
        body = order_payload(f"BULK-{n}", lines=[{"sku": "CAP-NAVY", "quantity": n, "unit_price": "15.00"}])
        api.post("/api/v1/orders/", body, format="json")
    log_in(page)
    page.wait_for_selector("table.list")
    page.evaluate("window.stillTheSamePage = true")
    # sort by total, then filter: the list is replaced in place (htmx), the page is not reloaded
    page.click("th >> text=Total")
    # (locator waits: a string predicate would be eval'd, which the page's CSP forbids)
    page.wait_for_selector("th[aria-sort=ascending]")
    numbers = page.locator("tbody td.mono").all_inner_texts()
    assert numbers == ["BULK-1", "BULK-2", "BULK-3", "BULK-4"]
    page.fill("input[name=q]", "BULK-3")
    page.click("form.filters button[type=submit]")
    expect(page.locator("tbody tr")).to_have_count(1)
    assert page.evaluate("window.stillTheSamePage") is True
    assert "q=BULK-3" in page.url  # the address follows, so the view can be shared or reloaded
    page.click("text=Clear")
    expect(page.locator("tbody tr")).to_have_count(4)
    # select all, hold them with a note
    page.check("#select-all")
    assert page.inner_text("#selected-count") == "4 selected"
    page.select_option("select[name=action]", "hold")
    page.fill("#bulk input[name=note]", "address check")
    page.click("#bulk button[type=submit]")
    page.wait_for_selector(".message.success")
    assert "4 orders done" in page.inner_text(".messages")
    assert set(Order.objects.values_list("status", flat=True)) == {"on_hold"}
    shot(page, "order-list-bulk")


def test_inventory_transfers_page(page, ops_user, products):
    from inventory import services as stock
    from orders.models import Product

    ath = make_warehouse("ATH1", name="Athens DC")
    make_warehouse("SKG1", "40.6", "22.9")
    stock.stock_receive(warehouse=ath, product=Product.objects.get(sku="CAP-NAVY"), quantity=9, actor="t")
    log_in(page)
    page.goto("/dashboard/inventory/transfers/")
    page.fill("input[name=sku]", "CAP-NAVY")
    page.select_option("select[name=from_warehouse]", "ATH1")
    page.select_option("select[name=to_warehouse]", "SKG1")
    page.fill("input[name=quantity]", "4")
    page.check("input[name=ship]")
    page.click("text=Start a transfer")
    page.wait_for_selector(".message.success")
    assert "in transit" in page.inner_text(".messages")
    page.click("button >> text=Received")
    page.wait_for_selector(".message.success")
    assert "is received" in page.inner_text(".messages")
    shot(page, "inventory-transfers")
    page.goto("/dashboard/inventory/CAP-NAVY/")
    assert (
        page.locator("text=Adjust stock").count() == 1
        and page.locator("text=Start the transfer").count() == 1
    )
    shot(page, "inventory-product")


def test_every_page_of_the_menu_and_the_api_docs_keep_to_the_content_security_policy(
    page, ops_user, api, products
):
    from django.contrib.auth.models import User

    api.post("/api/v1/orders/", order_payload("CSP-1"), format="json")
    log_in(page)
    page.wait_for_selector("table.list")
    menu = page.eval_on_selector_all("nav.mainnav a", "links => links.map(a => a.getAttribute('href'))")
    assert len(menu) >= 10
    for href in menu:
        response = page.goto(href)
        assert response.status == 200, href
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], href
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "same-origin"
    # the order list's select-all and its counter run from the dashboard's own script
    page.goto("/dashboard/orders/")
    page.check("#select-all")
    assert page.inner_text("#selected-count") == "1 selected"
    # the cancel button asks first; saying no sends nothing
    page.goto(page.locator("table.list tbody a").first.get_attribute("href"))
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("form[data-confirm] button")
    assert "/cancel" not in page.url
    # the API docs render from the OMS's own static files under the same policy
    page.goto("/api/docs/")
    page.wait_for_selector(".swagger-ui .information-container", timeout=15000)
    User.objects.create_superuser("root", "root@example.com", "pw-root-123")
    page.context.clear_cookies()
    page.goto("/admin/login/")
    page.fill("input[name=username]", "root")
    page.fill("input[name=password]", "pw-root-123")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    page.goto("/admin/orders/apikey/")
    page.wait_for_selector("#result_list, .paginator")
