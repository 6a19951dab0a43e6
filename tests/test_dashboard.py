"""Dashboard pages through Django's test client: access rules, search and filters, actions."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group, User

from oms.dashboard import OPS_GROUP
from orders import services
from orders.models import Order, OrderEvent
from tests.factories import order_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def orders(api, other_api, products):
    def make(client, external_id, **customer):
        body = order_payload(external_id)
        body["customer"] = customer
        return client.post("/api/v1/orders/", body, format="json").json()["id"]

    return [
        make(api, "WEB-1", email="maria@example.gr", first_name="Maria", last_name="Papadopoulou"),
        make(api, "WEB-2", email="nikos@example.gr", first_name="Nikos", last_name="Dimitriou"),
        make(other_api, "MP-77", email="anna@example.de", first_name="Anna", last_name="Schmidt"),
    ]


@pytest.mark.parametrize("url", ["/dashboard/orders/", "/dashboard/orders/1/"])
def test_login_required(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_users_outside_ops_are_refused(client, orders):
    client.force_login(User.objects.create_user("visitor", password="pw-visitor-1"))
    response = client.get("/dashboard/orders/")
    assert response.status_code == 403
    assert b"ops staff" in response.content


def test_login_page_logs_in(client, orders):
    user = User.objects.create_user("olga", password="pw-olga-123")
    user.groups.add(Group.objects.get_or_create(name=OPS_GROUP)[0])
    assert client.get("/login/").status_code == 200
    response = client.post("/login/", {"username": "olga", "password": "pw-olga-123"})
    assert response.status_code == 302
    assert client.get(response["Location"]).status_code == 200


# The day (UTC) on which order_payload() says its orders were placed.
PLACED_DAY = datetime.fromisoformat(order_payload()["placed_at"]).astimezone(UTC).date()


def listed(response) -> list[str]:
    content = response.content.decode()
    return [external_id for external_id in ("WEB-1", "WEB-2", "MP-77") if f">{external_id}<" in content]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["WEB-1", "WEB-2", "MP-77"]),
        ({"q": "mp-77"}, ["MP-77"]),
        ({"q": "NIKOS@example"}, ["WEB-2"]),
        ({"q": " Nikos@Example.GR "}, ["WEB-2"]),  # a whole address: the indexed exact lookup
        ({"q": "nobody@example.gr"}, []),
        ({"q": "maria papadopoulou"}, ["WEB-1"]),
        ({"q": "schmidt"}, ["MP-77"]),
        ({"channel": "marketplace"}, ["MP-77"]),
        ({"status": "cancelled"}, ["WEB-2"]),
        ({"status": "received", "channel": "web-eu"}, ["WEB-1"]),
        ({"status": "nonsense"}, ["WEB-1", "WEB-2", "MP-77"]),
        ({"placed_from": str(PLACED_DAY + timedelta(days=1))}, []),
        ({"placed_from": str(PLACED_DAY), "placed_to": str(PLACED_DAY)}, ["WEB-1", "WEB-2", "MP-77"]),
    ],
)
def test_search_and_filters(ops_client, orders, query, expected):
    services.order_cancel(order_id=orders[1], actor=services.Actor.system())
    response = ops_client.get("/dashboard/orders/", query)
    assert response.status_code == 200
    assert listed(response) == [e for e in ["WEB-1", "WEB-2", "MP-77"] if e in expected]


def test_search_by_our_number(ops_client, orders):
    number = Order.objects.get(pk=orders[2]).number
    assert listed(ops_client.get("/dashboard/orders/", {"q": number})) == ["MP-77"]
    assert listed(ops_client.get("/dashboard/orders/", {"q": str(orders[2])})) == ["MP-77"]


def test_list_page_query_budget(ops_client, api, products, django_assert_max_num_queries):
    for n in range(30):
        api.post("/api/v1/orders/", order_payload(f"WEB-{n}"), format="json")
    # session, user, groups check, status counts (one statement, each bounded), the total's estimate
    # (a bounded count where PostgreSQL has no estimate yet), page count (bounded), warehouses and
    # channels for the filters, the page of orders and its line counts, and the four banners (open KPI
    # alerts, disabled webhook endpoints, shop orders not taken, carrier calls waiting): none grows
    # with the table
    with django_assert_max_num_queries(15):
        response = ops_client.get("/dashboard/orders/")
    assert response.content.decode().count('href="/dashboard/orders/') >= 30


def test_pagination(ops_client, api, products, settings):
    settings.DASHBOARD_PAGE_SIZE = 2
    for n in range(5):
        api.post("/api/v1/orders/", order_payload(f"WEB-{n}"), format="json")
    page3 = ops_client.get("/dashboard/orders/", {"page": 3}).content.decode()
    assert "Page 3 of 3" in page3
    assert ">WEB-0<" in page3


def test_detail_shows_lines_customer_address_and_timeline(ops_client, orders):
    services.order_hold(order_id=orders[0], reason="fraud_review", actor=services.Actor.system("fraud check"))
    content = ops_client.get(f"/dashboard/orders/{orders[0]}/").content.decode()
    for text in [
        "TSHIRT-BLK-M",
        "HOODIE-GRY-L",
        "Maria Papadopoulou",
        "maria@example.gr",
        "Odos Patision 12",
        "104 34 Athens",
        "129.70 EUR",
        "Received → On hold",
        "fraud check",
        "Release hold",
    ]:
        assert text in content, text


def test_unknown_order_is_404(ops_client):
    assert ops_client.get("/dashboard/orders/999999/").status_code == 404


def test_actions_go_through_the_services(ops_client, orders):
    order_id = orders[0]
    response = ops_client.post(
        f"/dashboard/orders/{order_id}/hold/", {"reason": "manual", "note": "call customer"}, follow=True
    )
    assert "is on hold" in response.content.decode()
    order = Order.objects.get(pk=order_id)
    assert (order.status, order.hold_reason) == ("on_hold", "manual")
    event = OrderEvent.objects.filter(order_id=order_id).last()
    assert (event.actor_type, event.actor_label, event.note) == ("user", "olga", "call customer")
    ops_client.post(f"/dashboard/orders/{order_id}/release/", {"note": ""})
    assert Order.objects.get(pk=order_id).status == "received"
    ops_client.post(f"/dashboard/orders/{order_id}/cancel/", {"reason": "duplicate"})
    assert Order.objects.get(pk=order_id).status == "cancelled"


def test_illegal_action_shows_a_clear_message_and_changes_nothing(ops_client, orders):
    order_id = orders[0]
    services.order_cancel(order_id=order_id, actor=services.Actor.system())
    events = OrderEvent.objects.count()
    response = ops_client.post(f"/dashboard/orders/{order_id}/hold/", {"reason": "fraud_review"}, follow=True)
    content = response.content.decode()
    assert "cannot go from cancelled to on hold" in content
    assert 'class="message error"' in content
    assert Order.objects.get(pk=order_id).status == "cancelled"
    assert OrderEvent.objects.count() == events


def test_manual_hold_without_note_is_refused_with_message(ops_client, orders):
    response = ops_client.post(f"/dashboard/orders/{orders[0]}/hold/", {"reason": "manual"}, follow=True)
    assert (
        "manual hold needs a note" in response.content.decode().lower()
        or "Say why" in response.content.decode()
    )
    assert Order.objects.get(pk=orders[0]).status == "received"


def test_admin_pages_render_for_every_model(client, orders):
    from django.apps import apps
    from django.contrib import admin

    ours = [
        m for app in ("oms", "orders", "inventory", "routing") for m in apps.get_app_config(app).get_models()
    ]
    assert [m for m in ours if m not in admin.site._registry] == []
    client.force_login(User.objects.create_superuser("root", password="pw-root-123"))
    for model in admin.site._registry:
        opts = model._meta
        response = client.get(f"/admin/{opts.app_label}/{opts.model_name}/")
        assert response.status_code == 200, opts.label
    assert client.get(f"/admin/orders/order/{orders[0]}/change/").status_code == 200


def test_an_order_without_discounts_shows_no_negative_zero(ops_client, api, products):
    body = order_payload("NODISC-1", order_discount="0")
    for line in body["lines"]:
        line.pop("discount", None)
    order_id = api.post("/api/v1/orders/", body, format="json").json()["id"]
    page = ops_client.get(f"/dashboard/orders/{order_id}/").content.decode()
    assert "\N{MINUS SIGN}0.00" not in page and "-0.00" not in page
