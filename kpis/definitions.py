"""The KPIs, each once: what it counts, on which day, over which dimensions (docs/kpis.md says the
same in words). For a range of days, each KPI yields its numerator and denominator per day and
dimension, computed straight from the histories of the apps below; the rollup folds them into
``DailyFigure`` rows, and the drill-down lists the orders behind a figure with the same querysets.

Days are the merchant's days (``TIME_ZONE``). Order KPIs are per channel; shipment KPIs per channel,
warehouse and carrier."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import (
    Case,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from notifications.models import Medium, Message
from orders.models import Order, OrderEvent, OrderLine, OrderStatus
from returns.models import ReturnLine, ReturnStatus
from routing.models import DecisionOutcome, RoutingDecision
from shipments.carriers.base import Milestone
from shipments.models import ShipmentDirection
from tracking.models import EtaPrediction, TrackingEvent, TrackingState

# day, channel, warehouse, carrier, numerator, denominator (and, for shipments, the destination country)
Row = (
    tuple[date, int | None, int | None, int | None, Decimal, Decimal]
    | tuple[date, int | None, int | None, int | None, Decimal, Decimal, str]
)


@dataclass(frozen=True)
class Span:
    """Days ``first`` to ``last`` inclusive, and the instants that bound them in the merchant's zone."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time.min, tzinfo=timezone.get_default_timezone())

    @property
    def end(self) -> datetime:
        return datetime.combine(
            self.last + timedelta(days=1), time.min, tzinfo=timezone.get_default_timezone()
        )


def local_day(field: str) -> TruncDate:
    return TruncDate(field, tzinfo=timezone.get_default_timezone())


@dataclass(frozen=True)
class Kpi:
    code: str
    label: str
    kind: str  # "rate" (a share, numerator over denominator), "mean" (an average), "count"
    unit: str  # how a value reads: "%", "h", "s", "events", "orders", "money"
    better: str  # "higher" or "lower": which way is good (for colours and alert defaults)
    level: str  # "order" (per channel) or "shipment" (per channel, warehouse and carrier)
    basis: str  # the time basis, in words, for the page's legend
    counts: str  # what the denominator counts, for the page ("orders delivered")
    rows: Callable[[Span], Iterator[Row]]
    population: Callable[[Span], QuerySet]  # the rows behind the denominator (orders or shipments)
    missed: Callable[[QuerySet], QuerySet] | None = None  # of those, the ones that fail the KPI

    def value(self, numerator: Decimal, denominator: Decimal) -> Decimal | None:
        """The figure from summed parts: a share (0 - 1), an average, or a count."""
        if self.kind == "count":
            return numerator
        if not denominator:
            return None
        return numerator / denominator


def _d(value) -> Decimal:
    if value is None:
        return Decimal(0)
    if isinstance(value, timedelta):
        return Decimal(str(value.total_seconds()))
    return Decimal(str(value))


# -- order KPIs ---------------------------------------------------------------------------------------


def _orders_placed(span: Span) -> QuerySet:
    return Order.objects.filter(placed_at__gte=span.start, placed_at__lt=span.end)


def _placed_rows(span: Span) -> Iterator[Row]:
    rows = (
        _orders_placed(span)
        .values("channel_id", day=local_day("placed_at"))
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        yield row["day"], row["channel_id"], None, None, _d(row["n"]), _d(row["n"])


def _deliveries(span: Span) -> QuerySet:
    """Each order's first move to delivered (every unit delivered), on its day."""
    earlier = OrderEvent.objects.filter(
        order_id=OuterRef("order_id"), to_status=OrderStatus.DELIVERED, id__lt=OuterRef("id")
    )
    return OrderEvent.objects.filter(
        to_status=OrderStatus.DELIVERED, created_at__gte=span.start, created_at__lt=span.end
    ).exclude(Exists(earlier))


def _delivered_orders(span: Span) -> QuerySet:
    return Order.objects.filter(pk__in=_deliveries(span).values("order_id"))


def _cycle_rows(span: Span) -> Iterator[Row]:
    rows = (
        _deliveries(span)
        .values("order__channel_id", day=local_day("created_at"))
        .annotate(
            n=Count("id"),
            total=Sum(
                ExpressionWrapper(F("created_at") - F("order__placed_at"), output_field=DurationField())
            ),
        )
        .order_by()
    )
    for row in rows:
        hours = _d(row["total"]) / 3600
        yield row["day"], row["order__channel_id"], None, None, hours, _d(row["n"])


def _first_decisions(span: Span) -> QuerySet:
    earlier = RoutingDecision.objects.filter(order_id=OuterRef("order_id"), id__lt=OuterRef("id"))
    return RoutingDecision.objects.filter(created_at__gte=span.start, created_at__lt=span.end).exclude(
        Exists(earlier)
    )


def _fill_rows(span: Span) -> Iterator[Row]:
    rows = (
        _first_decisions(span)
        .values("order__channel_id", day=local_day("created_at"))
        .annotate(n=Count("id"), filled=Count("id", filter=Q(outcome=DecisionOutcome.ALLOCATED)))
        .order_by()
    )
    for row in rows:
        yield row["day"], row["order__channel_id"], None, None, _d(row["filled"]), _d(row["n"])


def _late_shipments():
    """Outbound shipments of the outer order delivered after the day promised."""
    return (
        TrackingState.objects.filter(
            shipment__order_id=OuterRef("pk"),
            shipment__direction=ShipmentDirection.OUTBOUND,
            promised_date__isnull=False,
            delivered_at__isnull=False,
        )
        .annotate(delivered_day=local_day("delivered_at"))
        .filter(delivered_day__gt=F("promised_date"))
    )


def _damage_returns():
    """Units of the outer order sent back for a reason that is the merchant's fault (damaged, wrong
    item), in a return that was not rejected or cancelled."""
    return ReturnLine.objects.filter(
        order_line__order_id=OuterRef("pk"), reason__merchant_fault=True
    ).exclude(ret__status__in=[ReturnStatus.REJECTED, ReturnStatus.CANCELLED])


def _asked_back():
    """Units of the outer order asked back, in a return that was not rejected or cancelled."""
    return ReturnLine.objects.filter(order_line__order_id=OuterRef("pk")).exclude(
        ret__status__in=[ReturnStatus.REJECTED, ReturnStatus.CANCELLED]
    )


def _short_lines():
    return OrderLine.objects.filter(order_id=OuterRef("pk"), qty_cancelled__gt=0)


def _delivered_orders_by_day(span: Span) -> QuerySet:
    """The orders delivered in the span, each with the day it was (its first move to delivered)."""
    day = (
        _deliveries(span).filter(order_id=OuterRef("pk")).annotate(d=local_day("created_at")).values("d")[:1]
    )
    return _delivered_orders(span).annotate(delivered_day=Subquery(day))


def _not_perfect(orders: QuerySet) -> QuerySet:
    return orders.filter(Exists(_short_lines()) | Exists(_late_shipments()) | Exists(_damage_returns()))


def _perfect_rows(span: Span) -> Iterator[Row]:
    rows = (
        _delivered_orders_by_day(span)
        .annotate(
            flawed=Exists(_short_lines()) | Exists(_late_shipments()) | Exists(_damage_returns()),
        )
        .values("channel_id", "delivered_day")
        .annotate(n=Count("id"), perfect=Count("id", filter=Q(flawed=False)))
        .order_by()
    )
    for row in rows:
        yield row["delivered_day"], row["channel_id"], None, None, _d(row["perfect"]), _d(row["n"])


def _return_rows(span: Span) -> Iterator[Row]:
    asked = _asked_back().order_by().values("order_line__order_id").annotate(n=Sum("quantity")).values("n")
    delivered = (
        OrderLine.objects.filter(order_id=OuterRef("pk"))
        .order_by()
        .values("order_id")
        .annotate(n=Sum("qty_delivered"))
        .values("n")
    )
    rows = (
        _delivered_orders_by_day(span)
        .annotate(
            asked=Coalesce(Subquery(asked, output_field=IntegerField()), 0),
            units=Coalesce(Subquery(delivered, output_field=IntegerField()), 0),
        )
        .values("channel_id", "delivered_day")
        .annotate(asked_back=Sum("asked"), delivered_units=Sum("units"))
        .order_by()
    )
    for row in rows:
        yield (
            row["delivered_day"],
            row["channel_id"],
            None,
            None,
            _d(row["asked_back"]),
            _d(row["delivered_units"]),
        )


def _emails(span: Span) -> QuerySet:
    return Message.objects.filter(medium=Medium.EMAIL, sent_at__gte=span.start, sent_at__lt=span.end)


def _message_rows(field: str) -> Callable[[Span], Iterator[Row]]:
    def rows(span: Span) -> Iterator[Row]:
        grouped = (
            _emails(span)
            .values("channel_id", day=local_day("sent_at"))
            .annotate(n=Count("id"), hit=Count("id", filter=Q(**{f"{field}__isnull": False})))
            .order_by()
        )
        for row in grouped:
            yield row["day"], row["channel_id"], None, None, _d(row["hit"]), _d(row["n"])

    return rows


# -- shipment KPIs ------------------------------------------------------------------------------------

SHIPMENT_DIMS = (
    "shipment__order__channel_id",
    "shipment__warehouse_id",
    "shipment__service__carrier_id",
    "shipment__order__shipping_address__country",  # with the warehouse, the lane
)


def _delivered_shipments(span: Span) -> QuerySet:
    """Tracking states of outbound shipments the carrier delivered on the span's days."""
    return TrackingState.objects.filter(
        shipment__direction=ShipmentDirection.OUTBOUND,
        delivered_at__gte=span.start,
        delivered_at__lt=span.end,
    )


def _shipment_rows(
    queryset: QuerySet, numerator: str, denominator: str = "n", day: str = "day"
) -> Iterator[Row]:
    for row in queryset:
        channel, warehouse, carrier, country = (row[dim] for dim in SHIPMENT_DIMS)
        yield row[day], channel, warehouse, carrier, _d(row[numerator]), _d(row[denominator]), country or ""


def _on_time_population(span: Span) -> QuerySet:
    return _delivered_shipments(span).filter(promised_date__isnull=False)


def _late(states: QuerySet) -> QuerySet:
    return states.annotate(delivered_day=local_day("delivered_at")).filter(
        delivered_day__gt=F("promised_date")
    )


def _on_time_rows(span: Span) -> Iterator[Row]:
    grouped = (
        _on_time_population(span)
        .annotate(delivered_day=local_day("delivered_at"))
        .values(*SHIPMENT_DIMS, day=F("delivered_day"))
        .annotate(n=Count("id"), hit=Count("id", filter=Q(delivered_day__lte=F("promised_date"))))
        .order_by()
    )
    yield from _shipment_rows(grouped, "hit")


def _attempts():
    return TrackingEvent.objects.filter(
        shipment_id=OuterRef("shipment_id"), milestone=Milestone.ATTEMPTED_DELIVERY
    )


def _failed_first_attempt(states: QuerySet) -> QuerySet:
    return states.filter(Exists(_attempts()))


def _first_attempt_rows(span: Span) -> Iterator[Row]:
    grouped = (
        _delivered_shipments(span)
        .annotate(attempted=Exists(_attempts()))
        .values(*SHIPMENT_DIMS, day=local_day("delivered_at"))
        .annotate(n=Count("id"), hit=Count("id", filter=Q(attempted=False)))
        .order_by()
    )
    yield from _shipment_rows(grouped, "hit")


def _events_rows(span: Span) -> Iterator[Row]:
    events = (
        TrackingEvent.objects.filter(shipment_id=OuterRef("shipment_id"))
        .order_by()
        .values("shipment_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    grouped = (
        _delivered_shipments(span)
        .annotate(events=Coalesce(Subquery(events, output_field=IntegerField()), 0))
        .values(*SHIPMENT_DIMS, day=local_day("delivered_at"))
        .annotate(n=Count("id"), total=Sum("events"))
        .order_by()
    )
    yield from _shipment_rows(grouped, "total")


def _cost_rows(span: Span) -> Iterator[Row]:
    from kpis.models import HandlingCost

    grouped = (
        _delivered_shipments(span)
        .values(*SHIPMENT_DIMS, day=local_day("delivered_at"))
        .annotate(n=Count("id"), labels=Coalesce(Sum("shipment__cost"), Value(Decimal(0))))
        .order_by()
    )
    costs: dict[int, list[tuple[date, Decimal]]] = {}
    for warehouse_id, valid_from, per_shipment in HandlingCost.objects.filter(
        valid_from__lte=span.last
    ).values_list("warehouse_id", "valid_from", "per_shipment"):
        costs.setdefault(warehouse_id, []).append((valid_from, per_shipment))
    for row in grouped:
        warehouse = row["shipment__warehouse_id"]
        handling = max((c for c in costs.get(warehouse, []) if c[0] <= row["day"]), default=None)
        row["total"] = _d(row["labels"]) + (handling[1] * row["n"] if handling else 0)
        yield from _shipment_rows([row], "total")


def _first_predictions(span: Span) -> QuerySet:
    """Each delivered shipment's first ETA (the one the customer was told at hand-over), scored."""
    earlier = EtaPrediction.objects.filter(shipment_id=OuterRef("shipment_id"), id__lt=OuterRef("id"))
    return EtaPrediction.objects.filter(
        actual_date__gte=span.first,
        actual_date__lte=span.last,
        shipment__direction=ShipmentDirection.OUTBOUND,
    ).exclude(Exists(earlier))


def _eta_rows(span: Span) -> Iterator[Row]:
    grouped = (
        _first_predictions(span)
        .values(*SHIPMENT_DIMS, day=F("actual_date"))
        .annotate(n=Count("id"), hit=Count("id", filter=Q(inside_window=True)))
        .order_by()
    )
    yield from _shipment_rows(grouped, "hit")


def _received_events(span: Span) -> QuerySet:
    return TrackingEvent.objects.filter(
        shipment__isnull=False, received_at__gte=span.start, received_at__lt=span.end
    )


def _latency_rows(span: Span) -> Iterator[Row]:
    lag = Case(
        When(received_at__gt=F("occurred_at"), then=F("received_at") - F("occurred_at")),
        default=Value(timedelta(0)),
        output_field=DurationField(),
    )
    grouped = (
        _received_events(span)
        .values(*SHIPMENT_DIMS, day=local_day("received_at"))
        .annotate(n=Count("id"), total=Sum(lag))
        .order_by()
    )
    yield from _shipment_rows(grouped, "total")


# -- the registry -------------------------------------------------------------------------------------


def _orders_of(queryset: QuerySet, field: str = "order_id") -> QuerySet:
    return Order.objects.filter(pk__in=queryset.values(field))


KPIS: list[Kpi] = [
    Kpi(
        "orders",
        "Orders placed",
        "count",
        "orders",
        "higher",
        "order",
        "the day the order was placed",
        "orders placed",
        _placed_rows,
        _orders_placed,
    ),
    Kpi(
        "cycle_time",
        "Order cycle time",
        "mean",
        "h",
        "lower",
        "order",
        "the day the last unit was delivered",
        "orders delivered",
        _cycle_rows,
        _delivered_orders,
    ),
    Kpi(
        "fill_rate",
        "Fill rate",
        "rate",
        "%",
        "higher",
        "order",
        "the day of the order's first routing",
        "orders routed",
        _fill_rows,
        lambda span: _orders_of(_first_decisions(span)),
        lambda orders: orders.exclude(
            Exists(
                RoutingDecision.objects.filter(
                    order_id=OuterRef("pk"), outcome=DecisionOutcome.ALLOCATED
                ).exclude(
                    Exists(
                        RoutingDecision.objects.filter(order_id=OuterRef("order_id"), id__lt=OuterRef("id"))
                    )
                )
            )
        ),
    ),
    Kpi(
        "perfect_order",
        "Perfect order rate",
        "rate",
        "%",
        "higher",
        "order",
        "the day the last unit was delivered",
        "orders delivered",
        _perfect_rows,
        _delivered_orders,
        _not_perfect,
    ),
    Kpi(
        "on_time",
        "On-time delivery",
        "rate",
        "%",
        "higher",
        "shipment",
        "the day the carrier delivered",
        "shipments delivered with a promised date",
        _on_time_rows,
        _on_time_population,
        _late,
    ),
    Kpi(
        "first_attempt",
        "First-attempt delivery",
        "rate",
        "%",
        "higher",
        "shipment",
        "the day the carrier delivered",
        "shipments delivered",
        _first_attempt_rows,
        _delivered_shipments,
        _failed_first_attempt,
    ),
    Kpi(
        "eta_accuracy",
        "ETA accuracy",
        "rate",
        "%",
        "higher",
        "shipment",
        "the day the carrier delivered",
        "shipments delivered with an ETA",
        _eta_rows,
        _first_predictions,
        lambda predictions: predictions.exclude(inside_window=True),
    ),
    Kpi(
        "events_per_shipment",
        "Tracking events per shipment",
        "mean",
        "events",
        "higher",
        "shipment",
        "the day the carrier delivered",
        "shipments delivered",
        _events_rows,
        _delivered_shipments,
    ),
    Kpi(
        "update_latency",
        "Tracking update latency",
        "mean",
        "s",
        "lower",
        "shipment",
        "the day the OMS received the carrier's event",
        "tracking events received",
        _latency_rows,
        _received_events,
    ),
    Kpi(
        "cost_per_delivery",
        "Cost per delivery",
        "mean",
        "money",
        "lower",
        "shipment",
        "the day the carrier delivered",
        "shipments delivered",
        _cost_rows,
        _delivered_shipments,
    ),
    Kpi(
        "return_rate",
        "Return rate",
        "rate",
        "%",
        "lower",
        "order",
        "the day the order was delivered",
        "units delivered",
        _return_rows,
        _delivered_orders,
        lambda orders: orders.filter(Exists(_asked_back())),
    ),
    Kpi(
        "open_rate",
        "E-mail open rate",
        "rate",
        "%",
        "higher",
        "order",
        "the day the e-mail was sent",
        "e-mails sent",
        _message_rows("opened_at"),
        _emails,
        lambda messages: messages.filter(opened_at__isnull=True),
    ),
    Kpi(
        "click_rate",
        "E-mail click rate",
        "rate",
        "%",
        "higher",
        "order",
        "the day the e-mail was sent",
        "e-mails sent",
        _message_rows("clicked_at"),
        _emails,
        lambda messages: messages.filter(clicked_at__isnull=True),
    ),
]

BY_CODE: dict[str, Kpi] = {kpi.code: kpi for kpi in KPIS}


def orders_behind(
    kpi: Kpi,
    span: Span,
    *,
    missed: bool = False,
    channel_id=None,
    warehouse_id=None,
    carrier_id=None,
    country="",
) -> QuerySet:
    """The orders behind a figure (or, with ``missed``, those that failed it), for the drill-down."""
    rows = kpi.population(span)
    if missed and kpi.missed is not None:
        rows = kpi.missed(rows)
    if rows.model is Order:
        orders = rows
    elif rows.model is OrderEvent or rows.model is RoutingDecision or rows.model is Message:
        orders = _orders_of(rows)
    elif rows.model is TrackingEvent or rows.model is EtaPrediction or rows.model is TrackingState:
        if warehouse_id:
            rows = rows.filter(shipment__warehouse_id=warehouse_id)
        if carrier_id:
            rows = rows.filter(shipment__service__carrier_id=carrier_id)
        orders = _orders_of(rows, "shipment__order_id")
    else:
        raise ValueError(f"no drill-down from {rows.model.__name__}")
    if channel_id:
        orders = orders.filter(channel_id=channel_id)
    if country:
        orders = orders.filter(shipping_address__country=country)
    return orders
