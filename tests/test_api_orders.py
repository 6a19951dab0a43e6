import json
from decimal import Decimal

import pytest

from oms.models import DomainEvent
from orders import services
from orders.models import Address, Customer, Order, OrderEvent, OrderLine, OrderStatus
from tests.clock import at, iso
from tests.conftest import api_client_for
from tests.factories import order_payload

pytestmark = pytest.mark.django_db

URL = "/api/v1/orders/"


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Order, OrderLine, OrderEvent, Customer, Address, DomainEvent)
    }


def post(client, body, **headers):
    return client.post(URL, body, format="json", **headers)


def test_create_order_happy_path(api, channel, products):
    response = post(api, order_payload())
    assert response.status_code == 201, response.json()
    body = response.json()
    order = Order.objects.get()
    assert response["Location"] == f"{URL}{order.pk}/"
    assert body["id"] == order.pk
    assert body["number"] == f"SO-{order.pk:07d}"
    assert body["channel"] == "web-eu"
    assert body["external_id"] == "WEB-1001"
    assert body["status"] == "received"
    assert body["currency"] == "EUR"
    assert body["subtotal"] == "133.80"
    assert body["discount_total"] == "9.00"
    assert body["shipping_total"] == "4.90"
    assert body["total"] == "129.70"
    assert body["service_level"] == "express"
    assert body["payment_status"] == "paid"
    # the channel's +02:00 times, given back in UTC
    assert body["requested_delivery_window"] == {
        "start": at(days=5, hours=22).isoformat().replace("+00:00", "Z"),
        "end": at(days=6, hours=2).isoformat().replace("+00:00", "Z"),
    }
    assert body["customer"]["email"] == "maria.p@example.gr"
    assert body["customer"]["phone"] == "+306912345678"
    assert body["shipping_address"]["country"] == "GR"
    assert body["shipping_address"]["postal_code"] == "104 34"
    assert [(ln["line_number"], ln["sku"], ln["quantity"], ln["total"]) for ln in body["lines"]] == [
        (1, "TSHIRT-BLK-M", 2, "39.80"),
        (2, "HOODIE-GRY-L", 1, "45.00"),
        (3, "CAP-NAVY", 3, "45.00"),
    ]
    assert body["lines"][0]["quantities"] == {
        "ordered": 2,
        "allocated": 0,
        "picked": 0,
        "shipped": 0,
        "delivered": 0,
        "returned": 0,
        "cancelled": 0,
    }
    assert order.total == Decimal("129.70")
    event = OrderEvent.objects.get(order=order)
    assert (event.kind, event.to_status, event.actor_type) == ("created", "received", "channel")
    domain_event = DomainEvent.objects.get()
    assert (domain_event.name, domain_event.aggregate_id) == ("order.received", str(order.pk))
    assert domain_event.payload == {"order_id": order.pk, "channel": "web-eu", "external_id": "WEB-1001"}


def test_zero_decimal_currency(api, products):
    body = order_payload(
        currency="JPY",
        order_discount="0",
        shipping_total="500",
        lines=[{"sku": "CAP-NAVY", "quantity": 2, "unit_price": "1500"}],
    )
    response = post(api, body)
    assert response.status_code == 201, response.json()
    assert response.json()["total"] == "3500"


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        (
            {"lines": [{"sku": "NOPE-1", "quantity": 1, "unit_price": "1.00"}]},
            "lines.0.sku",
            "Unknown SKU 'NOPE-1'",
        ),
        (
            {"lines": [{"sku": "CAP-NAVY", "quantity": 0, "unit_price": "1.00"}]},
            "lines.0.quantity",
            "greater than or equal to 1",
        ),
        (
            {"lines": [{"sku": "CAP-NAVY", "quantity": "two", "unit_price": "1.00"}]},
            "lines.0.quantity",
            "valid integer",
        ),
        (
            {"lines": [{"sku": "CAP-NAVY", "quantity": 1, "unit_price": "-1"}]},
            "lines.0.unit_price",
            "greater than or equal to 0",
        ),
        ({"lines": []}, "lines", "may not be empty"),
        ({"currency": "EUX"}, "currency", "not an ISO 4217 currency"),
        ({"currency": "JPY"}, "lines.0.unit_price", "JPY amounts have at most 0 decimal places"),
        ({"external_id": ""}, "external_id", "may not be blank"),
        ({"service_level": "teleport"}, "service_level", "not a valid choice"),
        ({"customer": {"first_name": "Nobody"}}, "customer", "e-mail or a phone"),
        ({"customer": {"email": "not-an-email"}}, "customer.email", "valid email"),
        ({"customer": {"phone": "12"}}, "customer.phone", "phone"),
        (
            {
                "requested_delivery_window": {
                    "start": iso(at(days=7, hours=1)),
                    "end": iso(at(days=6, hours=1)),
                }
            },
            "requested_delivery_window.end",
            "ends before it starts",
        ),
    ],
)
def test_invalid_orders_are_refused_field_by_field(api, products, change, field, fragment):
    before = counts()
    response = post(api, order_payload(**change))
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"], error
    assert any(fragment in message for message in error["details"][field]), error["details"][field]
    assert counts() == before


@pytest.mark.parametrize(
    ("address", "field", "fragment"),
    [
        ({"postal_code": "1234"}, "shipping_address.postal_code", "not a valid postal code in Greece"),
        ({"postal_code": ""}, "shipping_address.postal_code", "required in Greece"),
        ({"country": "XX"}, "shipping_address.country", "not an ISO 3166-1"),
        ({"line1": ""}, "shipping_address.line1", "may not be blank"),
        ({"latitude": 95}, "shipping_address.latitude", "less than or equal to 90"),
    ],
)
def test_bad_addresses_are_refused(api, products, address, field, fragment):
    body = order_payload()
    body["shipping_address"] = {**body["shipping_address"], **address}
    before = counts()
    response = post(api, body)
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert any(fragment in message for message in details[field]), details
    assert counts() == before


def test_us_address_needs_state(api, products):
    body = order_payload()
    body["shipping_address"] = {
        "name": "Jo Doe",
        "line1": "1 Main St",
        "city": "New York",
        "postal_code": "10001",
        "country": "US",
    }
    response = post(api, body)
    assert response.status_code == 400
    assert "shipping_address.region" in response.json()["error"]["details"]


def test_every_problem_is_listed_at_once(api, products):
    body = order_payload(
        lines=[
            {"sku": "NOPE-1", "quantity": 1, "unit_price": "1.00"},
            {"sku": "CAP-NAVY", "quantity": 1, "unit_price": "1.00"},
            {"sku": "NOPE-2", "quantity": 1, "unit_price": "1.00"},
        ]
    )
    body["shipping_address"]["postal_code"] = "1"
    response = post(api, body)
    details = response.json()["error"]["details"]
    assert set(details) == {"lines.0.sku", "lines.2.sku", "shipping_address.postal_code"}


def test_validation_keeps_nothing_from_the_previous_request(api, products):
    # The thread reuses one validator instance per input shape; each request must be judged alone.
    bad_lines = order_payload("BAD-1", lines=[{"sku": "CAP-NAVY", "quantity": 0, "unit_price": "1.00"}])
    first = post(api, bad_lines)
    assert first.status_code == 400
    assert set(first.json()["error"]["details"]) == {"lines.0.quantity"}

    good = post(api, order_payload("GOOD-1"))
    assert good.status_code == 201, good.json()
    assert good.json()["external_id"] == "GOOD-1"

    bad_currency = order_payload("BAD-2")
    bad_currency["currency"] = "XXQ"
    second = post(api, bad_currency)
    assert second.status_code == 400
    assert set(second.json()["error"]["details"]) == {"currency"}

    again = post(
        api, order_payload("GOOD-2", lines=[{"sku": "CAP-NAVY", "quantity": 2, "unit_price": "3.00"}])
    )
    assert again.status_code == 201, again.json()
    assert [(line["sku"], line["quantity"]) for line in again.json()["lines"]] == [("CAP-NAVY", 2)]
    assert Order.objects.filter(external_id__startswith="BAD").count() == 0


def test_malformed_json(api, products):
    before = counts()
    response = api.post(URL, data='{"external_id": "X", ', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    assert counts() == before


def test_duplicate_external_id_points_at_the_first(api, products):
    first = post(api, order_payload()).json()
    before = counts()
    response = post(api, order_payload(lines=[{"sku": "CAP-NAVY", "quantity": 1, "unit_price": "15.00"}]))
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "duplicate_external_id"
    assert error["details"]["existing_order_id"] == first["id"]
    assert counts() == before


def test_same_external_id_in_another_channel_is_another_order(api, other_api, products):
    assert post(api, order_payload()).status_code == 201
    assert post(other_api, order_payload()).status_code == 201
    assert Order.objects.count() == 2
    assert Customer.objects.count() == 1


def test_channel_sees_only_its_orders(api, other_api, products):
    mine = post(api, order_payload()).json()
    theirs = post(other_api, order_payload("MP-1")).json()
    assert api.get(f"{URL}{theirs['id']}/").status_code == 404
    assert api.post(f"{URL}{theirs['id']}/cancel/", {}, format="json").status_code == 404
    assert (
        api.patch(
            f"{URL}{theirs['id']}/", {"lines": [{"line_number": 1, "quantity": 1}]}, format="json"
        ).status_code
        == 404
    )
    assert Order.objects.get(pk=theirs["id"]).status == "received"
    assert [o["id"] for o in api.get(URL).json()["results"]] == [mine["id"]]


def test_missing_unknown_and_revoked_keys(channel_key, products):
    key, raw = channel_key
    anonymous = api_client_for("")
    anonymous.credentials()
    response = anonymous.get(URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert api_client_for("oms_not-a-key").get(URL).status_code == 401
    assert api_client_for(raw).get(URL).status_code == 200
    services.api_key_revoke(key_id=key.pk)
    response = api_client_for(raw).post(URL, order_payload(), format="json")
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]
    assert Order.objects.count() == 0


def test_integration_key_cannot_use_orders(catalog_api, products):
    response = catalog_api.post(URL, order_payload(), format="json")
    assert response.status_code == 403
    assert Order.objects.count() == 0


def test_list_filters_and_cursor_pagination(api, products):
    ids = [post(api, order_payload(f"WEB-{n}")).json()["id"] for n in range(5)]
    services.order_cancel(order_id=ids[0], actor=services.Actor.system())
    page = api.get(URL, {"page_size": 2}).json()
    assert [o["id"] for o in page["results"]] == ids[::-1][:2]
    second = api.get(page["next"]).json()
    assert [o["id"] for o in second["results"]] == ids[::-1][2:4]
    assert [o["id"] for o in api.get(URL, {"status": "cancelled"}).json()["results"]] == [ids[0]]
    assert len(api.get(URL, {"status": "cancelled,received"}).json()["results"]) == 5
    assert [o["id"] for o in api.get(URL, {"external_id": "WEB-3"}).json()["results"]] == [ids[3]]
    cancelled_at = Order.objects.get(pk=ids[0]).updated_at
    since = api.get(URL, {"updated_since": cancelled_at.isoformat()}).json()["results"]
    assert [o["id"] for o in since] == [ids[0]]
    bad = api.get(URL, {"status": "lost"})
    assert bad.status_code == 400
    assert "status" in bad.json()["error"]["details"]
    assert api.get(URL, {"updated_since": "yesterday"}).status_code == 400


def test_list_query_budget(api, products, django_assert_max_num_queries):
    for n in range(20):
        post(api, order_payload(f"WEB-{n}"))
    # key lookup, orders with channel/customer/address, lines: the same for 20 orders as for 1
    with django_assert_max_num_queries(3):
        response = api.get(URL)
    assert len(response.json()["results"]) == 20


def test_detail_has_lines_and_history(api, channel_key, products):
    order_id = post(api, order_payload()).json()["id"]
    services.order_hold(order_id=order_id, reason="fraud_review", actor=services.Actor.system("fraud check"))
    body = api.get(f"{URL}{order_id}/").json()
    assert body["status"] == "on_hold"
    assert body["hold_reason"] == "fraud_review"
    assert [(h["kind"], h["from_status"], h["to_status"], h["actor"]) for h in body["history"]] == [
        ("created", "", "received", f"web key ({channel_key[0].prefix}…)"),
        ("status_changed", "received", "on_hold", "fraud check"),
    ]


def test_cancel_and_cancel_again(api, products):
    order_id = post(api, order_payload()).json()["id"]
    response = api.post(f"{URL}{order_id}/cancel/", {"reason": "customer asked"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "cancelled"
    assert [line["quantities"]["cancelled"] for line in body["lines"]] == [2, 1, 3]
    assert body["history"][-1]["note"] == "customer asked"
    before = counts()
    again = api.post(f"{URL}{order_id}/cancel/", {}, format="json")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "illegal_transition"
    assert counts() == before


def test_edit_address_and_quantities(api, products):
    order_id = post(api, order_payload()).json()["id"]
    new_address = {
        "name": "Maria Papadopoulou",
        "line1": "Tsimiski 45",
        "city": "Thessaloniki",
        "postal_code": "546 23",
        "country": "GR",
    }
    response = api.patch(
        f"{URL}{order_id}/",
        {
            "shipping_address": new_address,
            "lines": [{"line_number": 1, "quantity": 1}, {"line_number": 2, "quantity": 0}],
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["shipping_address"]["city"] == "Thessaloniki"
    assert [ln["quantity"] for ln in body["lines"]] == [1, 0, 3]
    # 19.90 + 45.00 = 64.90 subtotal, order discount 5.00, line 2's discount gone with its units
    assert (body["subtotal"], body["discount_total"], body["total"]) == ("64.90", "5.00", "64.80")
    kinds = [(h["kind"], h["before"], h["after"]) for h in body["history"][1:]]
    assert kinds[0][0] == "address_changed"
    assert kinds[0][1]["city"] == "Athens" and kinds[0][2]["city"] == "Thessaloniki"
    assert kinds[1] == (
        "line_changed",
        {"line_number": 1, "sku": "TSHIRT-BLK-M", "quantity": 2, "discount": "0.000"},
        {"line_number": 1, "sku": "TSHIRT-BLK-M", "quantity": 1, "discount": "0.000"},
    )
    assert kinds[2][2]["quantity"] == 0


def test_edit_refused_when_invalid_or_too_late(api, products):
    order_id = post(api, order_payload()).json()["id"]
    before = counts()
    bad = api.patch(
        f"{URL}{order_id}/",
        {
            "lines": [{"line_number": 9, "quantity": 1}],
            "shipping_address": {"name": "X", "line1": "Y", "country": "GR"},
        },
        format="json",
    )
    assert bad.status_code == 400
    assert set(bad.json()["error"]["details"]) == {
        "lines.9",
        "shipping_address.postal_code",
        "shipping_address.city",
    }
    everything = api.patch(
        f"{URL}{order_id}/", {"lines": [{"line_number": n, "quantity": 0} for n in (1, 2, 3)]}, format="json"
    )
    assert everything.status_code == 400
    assert counts() == before
    system = services.Actor.system()
    services.order_transition(order_id=order_id, to_status=OrderStatus.ALLOCATED, actor=system)
    services.order_transition(order_id=order_id, to_status=OrderStatus.IN_FULFILLMENT, actor=system)
    before = counts()
    late = api.patch(f"{URL}{order_id}/", {"lines": [{"line_number": 1, "quantity": 1}]}, format="json")
    assert late.status_code == 409
    assert late.json()["error"]["code"] == "order_not_editable"
    assert counts() == before
    assert OrderLine.objects.get(order_id=order_id, line_number=1).quantity == 2


def test_unknown_endpoint_is_json_404(api):
    response = api.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert json.loads(response.content)["error"]["code"] == "not_found"


def test_disabling_a_channel_in_admin_stops_its_cached_keys(client, channel, channel_key, products):
    from django.contrib.auth.models import User

    raw = channel_key[1]
    assert api_client_for(raw).get(URL).status_code == 200  # now cached
    client.force_login(User.objects.create_superuser("root", password="pw-root-123"))
    response = client.post(
        f"/admin/orders/channel/{channel.pk}/change/",
        {"code": channel.code, "name": channel.name, "kind": channel.kind},
    )  # is_active unticked
    assert response.status_code == 302
    denied = api_client_for(raw).get(URL)
    assert denied.status_code == 401
    assert "disabled" in denied.json()["error"]["message"]


@pytest.mark.parametrize(
    ("currency", "price", "expected"), [("EUR", "15.00", "30.00"), ("JPY", "1500", "3000")]
)
def test_the_history_writes_money_with_the_currencys_decimals(api, products, currency, price, expected):
    body = order_payload(
        f"MONEY-{currency}",
        currency=currency,
        lines=[{"sku": "CAP-NAVY", "quantity": 2, "unit_price": price}],
        order_discount="0",
        shipping_total="0",
    )
    response = post(api, body)
    assert response.status_code == 201, response.json()
    created = OrderEvent.objects.get(order_id=response.json()["id"], kind="created")
    assert created.after == {"lines": 1, "total": expected, "currency": currency}
