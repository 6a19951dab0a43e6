"""The returns pages in headless Chromium: the customer's self-service form on the tracking page, the
receiving bench with a scanner, and the ops pages (queue, return, new return, rates)."""

import pytest

from returns.models import Return, ReturnStatus
from tests.returns_world import delivered_order
from tests.test_browser import browser, log_in, page, shot  # noqa: F401 (fixtures)
from tests.test_fulfilment import network  # noqa: F401 (fixture)
from tests.test_returns import ask
from tracking.models import TrackingLink

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_customer_sends_something_back_from_the_tracking_page(page, api, network):  # noqa: F811
    order = delivered_order(api, network)
    token = TrackingLink.objects.get(order=order).token
    page.goto(f"/track/{token}/")
    page.click("text=Send something back")
    page.fill("input[name=proof]", "11111")
    page.click("text=Continue")
    assert "That does not match this order." in page.inner_text("main")
    page.fill("input[name=proof]", "maria.p@example.gr")
    page.click("text=Continue")
    page.wait_for_selector("#return-form")
    shot(page, "return-self-service")
    cap = order.lines.get(sku="CAP-NAVY")
    page.select_option(f"select[name=units-{cap.pk}]", "2")
    page.select_option(f"select[name=reason-{cap.pk}]", "too_large")
    page.check("input[value=store_credit]")
    page.click("text=Ask to send it back")
    page.wait_for_selector("#return-status")
    assert "You can send it back" in page.inner_text("#return-status")
    ret = Return.objects.get()
    assert (ret.credit_method, ret.lines.get().quantity) == ("store_credit", 2)
    page.click("text=Get a prepaid label")
    page.wait_for_selector("text=Print your label")
    assert "label may be taken from your refund" not in page.inner_text("main")  # the label is bought
    shot(page, "return-self-service-label")
    # a phone-sized screen reads it without sideways scrolling
    page.set_viewport_size({"width": 390, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_the_receiving_bench_with_a_scanner(page, ops_user, api, network):  # noqa: F811
    order = delivered_order(api, network)
    ret = ask(order, ("CAP-NAVY", 3, "damaged"))
    line = ret.lines.get()
    log_in(page)
    page.goto(f"/dashboard/returns/{ret.pk}/receive/")
    for _ in range(3):
        page.fill("#scan", "cap-navy")
        page.press("#scan", "Enter")
    assert page.input_value(f"input[name=received-{line.pk}]") == "3"
    assert page.input_value(f"input[name=restock-{line.pk}]") == "3"
    page.fill("#scan", "cap-navy")
    page.press("#scan", "Enter")
    assert "are counted; another one is unexpected" in page.inner_text("#scan-result")
    page.fill(f"input[name=scrap-{line.pk}]", "1")
    page.dispatch_event(f"input[name=scrap-{line.pk}]", "input")
    assert page.input_value(f"input[name=restock-{line.pk}]") == "2"
    page.fill("#scan", "tshirt-blk-m")
    page.press("#scan", "Enter")
    assert page.input_value("#extra-sku") == "TSHIRT-BLK-M" and page.input_value("#extra-quantity") == "1"
    shot(page, "return-receiving-bench")
    page.click("text=Receive and inspect")
    page.wait_for_selector("#credit")
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.CLOSED
    assert sorted(ret.inspections.values_list("disposition", "quantity")) == [
        ("quarantine", 1),
        ("restock", 2),
        ("scrap", 1),
    ]
    shot(page, "return-detail-closed")


def test_the_ops_returns_pages(page, ops_user, api, network):  # noqa: F811
    order = delivered_order(api, network)
    ret = ask(order, ("HOODIE-GRY-L", 1, "too_large"), ("CAP-NAVY", 1, "damaged"))
    log_in(page)
    page.goto("/dashboard/returns/")
    page.wait_for_selector("table#returns")
    assert page.locator("nav.mainnav a.active").inner_text() == "Returns"
    assert page.locator("table#returns tbody tr").count() == 1
    shot(page, "return-queue")
    page.click(f"text={ret.number}")
    page.wait_for_selector("#verdict")
    page.click("text=Buy a return label")
    page.wait_for_selector(".message.success")
    assert "Label (PDF)" in page.inner_text("#label")
    shot(page, "return-detail")
    page.goto(f"/dashboard/orders/{order.pk}/")
    page.click("text=Open a return for the customer")
    page.wait_for_selector("table#returnable")
    shot(page, "return-new")
    page.goto("/dashboard/returns/rates/")
    page.wait_for_selector("#by-reason a.hbar")
    assert page.locator("#by-reason a.hbar").count() == 2
    shot(page, "return-rates")
