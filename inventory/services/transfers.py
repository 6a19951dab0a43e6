"""Stock moving between warehouses, and backorders filled when stock arrives."""

from django.db import transaction
from django.utils import timezone

from inventory import selectors
from inventory.models import (
    MovementKind,
    ReferenceType,
    StockMovement,
    Transfer,
    TransferStatus,
    Warehouse,
)
from inventory.services.common import _lock_positions, _movement, _save_figures
from inventory.services.promises import AllocationOutcome, stock_allocate
from oms.errors import Conflict, NotFound, ValidationFailed
from oms.events import event_emit
from orders.models import Product

# ------------------------------------------------------------------------------------------- transfers


@transaction.atomic
def transfer_create(
    *, product: Product, from_warehouse: Warehouse, to_warehouse: Warehouse, quantity: int, actor: str
) -> Transfer:
    """Send stock between warehouses: it leaves the source now and is in transit at the destination."""
    if from_warehouse.pk == to_warehouse.pk:
        raise ValidationFailed(
            "A transfer needs two warehouses.", details={"to_warehouse": ["Pick another one."]}
        )
    if product.lot_tracked:
        raise ValidationFailed(
            "Lot-tracked goods move by lot; send them as a receipt at the destination.",
            details={"product": [f"{product.sku} is lot-tracked."]},
        )
    if quantity <= 0:
        raise ValidationFailed("Nothing to send.", details={"quantity": ["Must be at least 1."]})
    positions = _lock_positions([(from_warehouse.pk, product.pk), (to_warehouse.pk, product.pk)])
    source, destination = positions[(from_warehouse.pk, product.pk)], positions[(to_warehouse.pk, product.pk)]
    free = source.on_hand - source.allocated
    if quantity > free:
        raise ValidationFailed(
            "Not enough free stock at the source.",
            details={"quantity": [f"{from_warehouse.code} has {free} units not promised to orders."]},
        )
    transfer = Transfer.objects.create(
        product=product,
        from_warehouse=from_warehouse,
        to_warehouse=to_warehouse,
        quantity=quantity,
        actor=actor,
    )
    source.on_hand -= quantity
    destination.in_transit += quantity
    _save_figures(sorted([source, destination], key=lambda p: p.pk))
    StockMovement.objects.bulk_create(
        [
            _movement(
                source,
                MovementKind.TRANSFER_OUT,
                actor,
                quantity=-quantity,
                reference_type=ReferenceType.TRANSFER,
                reference=transfer.pk,
            ),
            _movement(
                destination,
                MovementKind.TRANSFER_OUT,
                actor,
                in_transit=quantity,
                reference_type=ReferenceType.TRANSFER,
                reference=transfer.pk,
            ),
        ]
    )
    return transfer


@transaction.atomic
def transfer_receive(*, transfer_id: int, actor: str) -> Transfer:
    transfer = Transfer.objects.select_for_update().filter(pk=transfer_id).select_related("product").first()
    if transfer is None:
        raise NotFound(f"Transfer {transfer_id} does not exist.")
    if transfer.status != TransferStatus.IN_TRANSIT:
        raise Conflict(f"Transfer {transfer.pk} was already received.", code="already_received")
    key = (transfer.to_warehouse_id, transfer.product_id)
    destination = _lock_positions([key])[key]
    destination.in_transit -= transfer.quantity
    destination.on_hand += transfer.quantity
    _save_figures([destination])
    _movement(
        destination,
        MovementKind.TRANSFER_IN,
        actor,
        quantity=transfer.quantity,
        in_transit=-transfer.quantity,
        reference_type=ReferenceType.TRANSFER,
        reference=transfer.pk,
    ).save()
    transfer.status = TransferStatus.RECEIVED
    transfer.received_at = timezone.now()
    transfer.save(update_fields=["status", "received_at"])
    event_emit(
        name="stock.received",
        aggregate_type="stock_position",
        aggregate_id=destination.pk,
        payload={
            "warehouse_id": transfer.to_warehouse_id,
            "product_id": transfer.product_id,
            "quantity": transfer.quantity,
        },
    )
    return transfer


# ------------------------------------------------------------------------------------------ backorders


def backorders_fill(*, product_id: int, actor: str = "backorder filler") -> list[AllocationOutcome]:
    """Offer new stock of a product to the orders waiting for it, oldest placed first.

    Each order is allocated in its own transaction (the order row is locked before stock rows, as in
    every allocation), and the run stops as soon as an order gets nothing: what is left is not enough
    for anyone behind it who needs the same product.
    """
    outcomes = []
    for order_id in selectors.orders_waiting_for(product_id):
        try:
            outcome = stock_allocate(order_id=order_id, actor=actor)
        except Conflict:
            continue  # it moved on (cancelled, held) since we looked
        outcomes.append(outcome)
        if not outcome.allocated:
            break
    return outcomes
