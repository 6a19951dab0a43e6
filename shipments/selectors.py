"""Reads for the fulfilment pages: what each warehouse has to pick, pack and hand over."""

from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Sum

from inventory.models import Allocation, AllocationStatus, Warehouse
from orders.models import OrderStatus, order_number
from shipments.models import (
    PackageLine,
    PickLineStatus,
    PickList,
    PickListLine,
    PickListStatus,
    Shipment,
    ShipmentDirection,
    ShipmentStatus,
)
from shipments.services import PICKABLE_ORDER_STATUSES


@dataclass
class WarehouseQueue:
    warehouse: Warehouse
    to_pick_orders: int
    to_pick_units: int
    open_pick_lists: list[PickList]
    to_pack: list[tuple[int, str, int]]  # order id, order number, units
    to_ship: list[Shipment]


# Orders that can have picked units waiting for a box (later ones have shipped everything).
IN_THE_WAREHOUSE = (OrderStatus.IN_FULFILLMENT, OrderStatus.PARTIALLY_SHIPPED)


def work_queues() -> list[WarehouseQueue]:
    listed = PickListLine.objects.filter(allocation=OuterRef("pk")).exclude(status=PickLineStatus.CANCELLED)
    unlisted = (
        Allocation.objects.filter(
            status=AllocationStatus.ACTIVE, order_line__order__status__in=PICKABLE_ORDER_STATUSES
        )
        .exclude(Exists(listed))
        .values("position__warehouse_id")
        .annotate(orders=Count("order_line__order", distinct=True), units=Sum("quantity"))
    )
    to_pick = {row["position__warehouse_id"]: (row["orders"], row["units"]) for row in unlisted}
    # Picked minus packed, per warehouse and order, in two grouped reads.
    left: dict[tuple[int, int], int] = {}
    picked = (
        PickListLine.objects.filter(
            status=PickLineStatus.PICKED, qty_picked__gt=0, order_line__order__status__in=IN_THE_WAREHOUSE
        )
        .values("pick_list__warehouse_id", "order_line__order_id")
        .annotate(units=Sum("qty_picked"))
    )
    for row in picked:
        key = (row["pick_list__warehouse_id"], row["order_line__order_id"])
        left[key] = left.get(key, 0) + row["units"]
    packed = (
        PackageLine.objects.filter(package__order__status__in=IN_THE_WAREHOUSE)
        .exclude(package__shipment__status=ShipmentStatus.CANCELLED)
        .values("package__warehouse_id", "package__order_id")
        .annotate(units=Sum("quantity"))
    )
    for row in packed:
        key = (row["package__warehouse_id"], row["package__order_id"])
        left[key] = left.get(key, 0) - row["units"]
    open_lists: dict[int, list[PickList]] = {}
    for pick_list in (
        PickList.objects.filter(status=PickListStatus.OPEN).annotate(line_count=Count("lines")).order_by("pk")
    ):
        open_lists.setdefault(pick_list.warehouse_id, []).append(pick_list)
    to_ship: dict[int, list[Shipment]] = {}
    for shipment in (
        Shipment.objects.filter(
            direction=ShipmentDirection.OUTBOUND,
            status__in=[ShipmentStatus.DRAFT, ShipmentStatus.LABEL_PENDING, ShipmentStatus.LABEL_PURCHASED],
        )
        .select_related("order", "service__carrier")
        .order_by("pk")
    ):
        to_ship.setdefault(shipment.warehouse_id, []).append(shipment)
    queues = []
    for warehouse in Warehouse.objects.filter(is_active=True).order_by("code"):
        orders, units = to_pick.get(warehouse.pk, (0, 0))
        queues.append(
            WarehouseQueue(
                warehouse=warehouse,
                to_pick_orders=orders,
                to_pick_units=units,
                open_pick_lists=open_lists.get(warehouse.pk, []),
                to_pack=sorted(
                    (order_id, order_number(order_id), units)
                    for (warehouse_id, order_id), units in left.items()
                    if warehouse_id == warehouse.pk and units > 0
                ),
                to_ship=to_ship.get(warehouse.pk, []),
            )
        )
    return queues


@dataclass(frozen=True)
class ShipmentContents:
    """What one shipment took out, as an integration tells a shop: which carrier, which tracking
    numbers, and how many units of each order line."""

    reference: str
    carrier: str
    service: str
    tracking_numbers: list[str]
    units: dict[int, int]  # order line number -> units in this shipment


def shipment_contents(*, shipment_id: int) -> ShipmentContents | None:
    shipment = Shipment.objects.select_related("service__carrier").filter(pk=shipment_id).first()
    if shipment is None:
        return None
    units: dict[int, int] = {}
    for number, quantity in PackageLine.objects.filter(package__shipment_id=shipment_id).values_list(
        "order_line__line_number", "quantity"
    ):
        units[number] = units.get(number, 0) + quantity
    return ShipmentContents(
        reference=shipment.reference,
        carrier=shipment.service.carrier.name,
        service=shipment.service.name,
        tracking_numbers=list(
            shipment.packages.exclude(tracking_number="")
            .order_by("pk")
            .values_list("tracking_number", flat=True)
        ),
        units=units,
    )


def order_shipment_ids(*, order_id: int) -> list[int]:
    """The ids of an order's shipments out to its customer, whatever their status."""
    return list(
        Shipment.objects.filter(order_id=order_id, direction=ShipmentDirection.OUTBOUND)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
