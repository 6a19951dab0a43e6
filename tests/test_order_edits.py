"""Editing an order before picking re-plans its stock in the same transaction: raised lines are reserved
or backordered, lowered lines give units back through the ledger, a new address moves the order when
the rules now prefer other warehouses; after picking starts an edit is a clear 409."""

import pytest

from inventory.models import Allocation, AllocationStatus, MovementKind, StockMovement, StockPosition
from orders.models import Order, OrderLine
from routing import services as routing
from routing.models import RoutingDecision
from shipments import services as fulfilment
from tests.test_fulfilment import OPS
from tests.test_routing import network, post  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _routing_on(settings):
    settings.ROUTING_ON_RECEIPT = True


def routed(api, external_id, quantity=3) -> Order:
    order_id = post(api, external_id, quantity=quantity)
    routing.route_order(order_id=order_id)
    return Order.objects.get(pk=order_id)


def held(order: Order) -> dict[str, int]:
    """Units the order holds, by warehouse code."""
    by_house: dict[str, int] = {}
    for allocation in Allocation.objects.filter(order_line__order=order, status=AllocationStatus.ACTIVE):
        code = allocation.position.warehouse.code
        by_house[code] = by_house.get(code, 0) + allocation.quantity
    return by_house


def allocated_at(code: str) -> int:
    return StockPosition.objects.get(warehouse__code=code, product__sku="CAP-NAVY").allocated


def patch(api, order, body):
    return api.patch(f"/api/v1/orders/{order.pk}/", body, format="json")


def test_raising_a_line_reserves_the_difference(api, network):  # noqa: F811
    order = routed(api, "E-1")
    assert (order.status, held(order)) == ("allocated", {"SKG": 3})
    response = patch(api, order, {"lines": [{"line_number": 1, "quantity": 5}]})
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "allocated"
    assert response.json()["lines"][0]["quantities"]["allocated"] == 5
    order.refresh_from_db()
    assert held(order) == {"SKG": 5}
    assert allocated_at("SKG") == 5
    assert RoutingDecision.objects.filter(order=order).count() == 2


def test_raising_beyond_the_stock_backorders_the_rest_without_overselling(api, network):  # noqa: F811
    order = routed(api, "E-2")
    response = patch(api, order, {"lines": [{"line_number": 1, "quantity": 500}]})
    assert response.status_code == 200, response.json()
    order.refresh_from_db()
    assert order.status == "partially_allocated"
    line = OrderLine.objects.get(order=order)
    assert 3 <= line.qty_allocated < 500
    assert sum(held(order).values()) == line.qty_allocated
    assert RoutingDecision.objects.filter(order=order).latest("pk").backordered == {
        "1": 500 - line.qty_allocated
    }
    for position in StockPosition.objects.all():
        assert position.allocated <= position.on_hand


def test_lowering_a_line_gives_units_back_through_the_ledger(api, network):  # noqa: F811
    order = routed(api, "E-3")
    response = patch(api, order, {"lines": [{"line_number": 1, "quantity": 1}]})
    assert response.status_code == 200, response.json()
    order.refresh_from_db()
    assert (order.status, held(order)) == ("allocated", {"SKG": 1})
    assert allocated_at("SKG") == 1
    release = StockMovement.objects.get(kind=MovementKind.RELEASE)
    assert (release.allocated_delta, release.position.warehouse.code) == (-2, "SKG")
    assert OrderLine.objects.get(order=order).qty_allocated == 1
    from inventory.selectors import stock_drifts

    assert stock_drifts() == []


def test_a_new_address_moves_the_order_when_the_rules_prefer_another_warehouse(api, network):  # noqa: F811
    order = routed(api, "E-4")
    berlin = {
        "name": "Maria Papadopoulou",
        "line1": "Invalidenstrasse 1",
        "city": "Berlin",
        "postal_code": "10115",
        "country": "DE",
        "latitude": 52.53,
        "longitude": 13.38,
    }
    response = patch(api, order, {"shipping_address": berlin})
    assert response.status_code == 200, response.json()
    order.refresh_from_db()
    assert (order.status, held(order)) == ("allocated", {"BER": 3})
    assert (allocated_at("SKG"), allocated_at("BER")) == (0, 3)


def test_a_new_address_that_changes_nothing_leaves_the_stock_alone(api, network):  # noqa: F811
    order = routed(api, "E-5")
    before = list(Allocation.objects.filter(order_line__order=order).values_list("pk", "quantity", "status"))
    nearby = {
        "name": "Maria Papadopoulou",
        "line1": "Odos Patision 40",
        "city": "Athens",
        "postal_code": "104 34",
        "country": "GR",
        "latitude": 37.99,
        "longitude": 23.73,
    }
    assert patch(api, order, {"shipping_address": nearby}).status_code == 200
    after = list(Allocation.objects.filter(order_line__order=order).values_list("pk", "quantity", "status"))
    assert after == before
    assert not StockMovement.objects.filter(kind=MovementKind.RELEASE).exists()


def test_after_picking_starts_an_edit_is_a_409_and_changes_nothing(api, network):  # noqa: F811
    order = routed(api, "E-6")
    fulfilment.wave_release(warehouse_id=network["SKG"].pk, actor=OPS)
    order.refresh_from_db()
    assert order.status == "in_fulfillment"
    response = patch(api, order, {"lines": [{"line_number": 1, "quantity": 1}]})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "order_not_editable"
    assert OrderLine.objects.get(order=order).quantity == 3
    assert held(order) == {"SKG": 3}


def test_an_edit_with_shape_and_rule_problems_lists_both_and_changes_nothing(api, network):  # noqa: F811
    order = routed(api, "E-7")
    body = {
        "lines": [{"line_number": 1, "quantity": -1}, {"line_number": 9, "quantity": 2}],
        "shipping_address": {"name": "M", "line1": "x", "country": "XX"},
    }
    response = patch(api, order, body)
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert {"lines.0.quantity", "lines.9", "shipping_address.country"} <= set(details), details
    assert OrderLine.objects.get(order=order).quantity == 3
    assert held(order) == {"SKG": 3}
