"""Writes of the KPI app: the daily figures folded from new history rows (and rebuilt from all of
them), and the thresholds' alerts.

Folding: each history has a cursor (the greatest id folded). New rows name the days they can change:
an order's event changes the days its KPIs are counted on (placed, first routed, delivered, its
shipments delivered, its e-mails sent), a tracking event also its own day of receipt. Those days are
recomputed whole from the histories and their rows replaced, so a late event corrects its own day, a
fold that runs twice changes nothing, and a rebuild (every day recomputed) gives the same figures.

A row can become visible after rows with greater ids (its transaction committed later). The cursor
therefore moves only past rows older than ``SETTLE``; younger rows are read again by the next fold,
which costs a recomputation and loses nothing."""

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from kpis.definitions import KPIS, Span, local_day
from kpis.models import DailyFigure, Grain, HandlingCost, RollupCursor
from notifications.models import Message, MessageEvent
from orders.models import Order, OrderEvent, OrderStatus
from returns.models import ReturnEvent
from routing.models import RoutingDecision
from shipments.models import ShipmentEvent
from tracking.models import EtaPrediction, TrackingEvent, TrackingState

log = logging.getLogger(__name__)

SETTLE = timedelta(minutes=2)
FOLD_BATCH = 5000  # new rows per history per round: a round's days are recomputed in one transaction


@dataclass(frozen=True)
class Source:
    name: str
    queryset: QuerySet
    stamp: str  # when the row was written, for the cursor's settling
    order: str  # the path from the row to its order's id


SOURCES = [
    Source("orders.orderevent", OrderEvent.objects.all(), "created_at", "order_id"),
    Source("routing.routingdecision", RoutingDecision.objects.all(), "created_at", "order_id"),
    Source("shipments.shipmentevent", ShipmentEvent.objects.all(), "created_at", "shipment__order_id"),
    Source(
        "tracking.trackingevent",
        TrackingEvent.objects.filter(shipment__isnull=False),
        "received_at",
        "shipment__order_id",
    ),
    Source("tracking.etaprediction", EtaPrediction.objects.all(), "made_at", "shipment__order_id"),
    Source("notifications.messageevent", MessageEvent.objects.all(), "at", "message__order_id"),
    Source(
        "returns.returnevent", ReturnEvent.objects.all(), "created_at", "ret__lines__order_line__order_id"
    ),
]


def _days(values: Iterable) -> set[date]:
    return {value for value in values if value is not None}


def days_of_orders(order_ids: set[int]) -> set[date]:
    """Every day a KPI of these orders is counted on."""
    ids = list(order_ids)
    days: set[date] = set()
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        days |= _days(Order.objects.filter(pk__in=chunk).values_list(local_day("placed_at"), flat=True))
        days |= _days(
            OrderEvent.objects.filter(order_id__in=chunk, to_status=OrderStatus.DELIVERED).values_list(
                local_day("created_at"), flat=True
            )
        )
        days |= _days(
            RoutingDecision.objects.filter(order_id__in=chunk).values_list(local_day("created_at"), flat=True)
        )
        days |= _days(
            TrackingState.objects.filter(
                shipment__order_id__in=chunk, delivered_at__isnull=False
            ).values_list(local_day("delivered_at"), flat=True)
        )
        days |= _days(
            EtaPrediction.objects.filter(shipment__order_id__in=chunk, actual_date__isnull=False).values_list(
                "actual_date", flat=True
            )
        )
        days |= _days(
            Message.objects.filter(order_id__in=chunk, sent_at__isnull=False).values_list(
                local_day("sent_at"), flat=True
            )
        )
    return days


def spans_of(days: Iterable[date], *, longest: int = 31) -> list[Span]:
    """Runs of consecutive days, each at most ``longest`` long: one computation per run."""
    spans: list[Span] = []
    for day in sorted(set(days)):
        if spans and day == spans[-1].last + timedelta(days=1) and (day - spans[-1].first).days < longest:
            spans[-1] = Span(spans[-1].first, day)
        else:
            spans.append(Span(day, day))
    return spans


def figures_compute(span: Span) -> list[DailyFigure]:
    """Every KPI's rows for the span's days, at every grain it has."""
    sums: dict[tuple, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for kpi in KPIS:
        for day, channel, warehouse, carrier, numerator, denominator, *lane in kpi.rows(span):
            keys = [(Grain.ALL, None, None, None, ""), (Grain.CHANNEL, channel, None, None, "")]
            if kpi.level == "shipment":
                keys += [
                    (Grain.WAREHOUSE, None, warehouse, None, ""),
                    (Grain.CARRIER, None, None, carrier, ""),
                    (Grain.FULL, channel, warehouse, carrier, ""),
                    (Grain.LANE, None, warehouse, None, lane[0] if lane else ""),
                ]
            for grain, c, w, k, country in keys:
                parts = sums[(day, kpi.code, grain, c, w, k, country)]
                parts[0] += numerator
                parts[1] += denominator
    return [
        DailyFigure(
            day=day,
            kpi=code,
            grain=grain,
            channel_id=channel,
            warehouse_id=warehouse,
            carrier_id=carrier,
            country=country,
            numerator=numerator,
            denominator=denominator,
        )
        for (day, code, grain, channel, warehouse, carrier, country), (numerator, denominator) in sums.items()
    ]


def _replace(spans: list[Span]) -> int:
    written = 0
    for span in spans:
        figures = figures_compute(span)
        DailyFigure.objects.filter(day__gte=span.first, day__lte=span.last).delete()
        DailyFigure.objects.bulk_create(figures, batch_size=2000)
        written += len(figures)
    return written


def _cursors() -> dict[str, RollupCursor]:
    """Every history's cursor, locked: one fold or rebuild at a time replaces figures (two at once
    could each delete a day's rows and then both insert theirs)."""
    for source in SOURCES:
        RollupCursor.objects.get_or_create(source=source.name)
    RollupCursor.objects.get_or_create(source="kpis.handlingcost")
    return {cursor.source: cursor for cursor in RollupCursor.objects.select_for_update().order_by("source")}


def _settled_up_to(queryset: QuerySet, stamp: str, ids: list[int], now) -> int | None:
    """The greatest of these rows old enough that no row with a smaller id can still be invisible
    (its transaction would have had to stay open longer than ``SETTLE``)."""
    return queryset.filter(pk__in=ids, **{f"{stamp}__lt": now - SETTLE}).aggregate(m=Max("pk"))["m"]


@dataclass
class FoldResult:
    rows: int = 0  # new history rows read
    days: int = 0  # days recomputed
    figures: int = 0  # figure rows written


@transaction.atomic
def figures_fold_once(*, batch: int = FOLD_BATCH) -> tuple[FoldResult, bool]:
    """One round: up to ``batch`` new rows of each history, their days recomputed. Returns what it
    did and whether rows are left for another round."""
    now = timezone.now()
    cursors = _cursors()
    order_ids: set[int] = set()
    days: set[date] = set()
    result = FoldResult()
    more = False
    advanced: dict[str, int] = {}
    for source in SOURCES:
        cursor = cursors[source.name]
        new = source.queryset.filter(pk__gt=cursor.last_id).order_by("pk")
        rows = list(new.values_list("pk", source.order)[:batch])
        if not rows:
            continue
        result.rows += len(rows)
        ids = [pk for pk, _ in rows]
        order_ids |= {order_id for _, order_id in rows if order_id is not None}
        if source.name == "tracking.trackingevent":
            days |= _days(
                TrackingEvent.objects.filter(pk__in=ids).values_list(local_day("received_at"), flat=True)
            )
        settled = _settled_up_to(source.queryset, source.stamp, ids, now)
        if settled and settled > cursor.last_id:
            advanced[source.name] = settled
            # another round only when this one moved on: rows too young to pass are read again
            # by the next fold, not round after round now
            more = more or len(rows) == batch
    costs = cursors["kpis.handlingcost"]
    for cost in HandlingCost.objects.filter(pk__gt=costs.last_id).order_by("pk"):
        # a new cost counts from its day on: those days' deliveries at its warehouse cost differently
        day = cost.valid_from
        while day <= timezone.localdate(now):
            days.add(day)
            day += timedelta(days=1)
        advanced["kpis.handlingcost"] = cost.pk
    days |= days_of_orders(order_ids)
    result.days = len(days)
    result.figures = _replace(spans_of(days))
    for name, last_id in advanced.items():
        RollupCursor.objects.filter(source=name).update(last_id=last_id, updated_at=now)
    return result, more


def figures_fold(*, batch: int = FOLD_BATCH, rounds: int = 20) -> FoldResult:
    """Fold what is new, round after round (each its own transaction), until nothing is left."""
    total = FoldResult()
    for _ in range(rounds):
        result, more = figures_fold_once(batch=batch)
        total.rows += result.rows
        total.days += result.days
        total.figures += result.figures
        if not more:
            break
    return total


def figures_rebuild(*, first: date | None = None, last: date | None = None) -> FoldResult:
    """Every day recomputed from the histories (by default from the first order to today), a month
    per transaction, and the cursors moved to the end of each history: what ``figures_fold`` would
    have written, had it run all along."""
    now = timezone.now()
    whole = first is None and last is None
    if first is None:
        earliest = Order.objects.order_by("placed_at").values_list("placed_at", flat=True).first()
        first = timezone.localtime(earliest).date() if earliest else timezone.localdate(now)
    last = last or timezone.localdate(now)
    with transaction.atomic():
        cursors = _cursors()
        for source in SOURCES:
            settled = source.queryset.filter(**{f"{source.stamp}__lt": now - SETTLE}).aggregate(m=Max("pk"))[
                "m"
            ]
            cursors[source.name].last_id = settled or 0
            cursors[source.name].save(update_fields=["last_id", "updated_at"])
        latest_cost = HandlingCost.objects.aggregate(m=Max("pk"))["m"]
        cursors["kpis.handlingcost"].last_id = latest_cost or 0
        cursors["kpis.handlingcost"].save(update_fields=["last_id", "updated_at"])
        if whole:
            DailyFigure.objects.exclude(day__gte=first, day__lte=last).delete()
    result = FoldResult()
    day = first
    while day <= last:
        span = Span(day, min(day + timedelta(days=30), last))
        with transaction.atomic():
            _cursors()
            result.figures += _replace([span])
        result.days += (span.last - span.first).days + 1
        day = span.last + timedelta(days=1)
    return result


@dataclass
class Evaluated:
    raised: int = 0
    recovered: int = 0
    unchanged: int = 0


def thresholds_evaluate(*, today: date | None = None) -> Evaluated:
    """Each active threshold against its KPI over its trailing window (today included). An alert
    opens when the figure crosses ``alert_at`` and closes only once it is back past ``recover_at``:
    one alert per crossing, however often the figure wobbles at the line."""
    from kpis.definitions import BY_CODE
    from kpis.models import Threshold
    from kpis.selectors import Filters, kpi_sum

    today = today or timezone.localdate()
    outcome = Evaluated()
    for threshold in Threshold.objects.filter(is_active=True).order_by("pk"):
        kpi = BY_CODE.get(threshold.kpi)
        if kpi is None:
            continue
        first = today - timedelta(days=threshold.window_days - 1)
        filters = Filters(threshold.channel_id, threshold.warehouse_id, threshold.carrier_id)
        numerator, denominator = kpi_sum(kpi, first, today, filters)
        count = numerator if kpi.kind == "count" else denominator
        value = kpi.value(numerator, denominator)
        if value is None or count < threshold.min_count:
            outcome.unchanged += 1
            continue
        change = threshold_check(threshold_id=threshold.pk, value=value, count=count, first=first, last=today)
        if change == "raised":
            outcome.raised += 1
        elif change == "recovered":
            outcome.recovered += 1
        else:
            outcome.unchanged += 1
    return outcome


@transaction.atomic
def threshold_check(*, threshold_id: int, value: Decimal, count: Decimal, first: date, last: date) -> str:
    """Open or close the threshold's alert for this figure; returns "raised", "recovered" or ""."""
    from kpis.models import ALERT_TRANSITIONS, AlertStatus, Direction, KpiAlert, Threshold
    from oms.events import event_emit

    threshold = Threshold.objects.select_for_update().get(pk=threshold_id)
    below = threshold.direction == Direction.BELOW
    alert = threshold.alerts.filter(status=AlertStatus.OPEN).first()
    now = timezone.now()
    payload = {
        "threshold_id": threshold.pk,
        "kpi": threshold.kpi,
        "value": str(value),
        "alert_at": str(threshold.alert_at),
        "recover_at": str(threshold.recover_at),
        "direction": threshold.direction,
        "window": [first.isoformat(), last.isoformat()],
        "channel_id": threshold.channel_id,
        "warehouse_id": threshold.warehouse_id,
        "carrier_id": threshold.carrier_id,
    }
    if alert is None:
        crossed = value < threshold.alert_at if below else value > threshold.alert_at
        if not crossed:
            return ""
        alert = KpiAlert.objects.create(
            threshold=threshold, value=value, count=count, window_start=first, window_end=last, opened_at=now
        )
        event_emit(
            name="kpi.alert_raised", aggregate_type="kpi_alert", aggregate_id=alert.pk, payload=payload
        )
        return "raised"
    back = value >= threshold.recover_at if below else value <= threshold.recover_at
    if not back:
        return ""
    assert AlertStatus.RECOVERED in ALERT_TRANSITIONS[alert.status]
    alert.status, alert.recovered_value, alert.recovered_at = AlertStatus.RECOVERED, value, now
    alert.save(update_fields=["status", "recovered_value", "recovered_at"])
    event_emit(name="kpi.alert_recovered", aggregate_type="kpi_alert", aggregate_id=alert.pk, payload=payload)
    return "recovered"


def alert_email(*, alert_id: int, recovered: bool) -> bool:
    """Tell the ops list that a KPI crossed its line, or came back. Sent when the outbox hands the
    event over; a crash between sending and recording the delivery sends it again (an ops e-mail
    twice beats none). Returns whether anything was sent."""
    from django.conf import settings
    from django.core.mail import EmailMessage
    from django.urls import reverse

    from kpis.definitions import BY_CODE
    from kpis.models import KpiAlert

    recipients = settings.KPI_ALERT_RECIPIENTS
    alert = (
        KpiAlert.objects.select_related("threshold__channel", "threshold__warehouse", "threshold__carrier")
        .filter(pk=alert_id)
        .first()
    )
    kpi = BY_CODE.get(alert.threshold.kpi) if alert else None
    if not recipients or alert is None or kpi is None:
        return False
    from kpis.formatting import display

    t = alert.threshold
    scope = " · ".join(str(x) for x in (t.channel, t.warehouse, t.carrier) if x) or "every order"
    value = display(kpi, alert.recovered_value if recovered else alert.value)
    if recovered:
        subject = f"[OMS] Recovered: {kpi.label} ({scope}) is back at {value}"
    else:
        line = display(kpi, t.alert_at)
        subject = f"[OMS] {kpi.label} ({scope}) at {value}, {t.direction} its line of {line}"
    body = "\n".join(
        [
            subject.removeprefix("[OMS] "),
            f"Over the {t.window_days} days from {alert.window_start:%d %b} to {alert.window_end:%d %b}, "
            f"{alert.count.normalize():f} {kpi.counts}.",
            "" if recovered else f"It closes when back past {display(kpi, t.recover_at)}.",
            f"{settings.PUBLIC_BASE_URL}{reverse('kpis:alerts')}",
        ]
    )
    EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=recipients).send()
    return True
