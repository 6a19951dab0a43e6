"""Receipts, adjustments and counts: on_hand changes, each with its ledger row."""

from collections import defaultdict
from datetime import date

from django.db import transaction

from inventory.models import (
    Allocation,
    AllocationStatus,
    BinLocation,
    Lot,
    MovementKind,
    ReferenceType,
    StockMovement,
    StockPosition,
    Warehouse,
)
from inventory.services.common import _after_withdrawal, _lock_positions, _movement, _save_figures
from oms.errors import Conflict, ValidationFailed
from oms.events import event_emit
from orders import services as order_services
from orders.models import Order, OrderLine, Product

# ------------------------------------------------------------------------------------- receipts & counts


@transaction.atomic
def stock_receive(
    *,
    warehouse: Warehouse,
    product: Product,
    quantity: int,
    actor: str,
    lot_code: str = "",
    expiry_date: date | None = None,
    bin_code: str = "",
    reason: str = "",
    reference_type: str = ReferenceType.MANUAL,
    reference: object = "",
    kind: str = MovementKind.RECEIPT,
) -> StockPosition:
    """Goods arrived: on_hand goes up, and backordered lines may now be served (``stock.received``).
    ``kind``: what the ledger calls it (a receipt, or a returned unit put back on the shelf)."""
    errors: dict[str, list[str]] = {}
    if quantity <= 0:
        errors["quantity"] = ["Must be at least 1."]
    if product.lot_tracked and not lot_code.strip():
        errors["lot_code"] = [f"{product.sku} is lot-tracked: give the lot code (and its expiry date)."]
    if errors:
        raise ValidationFailed("The receipt is invalid; nothing was saved.", details=errors)
    position = _lock_positions([(warehouse.pk, product.pk)])[(warehouse.pk, product.pk)]
    bin_location = (
        BinLocation.objects.get_or_create(warehouse=warehouse, code=bin_code.strip())[0] if bin_code else None
    )
    lot = None
    if product.lot_tracked:
        lot, _ = Lot.objects.select_for_update().get_or_create(
            position=position,
            code=lot_code.strip(),
            defaults={"expiry_date": expiry_date, "bin": bin_location},
        )
        if expiry_date and lot.expiry_date != expiry_date:
            raise ValidationFailed(
                "The lot already exists with another expiry date.",
                details={"expiry_date": [f"Lot {lot.code} expires on {lot.expiry_date}."]},
            )
        lot.on_hand += quantity
        lot.save(update_fields=["on_hand"])
    if bin_location and position.default_bin_id is None:
        position.default_bin = bin_location
        position.save(update_fields=["default_bin"])
    position.on_hand += quantity
    _save_figures([position])
    _movement(
        position,
        kind,
        actor,
        lot=lot,
        quantity=quantity,
        reason=reason,
        reference_type=reference_type,
        reference=reference,
    ).save()
    event_emit(
        name="stock.received",
        aggregate_type="stock_position",
        aggregate_id=position.pk,
        payload={"warehouse_id": warehouse.pk, "product_id": product.pk, "quantity": quantity},
    )
    return position


@transaction.atomic
def stock_adjust(
    *,
    warehouse: Warehouse,
    product: Product,
    delta: int,
    reason: str,
    actor: str,
    lot_code: str = "",
    kind: str = MovementKind.ADJUSTMENT,
    reference_type: str = ReferenceType.MANUAL,
    reference: object = "",
) -> StockPosition:
    """Correct on_hand by ``delta`` (a cycle count passes the difference it found).

    When the shelf ends up holding less than is promised to orders, the newest promises are
    withdrawn for the difference (the oldest orders keep theirs); the orders concerned go back to
    partially allocated or backordered, and ``stock.allocations_withdrawn`` asks routing to serve
    them from elsewhere.
    """
    if delta == 0:
        raise ValidationFailed("Nothing to adjust.", details={"delta": ["Must not be zero."]})
    if not reason.strip():
        raise ValidationFailed(
            "An adjustment needs a reason.", details={"reason": ["Say why the figure changes."]}
        )
    # Orders before positions before lots (ADR 0005): lock the orders that may lose stock first.
    locked_orders = _lock_orders_promised(warehouse, product) if delta < 0 else {}
    position = _lock_positions([(warehouse.pk, product.pk)])[(warehouse.pk, product.pk)]
    lot = None
    if product.lot_tracked:
        lot = Lot.objects.select_for_update().filter(position=position, code=lot_code.strip()).first()
        if lot is None:
            raise ValidationFailed(
                "Unknown lot.", details={"lot_code": [f"No lot '{lot_code}' of {product.sku} here."]}
            )
        if lot.on_hand + delta < 0:
            raise ValidationFailed(
                "A lot cannot hold less than nothing.",
                details={"delta": [f"Lot {lot.code} has {lot.on_hand} on hand."]},
            )
    if position.on_hand + delta < 0:
        raise ValidationFailed(
            "A position cannot hold less than nothing.",
            details={"delta": [f"{warehouse.code} has {position.on_hand} of {product.sku} on hand."]},
        )
    shortfall = (
        lot.allocated - (lot.on_hand + delta)
        if lot is not None
        else position.allocated - (position.on_hand + delta)
    )
    withdrawn_orders: list[int] = []
    if shortfall > 0:
        withdrawn_orders = _withdraw_newest(
            position, lot, shortfall, locked_orders, actor=actor, reason=f"stock adjusted down: {reason}"
        )
    if lot is not None:
        lot.on_hand += delta
        lot.save(update_fields=["on_hand", "allocated"])
    position.on_hand += delta
    _save_figures([position])
    _movement(
        position,
        kind,
        actor,
        lot=lot,
        quantity=delta,
        reason=reason,
        reference_type=reference_type,
        reference=reference,
    ).save()
    if delta > 0:
        event_emit(
            name="stock.received",
            aggregate_type="stock_position",
            aggregate_id=position.pk,
            payload={"warehouse_id": warehouse.pk, "product_id": product.pk, "quantity": delta},
        )
    if withdrawn_orders:
        event_emit(
            name="stock.allocations_withdrawn",
            aggregate_type="stock_position",
            aggregate_id=position.pk,
            payload={
                "warehouse_id": warehouse.pk,
                "product_id": product.pk,
                "units": shortfall,
                "order_ids": withdrawn_orders,
            },
        )
    return position


def _lock_orders_promised(warehouse: Warehouse, product: Product) -> dict[int, Order]:
    order_ids = sorted(
        set(
            Allocation.objects.filter(
                position__warehouse=warehouse, position__product=product, status=AllocationStatus.ACTIVE
            ).values_list("order_line__order_id", flat=True)
        )
    )
    return {order_id: order_services.order_lock(order_id) for order_id in order_ids}


def _withdraw_newest(
    position: StockPosition,
    lot: Lot | None,
    units: int,
    locked_orders: dict[int, Order],
    *,
    actor: str,
    reason: str,
) -> list[int]:
    """Withdraw ``units`` of the position's (or lot's) newest active allocations; returns the orders."""
    query = Allocation.objects.filter(position=position, status=AllocationStatus.ACTIVE).select_related(
        "order_line"
    )
    if lot is not None:
        query = query.filter(lot=lot)
    allocations = [a for a in query.order_by("-created_at", "-pk") if a.order_line.order_id in locked_orders]
    if sum(a.quantity for a in allocations) < units:
        # An allocation for an order not locked above appeared meanwhile: let the caller try again.
        raise Conflict("Stock moved while adjusting; try again.", code="stock_moved")
    remaining = units
    released: dict[int, int] = defaultdict(int)  # order line id -> units
    movements = []
    changed = []
    for allocation in allocations:
        if remaining == 0:
            break
        part = min(remaining, allocation.quantity)
        if part == allocation.quantity:
            allocation.status = AllocationStatus.RELEASED
        else:
            allocation.quantity -= part
        changed.append(allocation)
        position.allocated -= part
        if lot is not None:
            lot.allocated -= part
        released[allocation.order_line_id] += part
        movements.append(
            _movement(
                position,
                MovementKind.RELEASE,
                actor,
                lot=lot,
                allocated=-part,
                reason=reason,
                reference_type=ReferenceType.ORDER_LINE,
                reference=allocation.order_line_id,
            )
        )
        remaining -= part
    Allocation.objects.bulk_update(changed, ["status", "quantity", "updated_at"])
    StockMovement.objects.bulk_create(movements)
    lines = {ln.pk: ln for ln in OrderLine.objects.filter(pk__in=released)}
    by_order: dict[int, dict[int, dict[str, int]]] = defaultdict(dict)
    for line_id, part in released.items():
        line = lines[line_id]
        allocated = line.qty_allocated - part
        by_order[line.order_id][line.line_number] = {
            "qty_allocated": allocated,
            "qty_picked": min(line.qty_picked, allocated),
        }
    for order_id, quantities in sorted(by_order.items()):
        order = locked_orders[order_id]
        order_services.order_lines_record_progress(order_id=order_id, quantities=quantities, locked=order)
        _after_withdrawal(order, actor=actor, reason=reason)
    return sorted(by_order)
