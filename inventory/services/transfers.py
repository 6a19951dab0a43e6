"""Stock moving between warehouses, and backorders filled when stock arrives."""

from django.db import transaction
from django.utils import timezone

from inventory import selectors
from inventory.models import (
    TRANSFER_TRANSITIONS,
    MovementKind,
    ReferenceType,
    StockMovement,
    Transfer,
    TransferStatus,
    Warehouse,
)
from inventory.services.common import _lock_positions, _movement, _save_figures
from inventory.services.promises import AllocationOutcome, stock_allocate
from oms.errors import Conflict, Errors, NotFound, ValidationFailed, merge_errors
from oms.events import event_emit
from orders.models import Product
from orders.validation import normalize_sku

# ------------------------------------------------------------------------------------------- transfers


def _transfer_transition(transfer: Transfer, to_status: str) -> None:
    if to_status not in TRANSFER_TRANSITIONS[transfer.status]:
        raise Conflict(
            f"Transfer {transfer.pk} is {transfer.get_status_display().lower()}: it cannot be "
            f"{TransferStatus(to_status).label.lower()} now.",
            code="illegal_transition",
            details={"status": transfer.status},
        )
    transfer.status = to_status


def _locked_transfer(transfer_id: int) -> Transfer:
    transfer = (
        Transfer.objects.select_for_update(of=("self",))
        .filter(pk=transfer_id)
        .select_related("product", "from_warehouse", "to_warehouse")
        .first()
    )
    if transfer is None:
        raise NotFound(f"Transfer {transfer_id} does not exist.")
    return transfer


@transaction.atomic
def transfer_plan(
    *,
    product: Product,
    from_warehouse: Warehouse,
    to_warehouse: Warehouse,
    quantity: int,
    actor: str,
    extra_errors: Errors | None = None,
) -> Transfer:
    """Agree a transfer: nothing moves until it is shipped (the source's stock stays free meanwhile)."""
    errors: Errors = {}
    if from_warehouse.pk == to_warehouse.pk:
        errors["to_warehouse"] = ["Pick another warehouse than the source."]
    if product.lot_tracked:
        errors["sku"] = [f"{product.sku} is lot-tracked: lots move as a receipt at the destination."]
    if quantity <= 0:
        errors["quantity"] = ["Must be at least 1."]
    if errors or extra_errors:
        raise ValidationFailed(
            "The transfer is invalid; nothing was saved.", details=merge_errors(extra_errors or {}, errors)
        )
    return Transfer.objects.create(
        product=product,
        from_warehouse=from_warehouse,
        to_warehouse=to_warehouse,
        quantity=quantity,
        actor=actor,
        status=TransferStatus.PLANNED,
    )


@transaction.atomic
def transfer_request(
    *,
    sku: str,
    from_code: str,
    to_code: str,
    quantity: int,
    ship: bool,
    actor: str,
    extra_errors: Errors | None = None,
) -> Transfer:
    """A transfer as a WMS or an ops person asks for it, by SKU and warehouse codes; with ``ship`` it
    leaves at once. Every problem of the request is answered at once; nothing is saved with one."""
    errors = dict(extra_errors or {})
    product = Product.objects.filter(sku=normalize_sku(sku)).first() if sku else None
    houses = {
        w.code: w
        for w in Warehouse.objects.filter(code__in=[c.strip().upper() for c in (from_code, to_code)])
    }
    source, destination = houses.get(from_code.strip().upper()), houses.get(to_code.strip().upper())
    if product is None:
        errors.setdefault("sku", [f"Unknown SKU '{sku}'."])
    if source is None:
        errors.setdefault("from_warehouse", [f"Unknown warehouse '{from_code}'."])
    if destination is None:
        errors.setdefault("to_warehouse", [f"Unknown warehouse '{to_code}'."])
    if product is None or source is None or destination is None:
        raise ValidationFailed("The transfer is invalid; nothing was saved.", details=errors)
    transfer = transfer_plan(
        product=product,
        from_warehouse=source,
        to_warehouse=destination,
        quantity=quantity,
        actor=actor,
        extra_errors=errors,
    )
    return transfer_ship(transfer_id=transfer.pk, actor=actor) if ship else transfer


@transaction.atomic
def transfer_ship(*, transfer_id: int, actor: str) -> Transfer:
    """The goods leave the source: its on-hand falls (only free units may go: none promised to an
    order) and the destination counts them in transit, both through the ledger."""
    transfer = _locked_transfer(transfer_id)
    _transfer_transition(transfer, TransferStatus.IN_TRANSIT)
    key_from = (transfer.from_warehouse_id, transfer.product_id)
    key_to = (transfer.to_warehouse_id, transfer.product_id)
    positions = _lock_positions([key_from, key_to])
    source, destination = positions[key_from], positions[key_to]
    free = source.on_hand - source.allocated
    if transfer.quantity > free:
        raise ValidationFailed(
            "Not enough free stock at the source.",
            details={
                "quantity": [f"{transfer.from_warehouse.code} has {free} units not promised to orders."]
            },
        )
    source.on_hand -= transfer.quantity
    destination.in_transit += transfer.quantity
    _save_figures(sorted([source, destination], key=lambda p: p.pk))
    StockMovement.objects.bulk_create(
        [
            _movement(
                source,
                MovementKind.TRANSFER_OUT,
                actor,
                quantity=-transfer.quantity,
                reference_type=ReferenceType.TRANSFER,
                reference=transfer.pk,
            ),
            _movement(
                destination,
                MovementKind.TRANSFER_OUT,
                actor,
                in_transit=transfer.quantity,
                reference_type=ReferenceType.TRANSFER,
                reference=transfer.pk,
            ),
        ]
    )
    transfer.shipped_at, transfer.shipped_by = timezone.now(), actor[:120]
    transfer.save(update_fields=["status", "shipped_at", "shipped_by"])
    return transfer


@transaction.atomic
def transfer_create(
    *, product: Product, from_warehouse: Warehouse, to_warehouse: Warehouse, quantity: int, actor: str
) -> Transfer:
    """Send stock between warehouses now: planned and shipped in one go."""
    transfer = transfer_plan(
        product=product,
        from_warehouse=from_warehouse,
        to_warehouse=to_warehouse,
        quantity=quantity,
        actor=actor,
    )
    return transfer_ship(transfer_id=transfer.pk, actor=actor)


@transaction.atomic
def transfer_cancel(*, transfer_id: int, actor: str) -> Transfer:
    """Drop a planned transfer; one on its way is received instead (its goods exist somewhere)."""
    transfer = _locked_transfer(transfer_id)
    _transfer_transition(transfer, TransferStatus.CANCELLED)
    transfer.save(update_fields=["status"])
    return transfer


@transaction.atomic
def transfer_receive(*, transfer_id: int, actor: str) -> Transfer:
    transfer = _locked_transfer(transfer_id)
    if transfer.status == TransferStatus.RECEIVED:
        raise Conflict(f"Transfer {transfer.pk} was already received.", code="already_received")
    _transfer_transition(transfer, TransferStatus.RECEIVED)
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
    transfer.received_at, transfer.received_by = timezone.now(), actor[:120]
    transfer.save(update_fields=["status", "received_at", "received_by"])
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
