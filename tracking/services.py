"""Every write of tracking: carrier events in (from webhooks and from polling), each shipment's state
derived from its events, delivery rolled up to the order, polling on a cadence that follows the
milestone with per-carrier circuit breakers, silent feeds and delays detected, ETAs predicted from
lane history and scored against real deliveries."""

import hashlib
import logging
import math
import os
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from oms.errors import NotAuthenticated, NotFound, ValidationFailed
from oms.events import event_emit
from oms.sql import deferred_inserts, insert_rows, unsaved
from orders.models import ServiceLevel
from orders.services import Actor
from routing import selectors as routing_selectors
from shipments import services as shipping
from shipments.carriers import adapter_for, webhook_module
from shipments.carriers.base import (
    CarrierError,
    CarrierUnavailable,
    Milestone,
    Tracking,
    WebhookRejected,
)
from shipments.carriers.base import TrackingEvent as CarrierEvent
from shipments.models import Carrier, Shipment, ShipmentDirection, ShipmentStatus
from tracking.models import (
    BreakerState,
    CarrierBreaker,
    EtaPrediction,
    EventSource,
    TrackingEvent,
    TrackingLink,
    TrackingState,
    WebhookDelivery,
    WebhookStatus,
)

log = logging.getLogger(__name__)
ACTOR = Actor.system("tracking")

# Order of progress, to break ties between events with the same carrier time.
MILESTONE_RANK = {
    Milestone.LABEL_CREATED: 0,
    Milestone.PICKED_UP: 1,
    Milestone.IN_TRANSIT: 2,
    Milestone.EXCEPTION: 2,
    Milestone.ARRIVED_AT_HUB: 3,
    Milestone.OUT_FOR_DELIVERY: 4,
    Milestone.ATTEMPTED_DELIVERY: 5,
    Milestone.AVAILABLE_FOR_PICKUP: 5,
    Milestone.DELIVERED: 6,
    Milestone.RETURNED_TO_SENDER: 6,
    Milestone.CANCELLED: 6,
}
FINAL = {Milestone.DELIVERED, Milestone.RETURNED_TO_SENDER, Milestone.CANCELLED}
TROUBLE = {Milestone.EXCEPTION, Milestone.ATTEMPTED_DELIVERY, Milestone.RETURNED_TO_SENDER}

# How often to ask the carrier, by milestone: often when the parcel is about to arrive.
POLL_EVERY = {
    Milestone.LABEL_CREATED: timedelta(hours=4),
    Milestone.PICKED_UP: timedelta(hours=4),
    Milestone.IN_TRANSIT: timedelta(hours=4),
    Milestone.ARRIVED_AT_HUB: timedelta(hours=2),
    Milestone.OUT_FOR_DELIVERY: timedelta(minutes=20),
    Milestone.ATTEMPTED_DELIVERY: timedelta(hours=1),
    Milestone.AVAILABLE_FOR_PICKUP: timedelta(hours=6),
    Milestone.EXCEPTION: timedelta(hours=1),
}
SILENT_AFTER = timedelta(hours=24)
POLL_LOCK = "tracking:poll-running"
POLL_LOCK_SECONDS = 600
BREAKER_FAILURES = 3
BREAKER_COOL_DOWN = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=1)
LANE_MIN_DELIVERIES = 5
DEFAULT_TRANSIT_DAYS = 2


def _scale(carrier: Carrier) -> float:
    """The sandbox can play its script in minutes; polling and silence follow the same clock."""
    return float(carrier.options.get("time_scale", 1.0)) if carrier.adapter == "sandbox" else 1.0


def _text(value: str) -> str:
    """A carrier's text as PostgreSQL can store it (no NUL characters)."""
    return value.replace("\x00", "")


def _utc(moment: datetime) -> datetime:
    """A carrier's time in UTC: PostgreSQL holds offsets up to 15:59 only; a time without one is UTC."""
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _dedupe_key(tracking_number: str, event: CarrierEvent) -> str:
    text = "\x00".join([tracking_number, event.code, event.occurred_at.isoformat(), event.description])
    return hashlib.sha256(text.encode()).hexdigest()


# ----------------------------------------------------------------------------------------- following


def tracking_start(*, shipment_id: int, now: datetime | None = None) -> TrackingState:
    """Follow a shipment that left the warehouse: a state to poll, the promise, a first prediction,
    and the customer's tracking link for its order."""
    now = now or timezone.now()
    with transaction.atomic():
        shipment = Shipment.objects.select_related("service__carrier", "order__shipping_address").get(
            pk=shipment_id
        )
        # Nearly always a new parcel: one INSERT, and only a second start (a redelivered event, a
        # scan that came first) reads the state that is there.
        inserted = insert_rows(
            [
                unsaved(
                    TrackingState,
                    shipment=shipment,
                    next_poll_at=now + POLL_EVERY[Milestone.LABEL_CREATED] * _scale(shipment.service.carrier),
                    carrier_estimate=shipment.estimated_delivery,
                    promised_date=_promised_date(shipment),
                    milestone_at=shipment.shipped_at or now,
                )
            ],
            skip_conflicts=True,
        )
        if not inserted:
            return TrackingState.objects.select_for_update().get(shipment=shipment)
        state = inserted[0]
        # A return parcel has no promise and no customer link: it comes to us, on the customer's time.
        if shipment.direction == ShipmentDirection.OUTBOUND:
            # the order's second parcel finds the link its first one made
            insert_rows([unsaved(TrackingLink, order=shipment.order)], skip_conflicts=True)
            _predict(state, shipment, now)
        return state


def _promised_date(shipment: Shipment) -> date | None:
    """What the customer was promised when ordering: the delivery window they asked for, else the
    carrier's estimate at label time."""
    if shipment.direction == ShipmentDirection.RETURN:
        return None
    order = shipment.order
    if order.requested_delivery_end:
        return timezone.localdate(order.requested_delivery_end)
    return shipment.estimated_delivery


LANE_HISTORY = 200  # the newest deliveries of a lane an ETA is drawn from


class LaneMemo:
    """What a batch of scans asks about lanes, asked once per lane: the lane table's transit time,
    and the lane's newest deliveries (forgotten when a parcel of that lane is delivered in the batch,
    so that each parcel sees the history it would have seen on its own)."""

    def __init__(self) -> None:
        self.history: dict[tuple, list[tuple[int, datetime, datetime]]] = {}
        self.declared: dict[tuple, float | None] = {}

    def forget(self, shipment: Shipment) -> None:
        self.history.pop(_lane_key(shipment), None)


def _lane_key(shipment: Shipment) -> tuple:
    address = shipment.order.shipping_address
    return (shipment.warehouse_id, shipment.service_id, address.country, address.postal_code[:2])


# ------------------------------------------------------------------------------------------ ingesting


def events_ingest(
    *,
    shipment_id: int,
    tracking: Tracking,
    source: str,
    now: datetime | None = None,
) -> int:
    """Store a carrier's events for a shipment (the same event twice is one row) and derive its state
    from all its events ordered by the carrier's time, so that a late old event never moves it back.
    Returns how many events were new."""
    return events_ingest_many(items=[(shipment_id, tracking)], source=source, now=now)


def events_ingest_many(*, items: list[tuple[int, Tracking]], source: str, now: datetime | None = None) -> int:
    """``events_ingest`` for several shipments in one transaction (a batch of webhooks): their states
    locked, their stored events looked up and the new ones inserted in one statement each. A
    shipment's items are taken together, in order, as one call bringing all their events would be.
    Returns how many events were new."""
    now = now or timezone.now()
    by_shipment: dict[int, list[Tracking]] = {}
    for shipment_id, tracking in items:
        by_shipment.setdefault(shipment_id, []).append(tracking)
    if not by_shipment:
        return 0
    # the history and outbox rows go with the next statement, not in a round trip of their own
    with transaction.atomic(), deferred_inserts():
        states = _states_locked(list(by_shipment), now)
        incoming: dict[int, dict[str, tuple[str, CarrierEvent]]] = {}
        for shipment_id, trackings in by_shipment.items():
            incoming[shipment_id] = {
                _dedupe_key(tracking.tracking_number, event): (tracking.tracking_number, event)
                for tracking in trackings
                for event in tracking.events
            }
        # Under the states' locks no other ingest of these shipments runs: what is not stored is new.
        stored = set(
            TrackingEvent.objects.filter(
                shipment_id__in=list(by_shipment),
                dedupe_key__in=[key for events in incoming.values() for key in events],
            ).values_list("shipment_id", "dedupe_key")
        )
        fresh: dict[int, list[TrackingEvent]] = {
            shipment_id: [
                TrackingEvent(
                    shipment_id=shipment_id,
                    tracking_number=number,
                    carrier_code=_text(event.code)[:64],
                    description=_text(event.description)[:300],
                    location=_text(event.location)[:200],
                    occurred_at=_utc(event.occurred_at),
                    received_at=now,
                    milestone=event.milestone,
                    incident=event.incident,
                    source=source,
                    dedupe_key=key,
                )
                for key, (number, event) in events.items()
                if (shipment_id, key) not in stored
            ]
            for shipment_id, events in incoming.items()
        }
        TrackingEvent.objects.bulk_create([row for rows in fresh.values() for row in rows])
        memo = LaneMemo()
        new = 0
        for state in states:  # in the order they were locked: other locks follow the same order
            rows = fresh[state.shipment_id]
            new += len(rows)
            # the state's changes are gathered and written once, at the end (a scan is a hot path)
            dirty: set[str] = set()
            for tracking in by_shipment[state.shipment_id]:
                if tracking.estimated_delivery and tracking.estimated_delivery != state.carrier_estimate:
                    state.carrier_estimate = tracking.estimated_delivery
                    dirty.add("carrier_estimate")
            if rows:
                state.last_received_at = now
                state.silent_since = None
                dirty |= {"last_received_at", "silent_since"}
                _derive(state, now, dirty, rows, memo)
            if dirty:
                state.save(update_fields=sorted(dirty))
        return new


def _states_locked(shipment_ids: list[int], now: datetime) -> list[TrackingState]:
    """The shipments' tracking states, locked in the order of their orders then shipments (what a
    delivery locks next follows the orders, so two batches never wait on each other in a circle),
    with each shipment read in the same statement; a shipment not followed yet is started first."""

    def locked(ids: list[int]) -> list[TrackingState]:
        return list(
            TrackingState.objects.select_for_update(of=("self",))
            .select_related("shipment__service__carrier", "shipment__order__shipping_address")
            .filter(shipment_id__in=ids)
            .order_by("shipment__order_id", "shipment_id")
        )

    states = locked(shipment_ids)
    missing = set(shipment_ids) - {state.shipment_id for state in states}
    if missing:
        for shipment_id in sorted(missing):
            tracking_start(shipment_id=shipment_id, now=now)
        states = locked(shipment_ids)
    return states


def _derive(
    state: TrackingState, now: datetime, dirty: set[str], fresh: list[TrackingEvent], memo: LaneMemo
) -> None:
    """Move the state to its latest event, given the events just stored; the fields it changes are
    added to ``dirty``, for the caller to save (nothing below reads the state back)."""

    def rank(event: TrackingEvent) -> tuple:
        return (event.occurred_at, MILESTONE_RANK.get(event.milestone, 0), event.pk)

    newest = max(fresh, key=rank)
    # ``last_event_at`` is the newest stored event's time (only this function writes it): a fresh
    # event later than that is the latest of all, and the carriers' usual order needs no query.
    if state.last_event_at is not None and newest.occurred_at > state.last_event_at:
        latest = newest
    else:
        latest = max(
            TrackingEvent.objects.filter(shipment_id=state.shipment_id).order_by("-occurred_at")[:20],
            key=rank,
        )
    state.last_event_at = latest.occurred_at
    dirty.add("last_event_at")
    changed = latest.milestone != state.milestone
    if not changed:
        return
    state.milestone, state.milestone_at, state.incident = (
        latest.milestone,
        latest.occurred_at,
        latest.incident,
    )
    dirty |= {"milestone", "milestone_at", "incident"}
    shipment = state.shipment
    if state.milestone in FINAL:
        state.is_active = False
        state.next_poll_at = None
        dirty |= {"is_active", "next_poll_at"}
    event_emit(
        name="tracking.milestone",
        aggregate_type="shipment",
        aggregate_id=shipment.pk,
        payload={
            "shipment_id": shipment.pk,
            "order_id": shipment.order_id,
            "milestone": state.milestone,
            "at": state.milestone_at.isoformat(),
            "direction": shipment.direction,
        },
    )
    if state.milestone in TROUBLE:
        event_emit(
            name="shipment.exception",
            aggregate_type="shipment",
            aggregate_id=shipment.pk,
            payload={
                "shipment_id": shipment.pk,
                "order_id": shipment.order_id,
                "milestone": state.milestone,
                "incident": state.incident,
                "description": latest.description,
                "direction": shipment.direction,
            },
        )
    if shipment.direction == ShipmentDirection.RETURN:
        if state.milestone == Milestone.DELIVERED:
            state.delivered_at = state.milestone_at
            dirty.add("delivered_at")
        shipping.return_shipment_progress(
            shipment_id=shipment.pk, milestone=state.milestone, at=state.milestone_at, actor=ACTOR
        )
    elif state.milestone == Milestone.DELIVERED and shipment.status == ShipmentStatus.SHIPPED:
        state.delivered_at = state.milestone_at
        dirty.add("delivered_at")
        memo.forget(shipment)  # the next parcel of the lane counts this delivery
        shipping.shipment_mark_delivered(
            shipment_id=shipment.pk, actor=ACTOR, delivered_at=state.milestone_at
        )
        _score_predictions(shipment, timezone.localdate(state.milestone_at))
    elif state.milestone not in FINAL:
        _predict(state, shipment, now, save=False, memo=memo)
        dirty |= {"predicted_date", "predicted_earliest", "predicted_latest"}


def _script_start(shipment: Shipment) -> datetime | None:
    """When the parcel started its journey, for the sandbox's script (real carriers ignore it): the
    hand-over, or for a return the label's purchase (the customer drops it off on their own time)."""
    if shipment.direction == ShipmentDirection.RETURN:
        return shipment.created_at
    return shipment.shipped_at


# -------------------------------------------------------------------------------------------- webhooks


def _secret(carrier: Carrier) -> str:
    name = carrier.options.get("webhook_secret_env", "")
    return os.environ.get(name, "") if name else ""


def webhook_receive(
    *, carrier_code: str, headers: Mapping[str, str], body: bytes, now: datetime | None = None
) -> tuple[WebhookDelivery, bool]:
    """Verify a carrier's call over its raw body and store it; nothing is stored for a call that is
    unsigned, badly signed or stale. Returns the delivery and whether it is new (a provider retrying
    the same event gets the first one back)."""
    now = now or timezone.now()
    carrier = Carrier.objects.filter(code=carrier_code, is_active=True).first()
    if carrier is None:
        raise NotFound(f"No carrier '{carrier_code}' takes webhooks here.")
    secret = _secret(carrier)
    if not secret:
        raise NotAuthenticated(
            f"No webhook secret is configured for {carrier.name} (its webhook_secret_env option): "
            "calls cannot be verified, so none is accepted.",
            code="webhook_not_configured",
        )
    try:
        module = webhook_module(carrier)
        module.verify_webhook(headers, body, secret, now)
        external_id, _ = module.parse_webhook(body)
    except WebhookRejected as exc:
        raise NotAuthenticated(exc.message, code=f"webhook_{exc.code}") from exc
    except CarrierError as exc:
        raise NotFound(exc.message) from exc
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise ValidationFailed(
            "The signed body is not a webhook this carrier sends.", code="webhook_unreadable"
        ) from exc
    external_id = _webhook_id(external_id, body)
    # One statement for a new call (the common case); a retry, or one racing its first call, breaks
    # the unique (carrier, event id) and gets the stored one back.
    stored = insert_rows(
        [unsaved(WebhookDelivery, carrier=carrier, external_id=external_id, body=body.decode())],
        skip_conflicts=True,
    )
    if stored:
        return stored[0], True
    return WebhookDelivery.objects.get(carrier=carrier, external_id=external_id), False


WEBHOOK_ID_MAX = 100


def _webhook_id(external_id: object, body: bytes) -> str:
    """What identifies a call for deduplication: the provider's event id, or, when it gives none, a
    hash of the signed body (a replayed call is the same bytes)."""
    if external_id in (None, ""):
        return "sha256:" + hashlib.sha256(body).hexdigest()
    if not isinstance(external_id, str) or len(external_id) > WEBHOOK_ID_MAX or not external_id.isprintable():
        raise ValidationFailed(
            "The webhook's event id is not usable.",
            details={"id": [f"A string of 1 to {WEBHOOK_ID_MAX} printable characters."]},
        )
    return external_id


def webhook_process(*, delivery_id: int, now: datetime | None = None) -> int:
    """Read a stored call and ingest its events; idempotent. Returns the new events."""
    return webhooks_process(delivery_ids=[delivery_id], now=now)


WEBHOOK_BATCH = 200  # calls ingested in one transaction


def webhooks_process(*, delivery_ids: list[int], now: datetime | None = None, tolerant: bool = False) -> int:
    """Read stored calls and ingest their events together, ``WEBHOOK_BATCH`` at a time; idempotent: a
    call processed already, or being processed by another worker this moment, is left alone. A call
    that cannot be read is marked failed. Returns the new events.

    Each batch is one transaction: its calls are marked processed with the events they brought. When
    a batch fails, its calls are taken again one at a time, so that one call that keeps failing
    (logged, its error kept beside it, and left pending for the sweep) holds none of the others
    back. A single call that fails raises (its task is tried again), unless ``tolerant`` (the sweep,
    ops): then it is recorded like the others."""
    now = now or timezone.now()
    ids = sorted(set(delivery_ids))
    new = 0
    for start in range(0, len(ids), WEBHOOK_BATCH):
        batch = ids[start : start + WEBHOOK_BATCH]
        try:
            new += _webhooks_ingest(batch, now)
            continue
        except Exception as exc:
            if len(batch) == 1:
                _call_failed(batch[0], exc)
                if not tolerant:
                    raise
                log.exception("carrier webhook %s failed; it stays pending for the sweep", batch[0])
                continue
            log.warning("a batch of %s carrier webhooks failed; taking them one at a time", len(batch))
        for delivery_id in batch:
            try:
                new += _webhooks_ingest([delivery_id], now)
            except Exception as exc:
                log.exception("carrier webhook %s failed; it stays pending for the sweep", delivery_id)
                _call_failed(delivery_id, exc)
    return new


def webhooks_retry(*, delivery_ids: list[int], now: datetime | None = None) -> dict[str, int]:
    """Ops process waiting calls now: what fails again is recorded beside the call and left pending,
    not raised. Returns how many of the calls are processed and how many still wait."""
    webhooks_process(delivery_ids=delivery_ids, now=now, tolerant=True)
    statuses = list(WebhookDelivery.objects.filter(pk__in=delivery_ids).values_list("status", flat=True))
    return {
        "processed": statuses.count(WebhookStatus.PROCESSED),
        "pending": statuses.count(WebhookStatus.PENDING),
    }


def _call_failed(delivery_id: int, exc: Exception) -> None:
    """What ops see beside a call that waits (the tracking page): the last error, the call still
    pending (its transaction rolled back; this is written on its own)."""
    WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookStatus.PENDING).update(
        error=f"{type(exc).__name__}: {exc}"[:2000]
    )


def _webhooks_ingest(delivery_ids: list[int], now: datetime) -> int:
    with transaction.atomic():
        deliveries = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("carrier")
            .filter(pk__in=delivery_ids, status=WebhookStatus.PENDING)
            .order_by("pk")
        )
        read: list[tuple[Carrier, Tracking]] = []
        done = []
        for delivery in deliveries:
            try:
                _, trackings = webhook_module(delivery.carrier).parse_webhook(delivery.body.encode())
            except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
                WebhookDelivery.objects.filter(pk=delivery.pk).update(
                    status=WebhookStatus.FAILED, error=str(exc)[:2000]
                )
                continue
            read.extend((delivery.carrier, tracking) for tracking in trackings)
            done.append(delivery.pk)
        shipments = _shipments_with(
            {(carrier.pk, _text(tracking.tracking_number)) for carrier, tracking in read}
        )
        new = events_ingest_many(
            items=[
                (shipment_id, tracking)
                for carrier, tracking in read
                for shipment_id in shipments.get((carrier.pk, _text(tracking.tracking_number)), ())
            ],
            source=EventSource.WEBHOOK,
            now=now,
        )
        if done:
            WebhookDelivery.objects.filter(pk__in=done).update(
                status=WebhookStatus.PROCESSED, processed_at=now
            )
        return new


def _shipments_with(numbers: set[tuple[int, str]]) -> dict[tuple[int, str], list[int]]:
    """The live shipments of each (carrier, tracking number): a number is its packages'."""
    if not numbers:
        return {}
    found: dict[tuple[int, str], list[int]] = {}
    rows = (
        Shipment.objects.filter(
            packages__tracking_number__in={number for _, number in numbers},
            service__carrier_id__in={carrier_id for carrier_id, _ in numbers},
        )
        .exclude(status__in=[ShipmentStatus.CANCELLED, ShipmentStatus.DRAFT])
        .values_list("service__carrier_id", "packages__tracking_number", "pk")
        .distinct()
        .order_by("pk")
    )
    for carrier_id, number, shipment_id in rows:
        if (carrier_id, number) in numbers:
            found.setdefault((carrier_id, number), []).append(shipment_id)
    return found


STUCK_WEBHOOK_PAGE = 1000  # calls read per question
SWEEP_BUDGET_SECONDS = 30.0  # a run stops taking more after this; the next run goes on


def webhooks_sweep(*, now: datetime | None = None, page: int = STUCK_WEBHOOK_PAGE) -> int:
    """The beat job: calls stored and acknowledged but not processed a sweep period later (the
    broker was down when they came, or the worker that had them died), oldest first, in batches,
    until none is left or the run has taken its budget. A call that fails again stays behind the
    run's cursor, so the calls after it are still taken. Returns how many calls it took."""
    now = now or timezone.now()
    began = time.perf_counter()
    stuck = WebhookDelivery.objects.filter(
        status=WebhookStatus.PENDING,
        received_at__lt=now - timedelta(seconds=settings.TRACKING_WEBHOOK_SWEEP_SECONDS),
    ).order_by("received_at", "pk")
    taken = 0
    while True:
        rows = list(stuck.values_list("received_at", "pk")[:page])
        if not rows:
            break
        if not taken:
            log.warning("processing carrier webhooks left pending (%s or more)", len(rows))
        webhooks_process(delivery_ids=[pk for _, pk in rows], now=now, tolerant=True)
        taken += len(rows)
        last_at, last_pk = rows[-1]
        if len(rows) < page or time.perf_counter() - began > SWEEP_BUDGET_SECONDS:
            break
        stuck = stuck.filter(Q(received_at__gt=last_at) | Q(received_at=last_at, pk__gt=last_pk))
    return taken


# --------------------------------------------------------------------------------------------- polling


def _breaker(carrier: Carrier, now: datetime) -> CarrierBreaker:
    breaker, _ = CarrierBreaker.objects.get_or_create(carrier=carrier)
    if (
        breaker.state == BreakerState.OPEN
        and breaker.opened_at
        and now - breaker.opened_at >= BREAKER_COOL_DOWN
    ):
        breaker.state = BreakerState.HALF_OPEN
        breaker.save(update_fields=["state"])
    return breaker


def _breaker_result(breaker: CarrierBreaker, ok: bool, now: datetime) -> None:
    if ok:
        breaker.state, breaker.failures, breaker.opened_at = BreakerState.CLOSED, 0, None
    else:
        breaker.failures += 1
        if breaker.state == BreakerState.HALF_OPEN or breaker.failures >= BREAKER_FAILURES:
            if breaker.state != BreakerState.OPEN:
                log.warning("Tracking feed of %s is failing: circuit open", breaker.carrier_id)
            breaker.state, breaker.opened_at = BreakerState.OPEN, now
    breaker.save(update_fields=["state", "failures", "opened_at"])


def tracking_poll_due(*, now: datetime | None = None, limit: int = 500) -> dict[str, int]:
    """The beat job: ask each carrier about its shipments that are due. A carrier whose feed keeps
    failing is left alone for a cool-down (its fallback source, where configured, is asked instead);
    a failed shipment is asked again later with a growing pause. Nothing is lost: the carrier keeps
    its events, and the next successful call brings them all."""
    now = now or timezone.now()
    counts = {"polled": 0, "new_events": 0, "failed": 0, "skipped": 0}
    # One run at a time: a run that outlasts the beat's minute must not ask carriers twice.
    if not cache.add(POLL_LOCK, "1", timeout=POLL_LOCK_SECONDS):
        return counts
    try:
        _poll(now, limit, counts)
    finally:
        cache.delete(POLL_LOCK)
    return counts


def _poll(now: datetime, limit: int, counts: dict[str, int]) -> None:
    due = (
        TrackingState.objects.filter(is_active=True, next_poll_at__lte=now)
        .select_related("shipment__service__carrier")
        .order_by("next_poll_at")[:limit]
    )
    breakers: dict[int, CarrierBreaker] = {}  # read once per carrier in a run, updated in place
    for state in due:
        carrier = state.shipment.service.carrier
        if carrier.pk not in breakers:
            breakers[carrier.pk] = _breaker(carrier, now)
        breaker = breakers[carrier.pk]
        source, feed = EventSource.POLL, carrier
        if breaker.state == BreakerState.OPEN:
            fallback = Carrier.objects.filter(
                code=carrier.options.get("fallback_carrier", ""), is_active=True
            ).first()
            if fallback is None:
                counts["skipped"] += 1
                continue
            source, feed = EventSource.FALLBACK, fallback
        try:
            tracking = adapter_for(feed).track(
                state.shipment.tracking_number, shipped_at=_script_start(state.shipment), now=now
            )
        except (CarrierUnavailable, CarrierError) as exc:
            counts["failed"] += 1
            if feed == carrier:
                _breaker_result(breaker, False, now)
            backoff = min(timedelta(minutes=2 ** min(state.poll_failures, 10)), MAX_BACKOFF)
            TrackingState.objects.filter(pk=state.pk).update(
                poll_failures=state.poll_failures + 1, next_poll_at=now + backoff
            )
            log.info("Polling %s failed: %s", state.shipment.tracking_number, exc)
            continue
        if feed == carrier:
            _breaker_result(breaker, True, now)
        counts["polled"] += 1
        counts["new_events"] += events_ingest(
            shipment_id=state.shipment_id, tracking=tracking, source=source, now=now
        )
        state.refresh_from_db()
        if state.is_active:
            cadence = POLL_EVERY.get(state.milestone, POLL_EVERY[Milestone.IN_TRANSIT]) * _scale(carrier)
            TrackingState.objects.filter(pk=state.pk).update(
                poll_failures=0, next_poll_at=now + max(cadence, timedelta(seconds=30))
            )


# ------------------------------------------------------------------------------------- delays and ETAs


def tracking_watch(*, now: datetime | None = None) -> dict[str, int]:
    """The beat job: flag feeds silent too long, and shipments whose estimate slipped past the
    promise; each is reported once (``shipment.delayed``) until it recovers."""
    now = now or timezone.now()
    counts = {"silent": 0, "late": 0}
    # The database picks the candidates (most parcels in flight are neither quiet nor late), with the
    # shortest silence any carrier allows; the loop below decides each one with its own carrier's.
    shortest = SILENT_AFTER * min((_scale(c) for c in Carrier.objects.filter(is_active=True)), default=1.0)
    candidates = (
        TrackingState.objects.filter(is_active=True)
        .annotate(
            quiet_since=Coalesce("last_received_at", "shipment__shipped_at"),
            expected=Coalesce("predicted_date", "carrier_estimate"),
        )
        .filter(
            Q(silent_since__isnull=True, quiet_since__lt=now - shortest)
            | Q(delay_reported=False, promised_date__isnull=False, expected__gt=F("promised_date"))
        )
        .select_related("shipment__service__carrier")
        .order_by("pk")
    )
    for state in candidates:
        quiet_since = state.last_received_at or state.shipment.shipped_at
        limit = SILENT_AFTER * _scale(state.shipment.service.carrier)
        if state.silent_since is None and quiet_since and now - quiet_since > limit:
            TrackingState.objects.filter(pk=state.pk).update(silent_since=now)
            counts["silent"] += 1
            _delayed(state, f"no scan for {_hours(now - quiet_since)}")
        expected = state.predicted_date or state.carrier_estimate
        late = state.promised_date is not None and expected is not None and expected > state.promised_date
        if late and not state.delay_reported:
            TrackingState.objects.filter(pk=state.pk).update(delay_reported=True)
            counts["late"] += 1
            _delayed(state, f"expected {expected:%d %b}, promised {state.promised_date:%d %b}")
    return counts


def _hours(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:.0f} h" if hours >= 1 else f"{span.total_seconds() / 60:.0f} min"


def _delayed(state: TrackingState, reason: str) -> None:
    event_emit(
        name="shipment.delayed",
        aggregate_type="shipment",
        aggregate_id=state.shipment_id,
        payload={
            "shipment_id": state.shipment_id,
            "order_id": state.shipment.order_id,
            "reason": reason,
            # a return parcel's delay is ops' business, not a delivery the customer waits for
            "direction": state.shipment.direction,
        },
    )


def _lane(shipment: Shipment) -> dict:
    address = shipment.order.shipping_address
    return {
        "shipment__direction": ShipmentDirection.OUTBOUND,
        "shipment__warehouse_id": shipment.warehouse_id,
        "shipment__service_id": shipment.service_id,
        "shipment__order__shipping_address__country": address.country,
        "shipment__order__shipping_address__postal_code__startswith": address.postal_code[:2],
    }


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1))
    return ordered[index]


def lane_transit_days(shipment: Shipment, memo: LaneMemo | None = None) -> list[float]:
    """Days from hand-over to delivery of the lane's past deliveries (same warehouse, service,
    country and postal region), newest 200, the shipment's own left out."""
    key = _lane_key(shipment)
    rows = memo.history.get(key) if memo else None
    if rows is None:
        # one more than kept: the shipment itself may be among them
        rows = list(
            TrackingState.objects.filter(
                delivered_at__isnull=False, shipment__shipped_at__isnull=False, **_lane(shipment)
            )
            .order_by("-delivered_at")
            .values_list("shipment_id", "shipment__shipped_at", "delivered_at")[: LANE_HISTORY + 1]
        )
        if memo is not None:
            memo.history[key] = rows
    return [
        (delivered - shipped).total_seconds() / 86400
        for shipment_id, shipped, delivered in rows
        if shipment_id != shipment.pk
    ][:LANE_HISTORY]


def _fastest_days(shipment: Shipment, history: list[float], memo: LaneMemo | None = None) -> int:
    """Whole days a parcel of this lane needs at the least: the lane table's time, else the fastest of
    the lane's past deliveries (when there are enough), else a day (none for same-day services)."""
    address = shipment.order.shipping_address
    asked = (shipment.warehouse_id, address.country, address.postal_code)
    if memo is not None and asked in memo.declared:
        declared = memo.declared[asked]
    else:
        declared = routing_selectors.lane_time(
            warehouse_id=shipment.warehouse_id, country=address.country, postal_code=address.postal_code
        )
        if memo is not None:
            memo.declared[asked] = declared
    if declared is not None:
        return math.floor(declared)
    if len(history) >= LANE_MIN_DELIVERIES:
        return math.floor(min(history))
    return 0 if shipment.order.service_level == ServiceLevel.SAME_DAY else 1


def _predict(
    state: TrackingState,
    shipment: Shipment,
    now: datetime,
    *,
    save: bool = True,
    memo: LaneMemo | None = None,
) -> None:
    """Predict the delivery date from the lane's history (median, window from the 20th to the 80th
    percentile), refined by where the parcel is now; recorded so that it can be scored later.

    An estimate never comes before the hand-over day plus the lane's fastest transit unless the
    carrier says so (its own estimate, or the parcel out for delivery): a first scan, or a lane whose
    history is thin or odd, does not make "Thursday" into "today"."""
    today = timezone.localdate(now)
    shipped = timezone.localdate(shipment.shipped_at or now)
    history = lane_transit_days(shipment, memo)
    soonest = shipped + timedelta(days=_fastest_days(shipment, history, memo))
    if state.carrier_estimate:
        soonest = min(soonest, state.carrier_estimate)
    if len(history) >= LANE_MIN_DELIVERIES:
        middle, low, high = (_percentile(history, q) for q in (0.5, 0.2, 0.8))
        predicted = shipped + timedelta(days=round(middle))
        earliest, latest = (
            shipped + timedelta(days=math.floor(low)),
            shipped + timedelta(days=math.ceil(high)),
        )
        basis = f"lane of {len(history)} deliveries"
    else:
        predicted = state.carrier_estimate or shipped + timedelta(days=DEFAULT_TRANSIT_DAYS)
        earliest, latest = predicted - timedelta(days=1), predicted + timedelta(days=1)
        basis = f"carrier estimate (lane has {len(history)} deliveries)"
    if state.milestone == Milestone.OUT_FOR_DELIVERY:
        predicted = earliest = latest = today
        basis += ", out for delivery"
    elif state.milestone in (Milestone.ATTEMPTED_DELIVERY, Milestone.EXCEPTION):
        predicted = max(predicted, today + timedelta(days=1))
        latest = max(latest, predicted + timedelta(days=1))
        earliest = max(earliest, today)
        basis += f", after {state.milestone.replace('_', ' ')}"
    else:
        predicted, earliest = max(predicted, today, soonest), max(earliest, today, soonest)
        latest = max(latest, predicted)
    state.predicted_date, state.predicted_earliest, state.predicted_latest = predicted, earliest, latest
    if save:
        state.save(update_fields=["predicted_date", "predicted_earliest", "predicted_latest"])
    # read back only when the parcel arrives: it may wait for the next statement (deferred_inserts)
    insert_rows(
        [
            unsaved(
                EtaPrediction,
                shipment=shipment,
                milestone=state.milestone,
                predicted_date=predicted,
                earliest=earliest,
                latest=latest,
                basis=basis[:200],
            )
        ],
        deferrable=True,
    )


def _score_predictions(shipment: Shipment, delivered: date) -> None:
    predictions = list(EtaPrediction.objects.filter(shipment=shipment, actual_date__isnull=True))
    for prediction in predictions:
        prediction.actual_date = delivered
        prediction.error_days = (delivered - prediction.predicted_date).days
        prediction.inside_window = prediction.earliest <= delivered <= prediction.latest
    EtaPrediction.objects.bulk_update(predictions, ["actual_date", "error_days", "inside_window"])
