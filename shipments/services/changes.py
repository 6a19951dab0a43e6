"""When an order changes under fulfilment: cancelled, or a warehouse that cannot ship it."""

from django.db import transaction
from django.utils import timezone

from inventory import services as stock
from inventory.models import Warehouse
from oms.errors import (
    Conflict,
    NotFound,
    ValidationFailed,
)
from oms.events import event_emit
from orders import services as order_services
from orders.services import Actor
from routing import services as routing
from shipments.models import (
    PickLineStatus,
    PickList,
    PickListLine,
    PickListStatus,
    Shipment,
    ShipmentDirection,
    ShipmentStatus,
)
from shipments.services.picking import _pick_list_transition
from shipments.services.shipping import shipment_cancel


def order_fulfilment_withdraw(*, order_id: int, actor: Actor) -> None:
    """An order was cancelled: take its units off open pick lists (a list left with nothing to pick
    is cancelled) and cancel its shipments that have not left, voiding their labels."""
    with transaction.atomic():
        lists = set(
            PickListLine.objects.filter(
                order_line__order_id=order_id, status=PickLineStatus.OPEN
            ).values_list("pick_list_id", flat=True)
        )
        for pick_list in PickList.objects.select_for_update().filter(pk__in=lists).order_by("pk"):
            pick_list.lines.filter(order_line__order_id=order_id, status=PickLineStatus.OPEN).update(
                status=PickLineStatus.CANCELLED
            )
            if not pick_list.lines.filter(status=PickLineStatus.OPEN).exists():
                _pick_list_transition(pick_list, PickListStatus.CANCELLED)
                pick_list.confirmed_by = actor.label[:120]
                pick_list.confirmed_at = timezone.now()
                pick_list.save(update_fields=["status", "confirmed_by", "confirmed_at"])
    for shipment in Shipment.objects.filter(
        order_id=order_id,
        direction=ShipmentDirection.OUTBOUND,
        status__in=[ShipmentStatus.DRAFT, ShipmentStatus.LABEL_PURCHASED],
    ).order_by("pk"):
        shipment_cancel(shipment_id=shipment.pk, actor=actor, reason="order cancelled")


def warehouse_reject_order(*, order_id: int, warehouse_id: int, actor: Actor, reason: str) -> None:
    """A warehouse cannot ship (its part of) an order - damaged goods, a closed dock, a blocked
    aisle: its promises for the order are withdrawn, its open pick lines with them, and the order is
    routed again without that warehouse. Units already packed or shipped stay as they are."""
    if not reason.strip():
        raise ValidationFailed("Say why the warehouse cannot ship it.", details={"reason": ["Required."]})
    with transaction.atomic():
        order = order_services.order_lock(order_id)
        warehouse = Warehouse.objects.filter(pk=warehouse_id).first()
        if warehouse is None:
            raise NotFound(f"Warehouse {warehouse_id} does not exist.")
        if Shipment.objects.filter(
            order=order,
            warehouse=warehouse,
            direction=ShipmentDirection.OUTBOUND,
            status__in=[ShipmentStatus.DRAFT, ShipmentStatus.LABEL_PENDING, ShipmentStatus.LABEL_PURCHASED],
        ).exists():
            raise Conflict(
                f"{warehouse.code} has a shipment of {order.number} under way: cancel it first.",
                code="shipment_under_way",
            )
        PickListLine.objects.filter(
            order_line__order=order, pick_list__warehouse=warehouse, status=PickLineStatus.OPEN
        ).update(status=PickLineStatus.CANCELLED)
        released = stock.stock_release(
            order_id=order.pk,
            actor=actor.label,
            reason=f"{warehouse.code} cannot ship it: {reason.strip()}",
            warehouse_id=warehouse.pk,
        )
        if not released:
            raise Conflict(f"{warehouse.code} holds nothing for {order.number}.", code="nothing_to_reject")
        order_services.order_note_add(
            order_id=order.pk,
            actor=actor,
            note=(
                f"{warehouse.code} cannot ship {released} unit(s): {reason.strip()}. Routed again without it."
            ),
        )
        event_emit(
            name="order.rejected_by_warehouse",
            aggregate_type="order",
            aggregate_id=order.pk,
            payload={"order_id": order.pk, "warehouse": warehouse.code, "units": released, "reason": reason},
        )
    with transaction.atomic():
        routing.route_order(order_id=order_id, exclude_warehouse_ids=frozenset({warehouse_id}))
