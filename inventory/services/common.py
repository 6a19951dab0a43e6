"""What every stock write shares: the ledger row, locking positions in key order, saving figures."""

from collections.abc import Iterable

from django.db.models import F, Q

from inventory.models import (
    Allocation,
    Lot,
    ReferenceType,
    StockMovement,
    StockPosition,
)
from orders import services as order_services
from orders.models import Order, OrderLine, OrderStatus

ALLOCATABLE_STATUSES = frozenset(
    {
        OrderStatus.RECEIVED,
        OrderStatus.BACKORDERED,
        OrderStatus.PARTIALLY_ALLOCATED,
        OrderStatus.ALLOCATED,
        OrderStatus.IN_FULFILLMENT,
        OrderStatus.PARTIALLY_SHIPPED,
    }
)
# Orders a warehouse is already working on: units found short are allocated again elsewhere, but the
# order's status belongs to fulfilment (picking, packing, shipping) and stays as it is.
FULFILMENT_STATUSES = frozenset({OrderStatus.IN_FULFILLMENT, OrderStatus.PARTIALLY_SHIPPED})


def _movement(
    position: StockPosition,
    kind: str,
    actor: str,
    *,
    lot: Lot | None = None,
    quantity: int = 0,
    allocated: int = 0,
    in_transit: int = 0,
    reason: str = "",
    reference_type: str = ReferenceType.MANUAL,
    reference: object = "",
) -> StockMovement:
    return StockMovement(
        position=position,
        lot=lot,
        kind=kind,
        quantity=quantity,
        allocated_delta=allocated,
        in_transit_delta=in_transit,
        reason=reason,
        reference_type=reference_type,
        reference=str(reference),
        actor=actor,
    )


def _lock_positions(pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], StockPosition]:
    """Lock the positions of (warehouse id, product id) pairs, creating missing ones, in pk order."""
    pairs = set(pairs)
    if not pairs:
        return {}
    StockPosition.objects.bulk_create(
        [StockPosition(warehouse_id=w, product_id=p) for w, p in pairs], ignore_conflicts=True
    )
    match = Q()
    for warehouse_id, product_id in pairs:
        match |= Q(warehouse_id=warehouse_id, product_id=product_id)
    positions = StockPosition.objects.select_for_update().filter(match).order_by("pk")
    return {(p.warehouse_id, p.product_id): p for p in positions}


def positions_ensure(*, pairs: Iterable[tuple[int, int]]) -> int:
    """Empty positions for (warehouse id, product id) pairs that have none yet (a SKU with a reorder
    rule at a warehouse that never held it); existing ones are left alone. No ledger row: nothing
    moved."""
    pairs = sorted(set(pairs))
    created = StockPosition.objects.bulk_create(
        [StockPosition(warehouse_id=w, product_id=p) for w, p in pairs], ignore_conflicts=True
    )
    return len(created)


def _save_figures(objs: Iterable[StockPosition | Lot]) -> None:
    for obj in objs:
        fields = ["on_hand", "allocated"] + (
            ["in_transit", "updated_at"] if isinstance(obj, StockPosition) else []
        )
        obj.save(update_fields=fields)


def _lock_rows_of(allocations: list[Allocation]) -> tuple[dict[int, StockPosition], dict[int, Lot]]:
    """Lock the positions, then the lots, that allocations draw on, each in key order."""
    positions = {
        p.pk: p
        for p in StockPosition.objects.select_for_update()
        .filter(pk__in={a.position_id for a in allocations})
        .order_by("pk")
    }
    lots = {
        lot.pk: lot
        for lot in Lot.objects.select_for_update()
        .filter(pk__in={a.lot_id for a in allocations if a.lot_id})
        .order_by("pk")
    }
    return positions, lots


def _after_withdrawal(order: Order, *, actor: str, reason: str) -> None:
    """An allocated order that lost promised units waits for routing again."""
    if order.status not in (OrderStatus.ALLOCATED, OrderStatus.PARTIALLY_ALLOCATED):
        return
    still = OrderLine.objects.filter(order_id=order.pk, qty_allocated__gt=F("qty_shipped")).exists()
    target = OrderStatus.PARTIALLY_ALLOCATED if still else OrderStatus.BACKORDERED
    if target != order.status:
        order_services.order_transition(
            order_id=order.pk,
            to_status=target,
            actor=order_services.Actor.system(actor),
            note=reason,
            locked=order,
        )
