"""The KPI pages an ops person lands on after login: the figures of the hand-built history in
tests/test_kpis.py, the drill-down to the orders behind a figure, CSV of each table, the period and
filters in the URL, and clear refusals of a bad period."""

import csv
import io
from datetime import timedelta

import pytest

from kpis import services as kpis
from tests.test_kpis import DAY_ONE, DAY_TWO, history, network  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

ONE, TWO = DAY_ONE.isoformat(), DAY_TWO.isoformat()
BOTH_DAYS = {"start": ONE, "end": TWO}


@pytest.fixture
def folded(history):  # noqa: F811
    kpis.figures_fold()
    return history


def external_ids(response) -> set[str]:
    page = response.content.decode()
    return {f"KPI-{x}" for x in "ABCDEF" if f">KPI-{x}<" in page}


def test_login_lands_on_the_kpis(client, ops_user):
    response = client.post("/login/", {"username": "olga", "password": "pw-olga-123"})
    assert response.status_code == 302 and response["Location"] == "/dashboard/kpis/"
    assert client.get("/").url == "/dashboard/kpis/"


def test_the_home_page_shows_each_figure_its_trend_and_links_to_the_orders(ops_client, folded):
    response = ops_client.get("/dashboard/kpis/", BOTH_DAYS)
    assert response.status_code == 200
    page = response.content.decode()
    # on-time over both days: 3 of 3 on day one, 1 of 2 on day two
    assert 'data-kpi="on_time"' in page and "<strong>80.0 %</strong>" in page
    assert f'<a href="/dashboard/kpis/orders/?start={ONE}&amp;end={TWO}"><strong>2</strong>' in page  # E, F
    assert page.count('<svg class="trend"') == 13
    # each day of a chart is a link to that day's orders
    assert f"/dashboard/kpis/on_time/orders/?start={TWO}&amp;end={TWO}" in page


def test_the_drill_down_lists_the_orders_behind_a_figure_and_the_ones_that_missed(ops_client, folded):
    day_two = {"start": TWO, "end": TWO}
    assert external_ids(ops_client.get("/dashboard/kpis/on_time/orders/", day_two)) == {"KPI-B", "KPI-D"}
    missed = ops_client.get("/dashboard/kpis/on_time/orders/", {**day_two, "missed": "1"})
    assert external_ids(missed) == {"KPI-B"}
    exported = ops_client.get("/dashboard/kpis/on_time/orders/", {**day_two, "missed": "1", "format": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert [row[2] for row in rows[1:]] == ["KPI-B"]


def test_a_kpis_page_breaks_it_down_and_exports_each_table(ops_client, folded):
    response = ops_client.get("/dashboard/kpis/on_time/", BOTH_DAYS)
    page = response.content.decode()
    assert "By channel" in page and "By warehouse" in page and "By carrier" in page
    assert "Athens DC" in page and "Sandbox Post" in page
    by_day = ops_client.get("/dashboard/kpis/on_time/export.csv", {**BOTH_DAYS, "by": "day"})
    rows = list(csv.reader(io.StringIO(b"".join(by_day.streaming_content).decode())))
    assert rows[0] == ["day", "on_time"]
    assert [(d, round(float(v), 4)) for d, v in rows[1:]] == [(ONE, 1.0), (TWO, 0.5)]
    by_warehouse = ops_client.get("/dashboard/kpis/on_time/export.csv", {**BOTH_DAYS, "by": "warehouse"})
    rows = list(csv.reader(io.StringIO(b"".join(by_warehouse.streaming_content).decode())))
    assert rows[1][0] == "Athens DC" and float(rows[1][1]) == 0.8 and float(rows[1][2]) == 5


def test_filters_live_in_the_url_and_an_order_kpi_says_it_has_no_warehouse(ops_client, folded):
    page = ops_client.get("/dashboard/kpis/", {**BOTH_DAYS, "warehouse": "ATH"}).content.decode()
    assert "<strong>80.0 %</strong>" in page  # on-time at Athens: every shipment
    assert "Not counted per warehouse or carrier" in page  # e.g. orders placed
    assert "warehouse=ATH" in page  # the links keep the filter


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            {"start": (DAY_ONE + timedelta(days=5)).isoformat(), "end": ONE},
            "The period starts after it ends.",
        ),
        (
            {"start": (DAY_ONE - timedelta(days=800)).isoformat(), "end": ONE},
            "A period covers at most 731 days.",
        ),
        ({"start": "yesterday"}, "Enter a valid date."),
        ({"start": "0001-01-01", "end": "0001-01-02"}, "0001-01-01 is outside."),
        ({"end": "9999-12-31"}, "Dates go from 01 Jan 2000 to a year from today"),
        ({"days": "9999"}, "Select a valid choice."),
        ({"channel": "no-such-channel"}, "Select a valid choice."),
    ],
)
def test_a_bad_period_or_filter_is_named_and_the_default_view_shown(ops_client, db, query, message):
    response = ops_client.get("/dashboard/kpis/", query)
    assert response.status_code == 200
    assert message in response.content.decode()


def test_an_unknown_kpi_is_404_and_the_pages_are_for_ops_only(ops_client, db):
    from django.test import Client

    assert ops_client.get("/dashboard/kpis/no_such_kpi/").status_code == 404
    assert ops_client.get("/dashboard/kpis/on_time/export.csv", {"by": "moon"}).status_code == 404
    assert Client().get("/dashboard/kpis/").status_code == 302  # to the login page


def test_cost_per_delivery_by_lane_and_its_orders(ops_client, folded):
    page = ops_client.get("/dashboard/kpis/cost_per_delivery/", BOTH_DAYS).content.decode()
    assert "By lane (warehouse → destination)" in page and "Athens DC → GR" in page
    lane = {**BOTH_DAYS, "warehouse": "ATH", "country": "gr"}
    assert external_ids(ops_client.get("/dashboard/kpis/on_time/orders/", lane)) == {
        "KPI-A",
        "KPI-B",
        "KPI-C",
        "KPI-D",
    }
    assert external_ids(ops_client.get("/dashboard/kpis/on_time/orders/", {**lane, "country": "DE"})) == set()
    home = ops_client.get("/dashboard/kpis/", lane).content.decode()
    assert "<strong>80.0 %</strong>" in home  # on-time on the lane Athens -> Greece: every shipment here
    refused = ops_client.get("/dashboard/kpis/", {"country": "Greece"}).content.decode()
    assert "A country is two letters (ISO 3166-1), e.g. GR." in refused


def test_a_kpis_page_costs_the_same_few_queries_however_many_rows_its_breakdowns_have(
    ops_client, folded, django_assert_max_num_queries
):
    from inventory.models import Warehouse
    from kpis.models import DailyFigure, Grain

    # forty more warehouses, each with a figure on day one: forty more rows in two breakdowns
    for n in range(40):
        house = Warehouse.objects.create(
            code=f"X{n:02d}",
            name=f"Extra {n}",
            line1="x",
            city="Athens",
            country="GR",
            latitude=0,
            longitude=0,
        )
        for grain, country in ((Grain.WAREHOUSE, ""), (Grain.LANE, "GR")):
            DailyFigure.objects.create(
                day=DAY_ONE,
                kpi="on_time",
                grain=grain,
                warehouse=house,
                country=country,
                numerator=1,
                denominator=2,
            )
    ops_client.get("/dashboard/kpis/on_time/", BOTH_DAYS)  # the session warms up
    # the session, the user, the ops check, four banners, the figures, four breakdowns with their
    # names, the codes for their links, thresholds, the filters' three menus: about twenty, not one
    # more per row (it was two per row: each link looked up its code)
    with django_assert_max_num_queries(24):
        page = ops_client.get("/dashboard/kpis/on_time/", BOTH_DAYS).content.decode()
    assert page.count("warehouse=X") >= 160  # all and missed links, by warehouse and by lane
