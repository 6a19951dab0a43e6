"""Reads for tracking: the customer's view of an order's parcels, the ops timeline, the metrics."""

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone

from shipments.carriers.base import Milestone
from shipments.models import ShipmentDirection
from tracking.models import (
    EtaPrediction,
    TrackingEvent,
    TrackingLink,
    TrackingState,
    WebhookDelivery,
    WebhookStatus,
)

CUSTOMER_WORDS = {
    # Tracking starts when the warehouse hands the parcel over: before the carrier's first scan it is
    # with the carrier, as the shipment's status says.
    Milestone.LABEL_CREATED: "Handed to the carrier",
    Milestone.PICKED_UP: "The carrier has your parcel",
    Milestone.IN_TRANSIT: "On its way",
    Milestone.ARRIVED_AT_HUB: "At the delivery depot near you",
    Milestone.OUT_FOR_DELIVERY: "Out for delivery today",
    Milestone.AVAILABLE_FOR_PICKUP: "Ready for you to collect",
    Milestone.ATTEMPTED_DELIVERY: "We could not deliver it; the carrier will try again",
    Milestone.DELIVERED: "Delivered",
    Milestone.EXCEPTION: "Held up on the way",
    Milestone.RETURNED_TO_SENDER: "On its way back to us",
    Milestone.CANCELLED: "Cancelled",
}
INCIDENT_WORDS = {
    "weather": "because of the weather",
    "customs": "at customs",
    "address": "because the address needs checking",
    "consignee": "because nobody could take it",
    "carrier": "at the carrier",
    "retailer": "on our side",
}
NEXT_STEP = {
    Milestone.LABEL_CREATED: "The carrier scans it in",
    Milestone.PICKED_UP: "On its way to your area",
    Milestone.IN_TRANSIT: "Arrives at the delivery depot",
    Milestone.ARRIVED_AT_HUB: "Out for delivery",
    Milestone.OUT_FOR_DELIVERY: "Delivered to you",
    Milestone.ATTEMPTED_DELIVERY: "A new delivery attempt",
    Milestone.EXCEPTION: "Back on its way",
    Milestone.AVAILABLE_FOR_PICKUP: "You collect it",
}


def in_words(milestone: str, incident: str = "") -> str:
    text = CUSTOMER_WORDS.get(milestone, milestone.replace("_", " ").capitalize())
    if milestone == Milestone.EXCEPTION and incident in INCIDENT_WORDS:
        text += " " + INCIDENT_WORDS[incident]
    return text


def order_for_token(token: str):
    """The order a customer's tracking link is for, or None."""
    link = (
        TrackingLink.objects.select_related("order__channel", "order__shipping_address")
        .filter(token=token)
        .first()
    )
    return link.order if link else None


def public_tracking(token: str) -> dict | None:
    """What the customer may see: order number, first name, city, and each parcel's progress."""
    link = TrackingLink.objects.select_related("order__shipping_address").filter(token=token).first()
    if link is None:
        return None
    order = link.order
    parcels = []
    for state in (
        TrackingState.objects.filter(shipment__order=order, shipment__direction=ShipmentDirection.OUTBOUND)
        .select_related("shipment__service__carrier")
        .prefetch_related("shipment__tracking_events")
        .order_by("shipment_id")
    ):
        shipment = state.shipment
        events = sorted(shipment.tracking_events.all(), key=lambda e: (e.occurred_at, e.pk), reverse=True)
        parcels.append(
            {
                "carrier": shipment.service.carrier.name,
                "tracking_number": shipment.tracking_number,
                "status": state.milestone,
                "status_text": in_words(state.milestone, state.incident),
                "next_step": NEXT_STEP.get(state.milestone),
                "delivery_estimate": None
                if state.delivered_at
                else state.predicted_date or state.carrier_estimate,
                "delivery_window": []
                if state.delivered_at or not state.predicted_earliest
                else [state.predicted_earliest, state.predicted_latest],
                "delivered_at": state.delivered_at,
                "events": [
                    {
                        "at": e.occurred_at,
                        "milestone": e.milestone,
                        "text": in_words(e.milestone, e.incident),
                        "place": e.location,
                    }
                    for e in events
                ],
            }
        )
    return {
        "order": order.number,
        "first_name": order.contact_first_name or "there",
        "city": order.shipping_address.city,
        "parcels": parcels,
    }


def order_timeline(order) -> list[tuple[TrackingState, list[TrackingEvent]]]:
    states = list(
        TrackingState.objects.filter(shipment__order=order)
        .select_related("shipment__service__carrier")
        .prefetch_related("shipment__tracking_events")
        .order_by("shipment_id")
    )
    return [
        (s, sorted(s.shipment.tracking_events.all(), key=lambda e: (e.occurred_at, e.pk))) for s in states
    ]


@dataclass
class Latency:
    """How long after the carrier's event it was stored, for one source (webhook or poll)."""

    source: str
    events: int
    p50_s: float | None
    p90_s: float | None
    p99_s: float | None


@dataclass
class Metrics:
    latency: list[Latency]
    events: int
    events_per_shipment: float | None
    followed: int
    silent: int
    silent_share: float | None
    predictions_scored: int
    inside_window_share: float | None
    mean_abs_error_days: float | None
    by_source: dict[str, int]


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def tracking_metrics(days: int = 30) -> Metrics:
    since = timezone.now() - timedelta(days=days)
    recent = TrackingEvent.objects.filter(received_at__gte=since)
    latency = []
    for source in ("webhook", "poll"):
        # the newest few thousand: a percentile needs no more, and the page stays quick at any size
        rows = recent.filter(source=source).values_list("occurred_at", "received_at").order_by("-received_at")
        seconds = [max((received - occurred).total_seconds(), 0) for occurred, received in rows[:5000]]
        latency.append(
            Latency(
                source=source,
                events=len(seconds),
                p50_s=_percentile(seconds, 0.5),
                p90_s=_percentile(seconds, 0.9),
                p99_s=_percentile(seconds, 0.99),
            )
        )
    counts = recent.aggregate(events=Count("id"), shipments=Count("shipment", distinct=True))
    followed = TrackingState.objects.filter(is_active=True).count()
    silent = TrackingState.objects.filter(is_active=True, silent_since__isnull=False).count()
    scored = EtaPrediction.objects.filter(actual_date__isnull=False, made_at__gte=since)
    score = scored.aggregate(
        n=Count("id"),
        inside=Count("id", filter=Q(inside_window=True)),
    )
    errors = [abs(e) for e in scored.values_list("error_days", flat=True)]
    by_source = dict(recent.values_list("source").annotate(n=Count("id")).values_list("source", "n"))
    return Metrics(
        latency=latency,
        events=counts["events"],
        events_per_shipment=counts["events"] / counts["shipments"] if counts["shipments"] else None,
        followed=followed,
        silent=silent,
        silent_share=silent / followed if followed else None,
        predictions_scored=score["n"],
        inside_window_share=score["inside"] / score["n"] if score["n"] else None,
        mean_abs_error_days=sum(errors) / len(errors) if errors else None,
        by_source=by_source,
    )


def tracking_exceptions():
    """Shipments ops should look at: an exception or failed attempt, a silent feed, a late estimate."""
    return (
        TrackingState.objects.filter(is_active=True)
        .filter(
            Q(milestone__in=[Milestone.EXCEPTION, Milestone.ATTEMPTED_DELIVERY, Milestone.RETURNED_TO_SENDER])
            | Q(silent_since__isnull=False)
            | Q(delay_reported=True)
        )
        .select_related("shipment__order", "shipment__service__carrier", "shipment__warehouse")
        .order_by("milestone_at")
    )


def order_delivery(order) -> dict:
    """An order's shipments and tracking link as its API detail shows them to the channel."""
    from django.conf import settings

    from shipments.models import PackageLine, Shipment, ShipmentStatus

    shipments = list(
        Shipment.objects.filter(order=order, direction=ShipmentDirection.OUTBOUND)
        .exclude(status__in=[ShipmentStatus.DRAFT, ShipmentStatus.LABEL_PENDING])
        .select_related("service__carrier", "tracking")
        .prefetch_related("packages")
        .order_by("pk")
    )
    lines: dict[int, dict[str, int]] = {}
    for line in PackageLine.objects.filter(package__shipment__in=shipments).select_related(
        "order_line", "package"
    ):
        units = lines.setdefault(line.package.shipment_id, {})
        key = str(line.order_line.line_number)
        units[key] = units.get(key, 0) + line.quantity
    link = TrackingLink.objects.filter(order=order).first()
    result = []
    for shipment in shipments:
        state = getattr(shipment, "tracking", None)
        result.append(
            {
                "reference": shipment.reference,
                "status": shipment.status,
                "milestone": state.milestone if state else None,
                "carrier": shipment.service.carrier.name,
                "service": shipment.service.name,
                "tracking_numbers": [p.tracking_number for p in shipment.packages.all() if p.tracking_number],
                "lines": lines.get(shipment.pk, {}),
                "shipped_at": shipment.shipped_at,
                "estimated_delivery": (state.predicted_date or state.carrier_estimate)
                if state
                else shipment.estimated_delivery,
                "delivered_at": state.delivered_at if state else None,
            }
        )
    return {
        "shipments": result,
        "tracking_url": f"{settings.PUBLIC_BASE_URL}/track/{link.token}/" if link else None,
    }


# A carrier's call is processed within a second by its task, or within a sweep period by the sweep:
# one still pending after this long is failing, and ops are to hear of it.
CALL_WAITING_AFTER = timedelta(minutes=10)
CALLS_SHOWN = 50


def carrier_calls_waiting(now=None):
    """Carrier webhooks stored and acknowledged but not processed for CALL_WAITING_AFTER, oldest
    first (the partial index of pending calls answers)."""
    now = now or timezone.now()
    return (
        WebhookDelivery.objects.filter(status=WebhookStatus.PENDING, received_at__lt=now - CALL_WAITING_AFTER)
        .select_related("carrier")
        .defer("body")
        .order_by("received_at", "pk")
    )
