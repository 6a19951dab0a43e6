"""Reads of the KPI figures: a KPI over a period (a few rows of one grain, summed), its daily trend,
its breakdown by channel, warehouse or carrier, and the open alerts."""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Sum

from kpis.definitions import KPIS, Kpi
from kpis.models import AlertStatus, DailyFigure, Grain, KpiAlert


@dataclass(frozen=True)
class Filters:
    channel_id: int | None = None
    warehouse_id: int | None = None
    carrier_id: int | None = None
    country: str = ""  # with a warehouse (or alone), a lane: shipments to this country

    def grain_for(self, kpi: Kpi) -> str | None:
        """The grain whose rows answer these filters for ``kpi``; None when it has no such figures
        (an order KPI filtered by warehouse; a lane with a channel or carrier)."""
        by_shipment = self.warehouse_id or self.carrier_id or self.country
        if by_shipment and kpi.level != "shipment":
            return None
        if self.country:
            return None if self.channel_id or self.carrier_id else Grain.LANE
        chosen = [d for d in (self.channel_id, self.warehouse_id, self.carrier_id) if d]
        if len(chosen) > 1:
            return Grain.FULL
        if self.channel_id:
            return Grain.CHANNEL
        if self.warehouse_id:
            return Grain.WAREHOUSE
        if self.carrier_id:
            return Grain.CARRIER
        return Grain.ALL

    def narrow(self, rows):
        if self.channel_id:
            rows = rows.filter(channel_id=self.channel_id)
        if self.warehouse_id:
            rows = rows.filter(warehouse_id=self.warehouse_id)
        if self.carrier_id:
            rows = rows.filter(carrier_id=self.carrier_id)
        if self.country:
            rows = rows.filter(country=self.country)
        return rows


def figures(kpi: Kpi, first: date, last: date, filters: Filters) -> "DailyFigure.objects":
    grain = filters.grain_for(kpi)
    if grain is None:
        return DailyFigure.objects.none()
    return filters.narrow(
        DailyFigure.objects.filter(grain=grain, kpi=kpi.code, day__gte=first, day__lte=last)
    )


def kpi_sum(kpi: Kpi, first: date, last: date, filters: Filters = Filters()) -> tuple[Decimal, Decimal]:
    sums = figures(kpi, first, last, filters).aggregate(n=Sum("numerator"), d=Sum("denominator"))
    return sums["n"] or Decimal(0), sums["d"] or Decimal(0)


@dataclass
class Figure:
    kpi: Kpi
    value: Decimal | None
    count: Decimal
    previous: Decimal | None
    trend: list[tuple[date, Decimal | None]] = field(default_factory=list)
    available: bool = True

    @property
    def change(self) -> Decimal | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous

    @property
    def improved(self) -> bool | None:
        if not self.change:
            return None
        return (self.change > 0) == (self.kpi.better == "higher")


def kpi_figures(first: date, last: date, filters: Filters = Filters()) -> list[Figure]:
    """Every KPI over the period, the period as long before it, and its trend by day: one grouped
    query per grain the filters need (one or two), over a few rows per KPI and day, whatever the
    size of the histories."""
    days = (last - first).days + 1
    previous_first = first - timedelta(days=days)
    grains: dict[str, list[Kpi]] = {}
    for kpi in KPIS:
        grain = filters.grain_for(kpi)
        if grain is not None:
            grains.setdefault(grain, []).append(kpi)
    zero = (Decimal(0), Decimal(0))
    daily: dict[tuple[str, date], tuple[Decimal, Decimal]] = {}
    for grain, kpis in grains.items():
        rows = filters.narrow(
            DailyFigure.objects.filter(
                grain=grain, kpi__in=[k.code for k in kpis], day__gte=previous_first, day__lte=last
            )
        )
        for row in rows.values("kpi", "day").annotate(n=Sum("numerator"), d=Sum("denominator")).order_by():
            daily[(row["kpi"], row["day"])] = (row["n"], row["d"])
    result = []
    for kpi in KPIS:
        if filters.grain_for(kpi) is None:
            result.append(Figure(kpi, None, Decimal(0), None, available=False))
            continue
        period = [first + timedelta(days=i) for i in range(days)]
        before = [previous_first + timedelta(days=i) for i in range(days)]
        parts = [daily.get((kpi.code, day), zero) for day in period]
        numerator, denominator = sum(p[0] for p in parts), sum(p[1] for p in parts)
        earlier = [daily.get((kpi.code, day), zero) for day in before]
        previous_n, previous_d = sum(p[0] for p in earlier), sum(p[1] for p in earlier)
        counted = kpi.kind == "count"  # a day without orders is 0 orders; a rate of nothing is no figure
        trend = [
            (day, kpi.value(n, d) if d or counted else None)
            for day, (n, d) in zip(period, parts, strict=True)
        ]
        result.append(
            Figure(
                kpi,
                kpi.value(numerator, denominator) if denominator or counted else None,
                numerator if counted else denominator,
                kpi.value(previous_n, previous_d) if previous_d or counted else None,
                trend,
            )
        )
    return result


@dataclass
class BreakdownRow:
    key: int
    label: str
    value: Decimal | None
    count: Decimal


def breakdown(kpi: Kpi, first: date, last: date, by: str, filters: Filters = Filters()) -> list[BreakdownRow]:
    """The KPI over the period per channel, warehouse or carrier (``by``), largest count first."""
    from inventory.models import Warehouse
    from orders.models import Channel
    from shipments.models import Carrier

    if by != "channel" and kpi.level != "shipment":
        return []
    if by == "lane":
        return _lanes(kpi, first, last, filters)
    if filters.country:
        return []  # figures per lane only
    grain = {"channel": Grain.CHANNEL, "warehouse": Grain.WAREHOUSE, "carrier": Grain.CARRIER}[by]
    others = [filters.channel_id, filters.warehouse_id, filters.carrier_id]
    if any(others):
        grain = Grain.FULL if kpi.level == "shipment" else Grain.CHANNEL
    rows = filters.narrow(
        DailyFigure.objects.filter(grain=grain, kpi=kpi.code, day__gte=first, day__lte=last)
    )
    column = f"{by}_id"
    names = {
        "channel": lambda: dict(Channel.objects.values_list("pk", "name")),
        "warehouse": lambda: dict(Warehouse.objects.values_list("pk", "name")),
        "carrier": lambda: dict(Carrier.objects.values_list("pk", "name")),
    }[by]()
    grouped = rows.values(column).annotate(n=Sum("numerator"), d=Sum("denominator")).order_by()
    out = [
        BreakdownRow(
            row[column],
            names.get(row[column], "?"),
            kpi.value(row["n"], row["d"]),
            row["n"] if kpi.kind == "count" else row["d"],
        )
        for row in grouped
        if row[column] is not None
    ]
    return sorted(out, key=lambda r: (-r.count, r.label))


def _lanes(kpi: Kpi, first: date, last: date, filters: Filters) -> list[BreakdownRow]:
    """Per warehouse and destination country (cost per delivery by lane, on-time by lane)."""
    from inventory.models import Warehouse

    if filters.channel_id or filters.carrier_id:
        return []
    rows = filters.narrow(
        DailyFigure.objects.filter(grain=Grain.LANE, kpi=kpi.code, day__gte=first, day__lte=last)
    )
    names = dict(Warehouse.objects.values_list("pk", "name"))
    grouped = (
        rows.values("warehouse_id", "country").annotate(n=Sum("numerator"), d=Sum("denominator")).order_by()
    )
    out = [
        BreakdownRow(
            (row["warehouse_id"], row["country"]),
            f"{names.get(row['warehouse_id'], '?')} → {row['country'] or 'pick-up'}",
            kpi.value(row["n"], row["d"]),
            row["d"],
        )
        for row in grouped
    ]
    return sorted(out, key=lambda r: (-r.count, r.label))


def open_alerts():
    return (
        KpiAlert.objects.filter(status=AlertStatus.OPEN)
        .select_related("threshold__channel", "threshold__warehouse", "threshold__carrier")
        .order_by("-opened_at")
    )


def recent_alerts(limit: int = 50):
    return KpiAlert.objects.select_related(
        "threshold__channel", "threshold__warehouse", "threshold__carrier"
    ).order_by("-opened_at")[:limit]
