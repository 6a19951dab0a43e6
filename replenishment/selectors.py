"""Reads of replenishment: which incoming supply will serve which waiting order line, and when."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.db.models import F

from inventory.models import Transfer, TransferStatus
from orders.models import OrderLine
from replenishment.evaluation import WAITING
from replenishment.models import (
    ProductionOrder,
    ProductionOrderStatus,
    PurchaseOrderLine,
    PurchaseOrderStatus,
)

INCOMING_PO = [PurchaseOrderStatus.SENT, PurchaseOrderStatus.PARTIALLY_RECEIVED]
INCOMING_MO = [
    ProductionOrderStatus.PLANNED,
    ProductionOrderStatus.SCHEDULED,
    ProductionOrderStatus.IN_PROGRESS,
]


@dataclass
class Supply:
    reference: str
    units: int
    expected_date: date | None


@dataclass
class LineCover:
    """A waiting order line's units and the supplies that will serve them, in the order they arrive."""

    order_line_id: int
    waiting: int
    covered: int = 0
    supplies: list[str] = field(default_factory=list)
    expected_date: date | None = None  # when the last of its units is expected; None: not all are


def _supplies(product_id: int) -> list[Supply]:
    supplies = [
        Supply(
            str(line.purchase_order),
            line.quantity - line.received_quantity,
            line.purchase_order.expected_date,
        )
        for line in PurchaseOrderLine.objects.filter(
            product_id=product_id, purchase_order__status__in=INCOMING_PO, quantity__gt=F("received_quantity")
        ).select_related("purchase_order")
    ]
    supplies += [
        Supply(str(mo), mo.quantity - mo.produced_quantity, mo.scheduled_date or mo.due_date)
        for mo in ProductionOrder.objects.filter(
            product_id=product_id, status__in=INCOMING_MO, quantity__gt=F("produced_quantity")
        )
    ]
    supplies += [
        Supply(f"transfer {t.pk}", t.quantity, None)
        for t in Transfer.objects.filter(
            product_id=product_id, status__in=[TransferStatus.PLANNED, TransferStatus.IN_TRANSIT]
        )
    ]
    # the first to arrive serves the oldest waiting line; supplies without a date come last
    return sorted(supplies, key=lambda s: (s.expected_date is None, s.expected_date or date.max, s.reference))


def backorder_cover(product_ids: list[int]) -> dict[int, LineCover]:
    """For every waiting order line of these SKUs, oldest placed first, the incoming supplies that will
    serve it (purchase orders by expected date, production orders by slot, then transfers), as
    receipts fill backorders in that order."""
    covers: dict[int, LineCover] = {}
    lines = defaultdict(list)
    for line in (
        OrderLine.objects.filter(
            product_id__in=product_ids,
            order__status__in=WAITING,
            quantity__gt=F("qty_allocated") + F("qty_cancelled"),
        )
        .order_by("order__placed_at", "order_id", "line_number")
        .values("pk", "product_id", "quantity", "qty_allocated", "qty_cancelled")
    ):
        lines[line["product_id"]].append(line)
    for product_id, waiting_lines in lines.items():
        supplies = _supplies(product_id)
        index, left = 0, supplies[0].units if supplies else 0
        for line in waiting_lines:
            cover = LineCover(line["pk"], line["quantity"] - line["qty_allocated"] - line["qty_cancelled"])
            while cover.covered < cover.waiting and index < len(supplies):
                take = min(left, cover.waiting - cover.covered)
                if take:
                    cover.covered += take
                    left -= take
                    supply = supplies[index]
                    if supply.reference not in cover.supplies:
                        cover.supplies.append(supply.reference)
                    if cover.covered == cover.waiting:
                        cover.expected_date = supply.expected_date
                if left == 0:
                    index += 1
                    left = supplies[index].units if index < len(supplies) else 0
            covers[line["pk"]] = cover
    return covers


def order_expected_stock(order) -> dict:
    """What an order's API detail says of its waiting lines: units, when their stock is expected, and
    from which supply (the channel sees our references, never a supplier's name)."""
    if order.status not in WAITING:
        return {"expected_stock": []}  # nothing waits: no query
    lines = {line.pk: line for line in order.lines.all()}
    covers = backorder_cover(list({line.product_id for line in lines.values()}))
    expected = []
    for line_id, line in sorted(lines.items(), key=lambda item: item[1].line_number):
        cover = covers.get(line_id)
        if cover is None:
            continue
        expected.append(
            {
                "line_number": line.line_number,
                "sku": line.sku,
                "waiting": cover.waiting,
                "expected_date": cover.expected_date,
                "supplies": cover.supplies,
            }
        )
    return {"expected_stock": expected}
