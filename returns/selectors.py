"""Reads of returns that the API, the dashboard and the tracking page share."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Exists, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import TruncWeek

from orders.models import Order, OrderLine
from returns.models import Return, ReturnLine, ReturnReason, ReturnStatus

# The queue's order: what waits for a person first, then what the warehouse waits for.
QUEUE_ORDER = [
    ReturnStatus.REQUESTED,
    ReturnStatus.RECEIVED,
    ReturnStatus.INSPECTED,
    ReturnStatus.AUTHORISED,
    ReturnStatus.LABEL_ISSUED,
    ReturnStatus.IN_TRANSIT,
]
DONE = [ReturnStatus.CLOSED, ReturnStatus.REJECTED, ReturnStatus.CANCELLED]
# Counts on the queue's chips stop here: past it the chip says "1,000+" (no COUNT over a big table).
COUNT_CAP = 1000


def returns_with_lines() -> QuerySet[Return]:
    return Return.objects.select_related(
        "channel", "return_location", "shipment__service__carrier"
    ).prefetch_related("lines__order_line__order", "lines__reason", "lines__exchange_product", "events")


def return_detail(*, return_id: int, channel_id: int | None = None) -> Return | None:
    """One return; with ``channel_id``, only that channel's."""
    query = returns_with_lines().filter(pk=return_id)
    if channel_id is not None:
        query = query.filter(channel_id=channel_id)
    return query.first()


def queue_counts() -> list[tuple[str, str, int]]:
    """(status, label, count) of every open status, in the queue's order; each count bounded."""
    return [
        (status, ReturnStatus(status).label, Return.objects.filter(status=status)[: COUNT_CAP + 1].count())
        for status in QUEUE_ORDER
    ]


def returns_list(
    *,
    status: str = "",
    channel: str = "",
    warehouse: str = "",
    reason: str = "",
    sku: str = "",
    query: str = "",
) -> QuerySet[Return]:
    """The queue, narrowed: newest first, except that waiting for approval is oldest first (fair)."""
    # Units per return as a correlated subquery: PostgreSQL runs it for the page's rows only, where a
    # join and GROUP BY would aggregate every return before the LIMIT.
    units = (
        ReturnLine.objects.filter(ret=OuterRef("pk")).values("ret").annotate(n=Sum("quantity")).values("n")
    )
    rows = Return.objects.select_related("channel", "customer", "return_location").annotate(
        units=Subquery(units)
    )
    if status == "open":
        rows = rows.exclude(status__in=DONE)
    elif status:
        rows = rows.filter(status=status)
    if channel:
        rows = rows.filter(channel__code=channel)
    if warehouse:
        rows = rows.filter(return_location__code=warehouse)
    if reason:
        rows = rows.filter(Exists(ReturnLine.objects.filter(ret=OuterRef("pk"), reason__code=reason)))
    if sku:
        rows = rows.filter(Exists(ReturnLine.objects.filter(ret=OuterRef("pk"), order_line__sku=sku)))
    if query:
        text = query.strip().upper()
        number = text.removeprefix("RMA-")
        if number.isascii() and number.isdigit() and len(number) < 19:
            rows = rows.filter(pk=int(number))
        else:
            rows = rows.filter(
                Exists(
                    ReturnLine.objects.filter(
                        ret=OuterRef("pk"), order_line__order__external_id=query.strip()
                    )
                )
            )
    return rows.order_by("id" if status == ReturnStatus.REQUESTED else "-id")


def reason_choices() -> list[tuple[str, str]]:
    """Every reason code in use anywhere (for filters), with a label."""
    choices: dict[str, str] = {}
    for code, label in ReturnReason.objects.order_by("channel_id", "code").values_list("code", "label"):
        choices.setdefault(code, label)
    return sorted(choices.items())


def return_first_order_id(return_id: int) -> int | None:
    """The order a return's messages go to the customer of: its first (a return may span several of
    one customer's orders)."""
    return (
        ReturnLine.objects.filter(ret_id=return_id)
        .order_by("order_line__order_id")
        .values_list("order_line__order_id", flat=True)
        .first()
    )


def returns_of_order(order: Order) -> list[Return]:
    return list(
        Return.objects.filter(lines__order_line__order=order)
        .distinct()
        .select_related("return_location")
        .prefetch_related("lines__order_line", "lines__reason")
        .order_by("-id")
    )


@dataclass
class Rate:
    """Units asked back against units delivered, for one reason, product or channel."""

    key: str
    label: str
    returned: int
    delivered: int

    @property
    def rate(self) -> float | None:
        return self.returned / self.delivered if self.delivered else None


@dataclass
class Rates:
    since: datetime
    delivered: int
    returned: int
    by_reason: list[Rate]
    by_product: list[Rate]
    by_channel: list[Rate]
    weekly: list[tuple[datetime, int]]

    @property
    def rate(self) -> float | None:
        return self.returned / self.delivered if self.delivered else None


def return_rates(*, since: datetime, top: int = 15) -> Rates:
    """Return rates of the orders placed since ``since``: units asked back (returns not rejected or
    cancelled) against units delivered, by reason, product and channel; and returns opened per week.
    Bounded by the period, so the page costs the same whatever the history's size."""
    lines = OrderLine.objects.filter(order__placed_at__gte=since)
    asked = ReturnLine.objects.filter(order_line__order__placed_at__gte=since).exclude(
        ret__status__in=[ReturnStatus.REJECTED, ReturnStatus.CANCELLED]
    )
    delivered_total = lines.aggregate(n=Sum("qty_delivered"))["n"] or 0
    returned_total = asked.aggregate(n=Sum("quantity"))["n"] or 0
    labels = dict(ReturnReason.objects.values_list("code", "label"))
    by_reason = [
        Rate(
            row["reason__code"],
            labels.get(row["reason__code"], row["reason__code"]),
            row["n"],
            delivered_total,
        )
        for row in asked.values("reason__code").annotate(n=Sum("quantity")).order_by("-n")
    ]
    returned_by_sku = dict(
        asked.values("order_line__sku").annotate(n=Sum("quantity")).values_list("order_line__sku", "n")
    )
    delivered_by_sku = dict(
        lines.filter(sku__in=list(returned_by_sku))
        .values("sku")
        .annotate(n=Sum("qty_delivered"))
        .values_list("sku", "n")
    )
    by_product = sorted(
        (Rate(sku, sku, n, delivered_by_sku.get(sku, 0)) for sku, n in returned_by_sku.items()),
        key=lambda r: (-(r.rate or 0), -r.returned, r.key),
    )[:top]
    returned_by_channel = dict(
        asked.values("ret__channel__code").annotate(n=Sum("quantity")).values_list("ret__channel__code", "n")
    )
    delivered_by_channel = lines.values("order__channel__code", "order__channel__name").annotate(
        n=Sum("qty_delivered")
    )
    by_channel = sorted(
        (
            Rate(
                row["order__channel__code"],
                row["order__channel__name"],
                returned_by_channel.get(row["order__channel__code"], 0),
                row["n"] or 0,
            )
            for row in delivered_by_channel
        ),
        key=lambda r: (-(r.rate or 0), r.key),
    )
    weekly = list(
        Return.objects.filter(created_at__gte=since)
        .annotate(week=TruncWeek("created_at"))
        .values("week")
        .annotate(n=Count("id"))
        .order_by("week")
        .values_list("week", "n")
    )
    return Rates(since, delivered_total, returned_total, by_reason, by_product, by_channel, weekly)
