"""The KPI pages in headless Chromium: the landing page after login draws a chart per KPI from the
folded history, a point of a chart leads to that day's orders, and a figure to its breakdowns."""

import pytest

from kpis import services as kpis
from tests.test_browser import browser, page, shot  # noqa: F401 (fixtures)
from tests.test_kpis import DAY_ONE, DAY_TWO, history, network  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_kpi_pages_chart_the_history_and_drill_down_to_its_orders(page, ops_user, history):  # noqa: F811
    kpis.figures_fold()
    page.goto("/login/")
    page.fill("input[name=username]", "olga")
    page.fill("input[name=password]", "pw-olga-123")
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard/kpis/")
    assert page.locator("nav.mainnav a.active").inner_text() == "KPIs"
    page.goto(f"/dashboard/kpis/?start={DAY_ONE}&end={DAY_TWO}")
    on_time = page.locator('section[data-kpi="on_time"]')
    assert on_time.locator(".figure strong").inner_text() == "80.0 %"
    # two days, two points, each a link to its day's orders; the chart is drawn at the card's width
    dots = on_time.locator("svg.trend circle.dot")
    assert dots.count() == 2
    assert on_time.locator("svg.trend").bounding_box()["width"] > 250
    shot(page, "kpis-home")
    on_time.locator("svg.trend a").nth(1).click()
    page.wait_for_url("**/on_time/orders/**")
    rows = page.locator("table.list tbody tr")
    assert sorted(rows.nth(i).locator("td").nth(2).inner_text() for i in range(rows.count())) == [
        "KPI-B",
        "KPI-D",
    ]
    page.goto(f"/dashboard/kpis/?start={DAY_ONE}&end={DAY_TWO}")
    page.click('section[data-kpi="on_time"] .figure a')
    page.wait_for_selector("text=By warehouse")
    shot(page, "kpi-detail")
    page.click("text=missed >> nth=0")
    page.wait_for_url("**missed=1**")
    assert page.locator("table.list tbody tr").count() == 1
    # a tablet's width: the cards stack and the charts still fit
    page.set_viewport_size({"width": 768, "height": 1024})
    page.goto(f"/dashboard/kpis/?start={DAY_ONE}&end={DAY_TWO}")
    box = page.locator('section[data-kpi="on_time"] svg.trend').bounding_box()
    assert box["width"] <= 768 and box["width"] > 300
    shot(page, "kpis-tablet")
