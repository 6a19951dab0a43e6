"""Writes to stock. Every change of on_hand or allocated is a ledger row in the same transaction."""

from django.db import transaction
from django.db.models import F

from inventory.models import MovementKind, StockMovement, StockPosition, Warehouse
from oms.errors import ValidationFailed
from orders.models import Product


@transaction.atomic
def stock_receive(
    *,
    warehouse: Warehouse,
    product: Product,
    quantity: int,
    actor: str,
    reference: str = "",
    reason: str = "",
) -> StockPosition:
    """Goods arrived: on_hand goes up by ``quantity`` and the ledger says so."""
    if quantity <= 0:
        raise ValidationFailed(
            "A receipt needs a positive quantity.", details={"quantity": ["Must be at least 1."]}
        )
    position, _ = StockPosition.objects.get_or_create(warehouse=warehouse, product=product)
    StockPosition.objects.filter(pk=position.pk).update(on_hand=F("on_hand") + quantity)
    StockMovement.objects.create(
        position=position,
        kind=MovementKind.RECEIPT,
        quantity=quantity,
        reason=reason,
        reference=reference,
        actor=actor,
    )
    position.refresh_from_db()
    return position
