"""Reads of stock that more than one caller needs."""

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from inventory.models import (
    Allocation,
    AllocationStatus,
    Lot,
    StockMovement,
    StockPosition,
    Transfer,
    Warehouse,
)
from orders.models import Order, OrderStatus, Product


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


def products_with_stock(*, text: str = "", warehouse: str = "") -> QuerySet[Product]:
    """Products for the inventory page (SKU prefix or name part), with their positions and warehouses;
    with ``warehouse`` (a code), only products that warehouse holds, and only its positions."""
    positions = StockPosition.objects.select_related("warehouse").order_by("warehouse__code")
    query = Product.objects.order_by("sku")
    code = warehouse.strip().upper()
    if code:
        positions = positions.filter(warehouse__code=code)
        query = query.filter(
            Exists(StockPosition.objects.filter(product=OuterRef("pk"), warehouse__code=code))
        )
    query = query.prefetch_related(Prefetch("stock_positions", queryset=positions))
    text = text.strip()
    if text:
        query = query.filter(Q(sku__istartswith=text) | Q(name__icontains=text))
    return query


def transfers(*, status: str = "", warehouse: str = "") -> QuerySet[Transfer]:
    """Transfers, newest first, optionally of one status and from or to one warehouse (a code)."""
    query = Transfer.objects.select_related("product", "from_warehouse", "to_warehouse").order_by("-id")
    if status:
        query = query.filter(status=status)
    code = warehouse.strip().upper()
    if code:
        query = query.filter(Q(from_warehouse__code=code) | Q(to_warehouse__code=code))
    return query


def position_history(*, product: Product, limit: int = 200) -> list[StockMovement]:
    return list(
        StockMovement.objects.filter(position__product=product)
        .select_related("position__warehouse", "lot")
        .order_by("-id")[:limit]
    )


def lots_of(product: Product) -> list[Lot]:
    return list(
        Lot.objects.filter(position__product=product)
        .select_related("position__warehouse", "bin")
        .order_by("expiry_date", "pk")
    )


def low_stock(*, below: int) -> list[StockPosition]:
    """Positions of active products whose sellable quantity is under ``below`` units."""
    return list(
        StockPosition.objects.filter(product__is_active=True, warehouse__is_active=True)
        .annotate(sellable=F("on_hand") - F("allocated") - F("safety_stock"))
        .filter(sellable__lt=below)
        .select_related("warehouse", "product")
        .order_by("sellable", "product__sku", "warehouse__code")[:500]
    )


def expiring_lots(*, within_days: int) -> list[Lot]:
    today = timezone.localdate()
    return list(
        Lot.objects.filter(on_hand__gt=0, expiry_date__lte=today + timedelta(days=within_days))
        .select_related("position__warehouse", "position__product", "bin")
        .order_by("expiry_date", "pk")[:500]
    )


def active_allocations(order_id: int) -> list[dict]:
    """What is reserved for an order now, per line and warehouse."""
    return active_allocations_of([order_id]).get(order_id, [])


def active_allocations_of(order_ids: list[int]) -> dict[int, list[dict]]:
    """``active_allocations`` of many orders in one query, by order id (orders holding nothing are
    left out)."""
    rows = (
        Allocation.objects.filter(order_line__order_id__in=order_ids, status=AllocationStatus.ACTIVE)
        .values(
            "order_line__order_id",
            "order_line_id",
            "order_line__line_number",
            "position__warehouse_id",
            "position__warehouse__code",
        )
        .annotate(quantity=Sum("quantity"))
        .order_by("order_line_id", "position__warehouse__code")
    )
    held: dict[int, list[dict]] = {}
    for r in rows:
        held.setdefault(r["order_line__order_id"], []).append(
            {
                "line_id": r["order_line_id"],
                "line_number": r["order_line__line_number"],
                "warehouse_id": r["position__warehouse_id"],
                "warehouse": r["position__warehouse__code"],
                "quantity": r["quantity"],
            }
        )
    return held


def orders_waiting_for(product_id: int) -> list[int]:
    """Orders that still need the product (backordered, partially allocated, or short in fulfilment),
    oldest placed first."""
    waiting = (
        Order.objects.filter(
            lines__product_id=product_id,
            lines__quantity__gt=F("lines__qty_allocated") + F("lines__qty_cancelled"),
            status__in=[
                OrderStatus.BACKORDERED,
                OrderStatus.PARTIALLY_ALLOCATED,
                OrderStatus.IN_FULFILLMENT,
                OrderStatus.PARTIALLY_SHIPPED,
            ],
        )
        .order_by("placed_at", "pk")
        .values_list("pk", flat=True)
    )
    return list(dict.fromkeys(waiting))


def warehouse_choices() -> list[tuple[str, str]]:
    return list(Warehouse.objects.filter(is_active=True).order_by("code").values_list("code", "code"))


def orders_served_by(orders, code: str):
    """``orders`` narrowed to those the warehouse serves: it holds, or shipped, some of their units."""
    served = Allocation.objects.filter(
        order_line__order_id=OuterRef("pk"),
        position__warehouse__code=code.strip().upper(),
        status__in=[AllocationStatus.ACTIVE, AllocationStatus.SHIPPED],
    )
    return orders.filter(Exists(served))
