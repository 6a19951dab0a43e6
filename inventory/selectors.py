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


@dataclass(frozen=True)
class WarehouseAvailability:
    warehouse: str
    on_hand: int
    allocated: int
    in_transit: int
    safety_stock: int
    available: int  # what may still be promised: on hand - allocated - safety stock


def availability_by_sku(skus: list[str]) -> dict[str, list[WarehouseAvailability]]:
    """Per SKU, the figures of every active warehouse that holds a position for it."""
    result: dict[str, list[WarehouseAvailability]] = {sku: [] for sku in skus}
    positions = (
        StockPosition.objects.filter(product__sku__in=skus, warehouse__is_active=True)
        .select_related("warehouse", "product")
        .order_by("product__sku", "warehouse__code")
    )
    for p in positions:
        result[p.product.sku].append(
            WarehouseAvailability(
                warehouse=p.warehouse.code,
                on_hand=p.on_hand,
                allocated=p.allocated,
                in_transit=p.in_transit,
                safety_stock=p.safety_stock,
                available=p.available,
            )
        )
    return result
