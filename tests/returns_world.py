"""Orders delivered through the real pipeline (route, pick, pack, label, hand over, carrier events),
for the returns tests to send back."""

from datetime import timedelta

from orders.models import Order
from shipments import services as fulfilment
from shipments.carriers import sandbox
from shipments.carriers.base import Tracking
from shipments.carriers.base import TrackingEvent as CarrierEvent
from tests.factories import order_payload
from tests.test_fulfilment import OPS, pack, pick_everything
from tracking import services as tracking

ALL = {"TSHIRT-BLK-M": 2, "HOODIE-GRY-L": 1, "CAP-NAVY": 3}


def _event(code: str, at) -> CarrierEvent:
    milestone, incident = sandbox.STATUS_MAP[code]
    return CarrierEvent(code, code, at, milestone, location="Athens", incident=incident)


def shipped_order(
    api, network, external_id: str, contents: dict[str, int] | None = None, **payload
) -> tuple[Order, int]:
    """An order placed by the channel, routed to Athens, picked, and ``contents`` (everything when not
    given) packed and handed to the sandbox carrier. Returns the order and the shipment's id."""
    from routing import services as routing

    response = api.post("/api/v1/orders/", order_payload(external_id, **payload), format="json")
    assert response.status_code == 201, response.json()
    order_id = response.json()["id"]
    routing.route_order(order_id=order_id)
    pick_list = fulfilment.wave_release(warehouse_id=network["ATH"].pk, actor=OPS)
    fulfilment.pick_list_confirm(pick_list_id=pick_list.pk, picked=pick_everything(pick_list), actor=OPS)
    order = Order.objects.get(pk=order_id)
    box = pack(order, network["ATH"], contents or ALL)
    shipment = fulfilment.shipment_create(package_ids=[box.pk], actor=OPS)
    fulfilment.shipment_buy_labels(shipment_id=shipment.pk, actor=OPS)
    shipment = fulfilment.shipment_hand_over(shipment_id=shipment.pk, actor=OPS)
    tracking.tracking_start(shipment_id=shipment.pk)
    return order, shipment.pk


def deliver(shipment_id: int, *, hours: float = 2) -> None:
    """The carrier reports the parcel picked up and, ``hours`` after hand-over, delivered."""
    from shipments.models import Shipment

    shipment = Shipment.objects.get(pk=shipment_id)
    tracking.events_ingest(
        shipment_id=shipment_id,
        tracking=Tracking(
            shipment.tracking_number,
            (
                _event("SBX-PU", shipment.shipped_at + timedelta(minutes=10)),
                _event("SBX-DL", shipment.shipped_at + timedelta(hours=hours)),
            ),
        ),
        source="poll",
    )


def delivered_order(api, network, external_id: str = "R-1", **payload) -> Order:
    order, shipment_id = shipped_order(api, network, external_id, **payload)
    deliver(shipment_id)
    order.refresh_from_db()
    return order
