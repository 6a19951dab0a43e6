"""A partially shipped order: ops (and its channel) may cancel the units not shipped yet, which gives
their stock back and leaves the order shipped, or hold them, which stops their shipping until released."""

import pytest

from inventory.models import StockPosition
from oms.errors import Conflict
from oms.events import outbox_publish_pending
from orders.models import Order, OrderLine, OrderStatus
from shipments import services as fulfilment
from tests.test_fulfilment import OPS, network, pack, picked_order  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def ship(order, warehouse, contents):
    box = pack(order, warehouse, contents)
    shipment = fulfilment.shipment_create(package_ids=[box.pk], actor=OPS)
    fulfilment.shipment_buy_labels(shipment_id=shipment.pk, actor=OPS)
    return fulfilment.shipment_hand_over(shipment_id=shipment.pk, actor=OPS)


@pytest.fixture
def part_shipped(api, network):  # noqa: F811
    """Caps shipped; the T-shirts and the hoodie picked and still in the warehouse."""
    order = picked_order(api, network)
    ship(order, network["ATH"], {"CAP-NAVY": 3})
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_SHIPPED
    return order


def allocated(sku: str) -> int:
    return StockPosition.objects.get(warehouse__code="ATH", product__sku=sku).allocated


def test_the_page_offers_to_cancel_or_hold_what_has_not_shipped(ops_client, part_shipped):
    page = ops_client.get(f"/dashboard/orders/{part_shipped.pk}/").content.decode()
    assert "No action is possible" not in page
    assert "Cancel the units not shipped" in page
    assert "Put on hold" in page


def test_cancelling_the_rest_gives_its_stock_back_and_the_order_is_shipped(
    ops_client, part_shipped, django_capture_on_commit_callbacks
):
    assert (allocated("TSHIRT-BLK-M"), allocated("HOODIE-GRY-L")) == (2, 1)
    with django_capture_on_commit_callbacks(execute=True):
        response = ops_client.post(
            f"/dashboard/orders/{part_shipped.pk}/cancel/",
            {"reason": "customer no longer wants it"},
            follow=True,
        )
    assert "the units not shipped are cancelled" in response.content.decode()
    part_shipped.refresh_from_db()
    assert part_shipped.status == OrderStatus.SHIPPED
    cancelled = dict(OrderLine.objects.filter(order=part_shipped).values_list("sku", "qty_cancelled"))
    assert cancelled == {"CAP-NAVY": 0, "TSHIRT-BLK-M": 2, "HOODIE-GRY-L": 1}
    outbox_publish_pending()  # the relay hands the order.remainder_cancelled event to its handlers
    assert (allocated("TSHIRT-BLK-M"), allocated("HOODIE-GRY-L"), allocated("CAP-NAVY")) == (0, 0, 0)
    from inventory.selectors import stock_drifts

    assert stock_drifts() == []


def test_holding_the_rest_stops_its_shipping_until_released(ops_client, part_shipped, network):  # noqa: F811
    response = ops_client.post(
        f"/dashboard/orders/{part_shipped.pk}/hold/", {"reason": "manual", "note": "address check"}
    )
    assert response.status_code == 302
    part_shipped.refresh_from_db()
    assert part_shipped.status == OrderStatus.ON_HOLD
    box = pack(part_shipped, network["ATH"], {"TSHIRT-BLK-M": 2, "HOODIE-GRY-L": 1})
    with pytest.raises(Conflict):
        fulfilment.shipment_create(package_ids=[box.pk], actor=OPS)

    ops_client.post(f"/dashboard/orders/{part_shipped.pk}/release/", {"note": "checked"})
    part_shipped.refresh_from_db()
    assert part_shipped.status == OrderStatus.PARTIALLY_SHIPPED
    shipment = fulfilment.shipment_create(package_ids=[box.pk], actor=OPS)
    fulfilment.shipment_buy_labels(shipment_id=shipment.pk, actor=OPS)
    fulfilment.shipment_hand_over(shipment_id=shipment.pk, actor=OPS)
    assert Order.objects.get(pk=part_shipped.pk).status == OrderStatus.SHIPPED


def test_the_channel_may_cancel_the_rest_too_but_not_a_shipped_order(api, part_shipped):
    response = api.post(f"/api/v1/orders/{part_shipped.pk}/cancel/", {}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "shipped"
    again = api.post(f"/api/v1/orders/{part_shipped.pk}/cancel/", {}, format="json")
    assert again.status_code == 409
