"""Reads of replenishment: which incoming supply will serve which waiting order line, and when."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import F, Sum

from inventory.models import Transfer, TransferStatus
from orders.models import OrderLine, order_number
from replenishment.evaluation import WAITING
from replenishment.models import (
    ProductionOrder,
    ProductionOrderStatus,
    ProductionSite,
    ProductionSlot,
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
    takes: dict[str, int] = field(default_factory=dict)  # supply reference -> units it brings this line
    order_id: int = 0
    line_number: int = 0


def _supplies(product_ids: list[int]) -> dict[int, list[Supply]]:
    """Each SKU's incoming supplies, in the order they arrive (three queries for all the SKUs)."""
    supplies: dict[int, list[Supply]] = defaultdict(list)
    for line in PurchaseOrderLine.objects.filter(
        product_id__in=product_ids,
        purchase_order__status__in=INCOMING_PO,
        quantity__gt=F("received_quantity"),
    ).select_related("purchase_order"):
        supplies[line.product_id].append(
            Supply(
                str(line.purchase_order),
                line.quantity - line.received_quantity,
                line.purchase_order.expected_date,
            )
        )
    for mo in ProductionOrder.objects.filter(
        product_id__in=product_ids, status__in=INCOMING_MO, quantity__gt=F("produced_quantity")
    ):
        supplies[mo.product_id].append(
            Supply(str(mo), mo.quantity - mo.produced_quantity, mo.scheduled_date or mo.due_date)
        )
    for t in Transfer.objects.filter(
        product_id__in=product_ids, status__in=[TransferStatus.PLANNED, TransferStatus.IN_TRANSIT]
    ):
        supplies[t.product_id].append(Supply(f"transfer {t.pk}", t.quantity, None))
    # the first to arrive serves the oldest waiting line; supplies without a date come last
    return {
        product_id: sorted(
            found, key=lambda s: (s.expected_date is None, s.expected_date or date.max, s.reference)
        )
        for product_id, found in supplies.items()
    }


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
        .values("pk", "product_id", "quantity", "qty_allocated", "qty_cancelled", "order_id", "line_number")
    ):
        lines[line["product_id"]].append(line)
    incoming = _supplies(list(lines))
    for product_id, waiting_lines in lines.items():
        supplies = incoming.get(product_id, [])
        index, left = 0, supplies[0].units if supplies else 0
        for line in waiting_lines:
            cover = LineCover(
                line["pk"],
                line["quantity"] - line["qty_allocated"] - line["qty_cancelled"],
                order_id=line["order_id"],
                line_number=line["line_number"],
            )
            while cover.covered < cover.waiting and index < len(supplies):
                take = min(left, cover.waiting - cover.covered)
                if take:
                    cover.covered += take
                    left -= take
                    supply = supplies[index]
                    if supply.reference not in cover.supplies:
                        cover.supplies.append(supply.reference)
                    cover.takes[supply.reference] = cover.takes.get(supply.reference, 0) + take
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
        return {"expected_stock": [], "expected_stock_date": None}  # nothing waits: no query
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
    dates = [line["expected_date"] for line in expected]
    # the order's promise from the supply side: complete once its last waiting unit has arrived
    complete_by = max(dates) if dates and all(dates) else None
    return {"expected_stock": expected, "expected_stock_date": complete_by}


@dataclass(frozen=True)
class Served:
    """A waiting order line that an incoming supply will serve, and with how many of its units."""

    order_id: int
    order_number: str
    line_number: int
    units: int


def supplies_serve(product_ids: list[int]) -> dict[str, list[Served]]:
    """The other way round of ``backorder_cover``: for each incoming supply of these SKUs (by our
    reference, e.g. PO-000012 or MO-000003), the waiting order lines it will serve, oldest first."""
    if not product_ids:
        return {}
    served: dict[str, list[Served]] = defaultdict(list)
    for cover in backorder_cover(product_ids).values():
        for reference, units in cover.takes.items():
            served[reference].append(
                Served(cover.order_id, order_number(cover.order_id), cover.line_number, units)
            )
    return dict(served)


@dataclass
class DayLoad:
    day: date
    units: int
    capacity: int

    @property
    def percent(self) -> int:
        return min(round(100 * self.units / self.capacity), 100) if self.capacity else 100

    # the load chart: a full day is 50 high, standing on y = 56
    @property
    def bar_height(self) -> int:
        return round(self.percent / 2)

    @property
    def bar_top(self) -> int:
        return 56 - self.bar_height


@dataclass
class SiteSchedule:
    site: object
    days: list[DayLoad]
    orders: list  # production orders not done, earliest scheduled first, each with .serves


def production_schedules(*, today: date, days: int) -> list[SiteSchedule]:
    """Each active site's load per day for ``days`` days from ``today`` (units scheduled against its
    capacity) and its open production orders with the backorders each will serve. Four queries."""
    sites = list(ProductionSite.objects.filter(is_active=True).select_related("warehouse").order_by("code"))
    until = today + timedelta(days=days - 1)
    loads: dict[tuple[int, date], int] = {
        (row["site_id"], row["day"]): row["units"]
        for row in ProductionSlot.objects.filter(site__in=sites, day__range=(today, until))
        .values("site_id", "day")
        .annotate(units=Sum("units"))
    }
    orders = list(
        ProductionOrder.objects.filter(site__in=sites, status__in=INCOMING_MO)
        .select_related("product")
        .order_by(F("scheduled_date").asc(nulls_last=True), F("due_date").asc(nulls_last=True), "pk")
    )
    serves = supplies_serve(sorted({o.product_id for o in orders}))
    by_site: dict[int, list] = defaultdict(list)
    for order in orders:
        order.serves = serves.get(str(order), [])
        by_site[order.site_id].append(order)
    return [
        SiteSchedule(
            site=site,
            days=[
                DayLoad(d, loads.get((site.pk, d), 0), site.capacity_per_day)
                for d in (today + timedelta(days=n) for n in range(days))
            ],
            orders=by_site.get(site.pk, []),
        )
        for site in sites
    ]
