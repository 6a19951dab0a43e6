"""Reads of stock that more than one caller needs."""

from dataclasses import dataclass

from django.db.models import Sum
from django.db.models.functions import Coalesce

from inventory.models import Lot, StockMovement, StockPosition


@dataclass(frozen=True)
class Drift:
    what: str  # "position 12" or "lot 7"
    figure: str  # on_hand, allocated, in_transit
    stored: int
    ledger: int

    def __str__(self) -> str:
        return f"{self.what}: {self.figure} is {self.stored}, the ledger says {self.ledger}"


def stock_drifts() -> list[Drift]:
    """Every position and lot whose stored figures differ from the sum of its ledger rows."""
    drifts = []
    sums = {
        row["position_id"]: row
        for row in StockMovement.objects.values("position_id").annotate(
            on_hand=Coalesce(Sum("quantity"), 0),
            allocated=Coalesce(Sum("allocated_delta"), 0),
            in_transit=Coalesce(Sum("in_transit_delta"), 0),
        )
    }
    empty = {"on_hand": 0, "allocated": 0, "in_transit": 0}
    for position in StockPosition.objects.select_related("warehouse", "product").order_by("pk"):
        ledger = sums.get(position.pk, empty)
        for figure in ("on_hand", "allocated", "in_transit"):
            if getattr(position, figure) != ledger[figure]:
                what = f"position {position.pk} ({position.warehouse.code} {position.product.sku})"
                drifts.append(Drift(what, figure, getattr(position, figure), ledger[figure]))
    lot_sums = {
        row["lot_id"]: row
        for row in StockMovement.objects.filter(lot__isnull=False)
        .values("lot_id")
        .annotate(on_hand=Coalesce(Sum("quantity"), 0), allocated=Coalesce(Sum("allocated_delta"), 0))
    }
    for lot in Lot.objects.order_by("pk"):
        ledger = lot_sums.get(lot.pk, empty)
        for figure in ("on_hand", "allocated"):
            if getattr(lot, figure) != ledger[figure]:
                drifts.append(
                    Drift(f"lot {lot.pk} ({lot.code})", figure, getattr(lot, figure), ledger[figure])
                )
    return drifts
