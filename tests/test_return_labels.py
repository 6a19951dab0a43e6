"""Return labels: bought through the carrier adapter, followed by the tracking pipeline, and the
parcel's delivery makes the return received; the way-out pipeline (order status, delivered units,
customer page, lane history) never counts a return parcel as its own."""

from datetime import timedelta

import pytest

from oms.events import outbox_publish_pending
from orders.models import OrderStatus
from returns import services as returns
from returns.models import ReturnStatus
from returns.services import InspectionInput
from shipments.carriers import sandbox
from shipments.carriers.base import Tracking
from shipments.carriers.base import TrackingEvent as CarrierEvent
from shipments.models import Label, Shipment, ShipmentDirection, ShipmentStatus
from tests.returns_world import delivered_order
from tests.test_fulfilment import OPS, network  # noqa: F401 (fixture)
from tests.test_returns import ask
from tracking import selectors as tracking_selectors
from tracking import services as tracking
from tracking.models import TrackingLink, TrackingState

pytestmark = pytest.mark.django_db


def carrier_reports(shipment: Shipment, *codes_and_hours: tuple[str, float]) -> None:
    events = []
    for code, hours in codes_and_hours:
        milestone, incident = sandbox.STATUS_MAP[code]
        events.append(
            CarrierEvent(
                code, code, shipment.created_at + timedelta(hours=hours), milestone, incident=incident
            )
        )
    tracking.events_ingest(
        shipment_id=shipment.pk, tracking=Tracking(shipment.tracking_number, tuple(events)), source="webhook"
    )


def test_a_return_label_is_tracked_to_the_warehouse_and_the_arrival_is_counted_and_inspected(
    api,
    network,  # noqa: F811
):
    order = delivered_order(api, network)
    ret = ask(order, ("HOODIE-GRY-L", 1, "too_large"))
    ret = returns.return_label_issue(return_id=ret.pk, actor=OPS)
    assert ret.status == ReturnStatus.LABEL_ISSUED
    shipment = Shipment.objects.get(pk=ret.shipment_id)
    assert (shipment.direction, shipment.status, shipment.warehouse.code) == (
        "return",
        "label_purchased",
        "ATH",
    )
    assert shipment.tracking_number.startswith("SBX")
    assert Label.objects.filter(package__shipment=shipment, format="pdf").exists()
    # a second call buys nothing more
    assert returns.return_label_issue(return_id=ret.pk, actor=OPS).shipment_id == shipment.pk
    assert Shipment.objects.filter(direction=ShipmentDirection.RETURN).count() == 1

    carrier_reports(shipment, ("SBX-PU", 20))
    outbox_publish_pending()  # the handlers of what tracking reported run
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.IN_TRANSIT
    shipment.refresh_from_db()
    assert (
        shipment.status == ShipmentStatus.SHIPPED
        and shipment.shipped_at == shipment.created_at + timedelta(hours=20)
    )
    carrier_reports(shipment, ("SBX-PU", 20), ("SBX-DL", 44))
    outbox_publish_pending()
    ret.refresh_from_db()
    assert (ret.status, ret.counted_at) == (ReturnStatus.RECEIVED, None)
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.DELIVERED

    # the way out is untouched: delivered units, the order's status, the customer's page, the lanes
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED
    assert order.lines.get(sku="HOODIE-GRY-L").qty_delivered == 1
    token = TrackingLink.objects.get(order=order).token
    assert len(tracking_selectors.public_tracking(token)["parcels"]) == 1
    outbound = Shipment.objects.get(order=order, direction=ShipmentDirection.OUTBOUND)
    assert tracking.lane_transit_days(outbound) == []  # the return's 24 hours are not a delivery lane
    assert TrackingState.objects.get(shipment=shipment).promised_date is None

    line = ret.lines.get()
    with pytest.raises(Exception) as not_counted:
        returns.return_inspect(
            return_id=ret.pk,
            actor=OPS,
            inspections=[InspectionInput(line_id=line.pk, quantity=1, grade="new", disposition="restock")],
        )
    assert getattr(not_counted.value, "code", "") == "return_not_counted"
    returns.return_receive(
        return_id=ret.pk,
        actor=OPS,
        received={line.pk: 1},
        inspections=[InspectionInput(line_id=line.pk, quantity=1, grade="new", disposition="restock")],
    )
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.CLOSED
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_RETURNED
    moves = list(ret.events.values_list("from_status", "to_status"))
    assert moves == [
        ("", "requested"),
        ("requested", "authorised"),
        ("authorised", "label_issued"),
        ("label_issued", "in_transit"),
        ("in_transit", "received"),
        ("", ""),  # counted
        ("received", "inspected"),
        ("", ""),  # the credit
        ("inspected", "closed"),
    ]


def test_a_cancelled_returns_unused_label_is_voided(api, network):  # noqa: F811
    order = delivered_order(api, network)
    ret = returns.return_label_issue(return_id=ask(order, ("CAP-NAVY", 1, "changed_mind")).pk, actor=OPS)
    returns.return_cancel(return_id=ret.pk, actor=OPS, reason="kept it")
    outbox_publish_pending()
    assert Shipment.objects.get(pk=ret.shipment_id).status == ShipmentStatus.CANCELLED
    assert ret.events.filter(note="unused return label voided").exists()


def test_a_return_in_transit_cannot_be_cancelled_and_a_customer_may_ship_without_a_label(api, network):  # noqa: F811
    order = delivered_order(api, network)
    ret = ask(order, ("CAP-NAVY", 2, "damaged"))
    line = ret.lines.get()
    # no label: the customer sends it themselves, and the warehouse receives it when it comes
    returns.return_receive(return_id=ret.pk, actor=OPS, received={line.pk: 2})
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.RECEIVED and ret.counted_at is not None and ret.shipment is None
    with pytest.raises(Exception) as refused:
        returns.return_cancel(return_id=ret.pk, actor=OPS)
    assert getattr(refused.value, "code", "") == "illegal_transition"
