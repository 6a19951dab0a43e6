"""Return shipping: a label bought through the carrier adapters, and the parcel's progress as tracking
reports it (handed over: in transit; delivered to the warehouse: received)."""

from django.db import transaction

from oms.errors import ValidationFailed
from orders.services import Actor
from returns.models import Return, ReturnStatus
from returns.services.states import ensure_can_move, history, move, return_lock
from shipments import services as shipping
from shipments.carriers.base import Milestone
from shipments.models import ShipmentStatus
from tracking import services as tracking

# A unit whose product has no weight is taken to weigh this much (a return parcel is weighed by the
# carrier anyway; this only picks the rate).
UNKNOWN_UNIT_GRAMS = 500
_NOT_MOVING = {Milestone.LABEL_CREATED, Milestone.CANCELLED}


def _weight(ret: Return) -> int:
    grams = 0
    for line in ret.lines.select_related("order_line__product"):
        grams += (line.order_line.product.weight_grams or UNKNOWN_UNIT_GRAMS) * line.quantity
    return grams + 200  # the box


def return_label_issue(*, return_id: int, actor: Actor, service_id: int | None = None) -> Return:
    """Buy a label for the customer to send an authorised return to its return location. The carrier
    is called outside any transaction (as for outbound labels); after a refusal or a timeout, calling
    again retries the same parcel and never buys a second one. Issued, the label's parcel is followed
    by tracking like any shipment."""
    with transaction.atomic():
        ret = return_lock(return_id)
        if ret.status == ReturnStatus.LABEL_ISSUED:
            return ret
        ensure_can_move(ret, ReturnStatus.LABEL_ISSUED)
        if ret.return_location_id is None:
            raise ValidationFailed(
                f"{ret.number} has no return location.",
                details={"return_location": ["No warehouse takes returns: mark one in admin."]},
            )
        if ret.shipment_id is None:
            first = ret.lines.select_related("order_line").first()
            ret.shipment = shipping.return_shipment_create(
                order_id=first.order_line.order_id,
                warehouse_id=ret.return_location_id,
                weight_grams=_weight(ret),
                actor=actor,
                note=f"return label for {ret.number}",
                service_id=service_id,
            )
            ret.save(update_fields=["shipment", "updated_at"])
    shipment = shipping.shipment_buy_labels(shipment_id=ret.shipment_id, actor=actor)
    with transaction.atomic():
        ret = return_lock(return_id)
        if ret.status == ReturnStatus.LABEL_ISSUED:
            return ret  # a concurrent call finished first
        move(
            ret,
            ReturnStatus.LABEL_ISSUED,
            actor,
            note=f"{shipment.service.carrier.name} {shipment.tracking_number}",
            data={"shipment_id": shipment.pk, "tracking_number": shipment.tracking_number},
        )
        tracking.tracking_start(shipment_id=shipment.pk)
    return ret


@transaction.atomic
def return_parcel_progress(*, shipment_id: int, milestone: str, actor: Actor) -> Return | None:
    """Tracking moved a return's parcel: its first scan puts the return in transit, its delivery at the
    warehouse makes it received (the warehouse then counts and inspects what is inside). Late or
    repeated reports change nothing."""
    ret = Return.objects.filter(shipment_id=shipment_id).values_list("pk", flat=True).first()
    if ret is None:
        return None
    ret = return_lock(ret)
    if milestone == Milestone.DELIVERED and ret.status in (
        ReturnStatus.LABEL_ISSUED,
        ReturnStatus.IN_TRANSIT,
    ):
        move(
            ret, ReturnStatus.RECEIVED, actor, note=f"the carrier delivered it to {ret.return_location.code}"
        )
    elif milestone not in _NOT_MOVING and ret.status == ReturnStatus.LABEL_ISSUED:
        move(ret, ReturnStatus.IN_TRANSIT, actor, note=f"the carrier reports: {milestone.replace('_', ' ')}")
    return ret


def return_label_void(*, return_id: int, actor: Actor) -> None:
    """A cancelled return's unused label is voided with the carrier (outside any transaction)."""
    ret = Return.objects.select_related("shipment").filter(pk=return_id).first()
    if ret is None or ret.shipment is None or ret.shipment.status != ShipmentStatus.LABEL_PURCHASED:
        return
    shipping.shipment_cancel(shipment_id=ret.shipment_id, actor=actor, reason=f"{ret.number} cancelled")
    with transaction.atomic():
        history(return_lock(return_id), actor, note="unused return label voided")
