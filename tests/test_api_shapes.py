"""The hand-built order bodies of the hot paths match the serializers the OpenAPI schema declares."""

import json

import pytest
from django.test import override_settings
from django.utils import timezone

from orders import selectors, services
from orders.api.serializers import OrderOut, order_json
from tests.factories import order_payload

pytestmark = pytest.mark.django_db


def via_serializer(order) -> dict:
    return json.loads(json.dumps(OrderOut(order).data))


@pytest.mark.parametrize("time_zone", ["UTC", "Europe/Athens"])
def test_fast_order_body_equals_the_declared_serializer(api, products, time_zone):
    bodies = [
        order_payload("A"),
        order_payload(
            "B",
            currency="JPY",
            order_discount="0",
            shipping_total="0",
            requested_delivery_window=None,
            lines=[{"sku": "CAP-NAVY", "quantity": 1, "unit_price": "1500"}],
        ),
        order_payload(
            "C",
            currency="KWD",
            shipping_total="1.125",
            order_discount="0",
            lines=[{"sku": "CAP-NAVY", "quantity": 3, "unit_price": "2.333", "discount": "0.001"}],
        ),
    ]
    bodies[0]["customer"]["phone"] = None
    ids = [api.post("/api/v1/orders/", body, format="json").json()["id"] for body in bodies]
    services.order_hold(order_id=ids[1], reason="payment_pending", actor=services.Actor.system())
    services.order_lines_record_progress(
        order_id=ids[0], quantities={1: {"qty_allocated": 2, "qty_picked": 1}}
    )
    with override_settings(TIME_ZONE=time_zone), timezone.override(time_zone):
        for order in selectors.orders_with_lines().filter(pk__in=ids):
            assert order_json(order) == via_serializer(order)


def test_endpoints_answer_with_the_same_body(api, products):
    created = api.post("/api/v1/orders/", order_payload(), format="json").json()
    listed = api.get("/api/v1/orders/").json()["results"][0]
    detail = api.get(f"/api/v1/orders/{created['id']}/").json()
    assert created == listed
    # the detail adds the history, the shipments, the tracking link and the waiting lines' expected
    # stock to the same body
    assert (
        detail.pop("history")[0]["kind"],
        detail.pop("shipments"),
        detail.pop("tracking_url"),
        detail.pop("expected_stock"),
        detail.pop("expected_stock_date"),
    ) == ("created", [], None, [], None)
    assert created == detail
