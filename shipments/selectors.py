"""Reads for the fulfilment pages: what each warehouse has to pick, pack and hand over."""

from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef

from inventory.models import Allocation, AllocationStatus, Warehouse
from shipments.models import (
    PickLineStatus,
    PickList,
    PickListLine,
    PickListStatus,
    Shipment,
    ShipmentStatus,
)
from shipments.services import PICKABLE_ORDER_STATUSES, packable_units


@dataclass
class WarehouseQueue:
    warehouse: Warehouse
    to_pick_orders: int
    to_pick_units: int
    open_pick_lists: list[PickList]
    to_pack: list[tuple[int, str, int]]  # order id, order number, units
    to_ship: list[Shipment]


def work_queues() -> list[WarehouseQueue]:
    listed = PickListLine.objects.filter(allocation=OuterRef("pk")).exclude(status=PickLineStatus.CANCELLED)
    unlisted = (
        Allocation.objects.filter(
            status=AllocationStatus.ACTIVE, order_line__order__status__in=PICKABLE_ORDER_STATUSES
        )
        .exclude(Exists(listed))
        .values_list("position__warehouse_id", "order_line__order_id", "quantity")
    )
    to_pick: dict[int, tuple[set[int], int]] = {}
    for warehouse_id, order_id, quantity in unlisted:
        orders, units = to_pick.get(warehouse_id, (set(), 0))
        orders.add(order_id)
        to_pick[warehouse_id] = (orders, units + quantity)
    picked_orders = (
        PickListLine.objects.filter(status=PickLineStatus.PICKED, qty_picked__gt=0)
        .values_list("pick_list__warehouse_id", "order_line__order_id", "order_line__order__id")
        .distinct()
    )
    queues = []
    for warehouse in Warehouse.objects.filter(is_active=True).order_by("code"):
        to_pack = []
        for warehouse_id, order_id, _ in picked_orders:
            if warehouse_id != warehouse.pk:
                continue
            units = sum(packable_units(order_id=order_id, warehouse_id=warehouse.pk).values())
            if units:
                to_pack.append((order_id, f"SO-{order_id:07d}", units))
        orders, units = to_pick.get(warehouse.pk, (set(), 0))
        queues.append(
            WarehouseQueue(
                warehouse=warehouse,
                to_pick_orders=len(orders),
                to_pick_units=units,
                open_pick_lists=list(
                    PickList.objects.filter(warehouse=warehouse, status=PickListStatus.OPEN)
                    .annotate(line_count=Count("lines"))
                    .order_by("pk")
                ),
                to_pack=sorted(set(to_pack)),
                to_ship=list(
                    Shipment.objects.filter(
                        warehouse=warehouse,
                        status__in=[
                            ShipmentStatus.DRAFT,
                            ShipmentStatus.LABEL_PENDING,
                            ShipmentStatus.LABEL_PURCHASED,
                        ],
                    )
                    .select_related("order", "service__carrier")
                    .order_by("pk")
                ),
            )
        )
    return queues
