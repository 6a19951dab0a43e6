"""The built-in sandbox carrier: works offline, answers the same way every time.

Tracking numbers are derived from our reference (so a retried purchase gets the same number), the
OMS draws the labels, prices follow a small table (2.5 times dearer across a border), and tracking
follows a script that starts when the parcel is handed over: picked up, in transit, at the hub, out
for delivery, delivered. Every ``failed_attempt_every``-th parcel has a failed delivery attempt
first, every ``exception_every``-th an exception (weather) on the way; ``time_scale`` shrinks the
script (0.0167 turns hours into minutes for the demo). ``zone_surcharges`` prices lanes as zoned
carriers do: a list of ``[sender postal prefix, recipient postal prefix, amount, extra days]`` (the
days optional), the longest matching pair adding its amount to a parcel's price and its days to the
estimate (the simulation prices and promises its network this way).
"""

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from shipments.carriers.base import (
    CarrierError,
    Incident,
    Milestone,
    ParcelRequest,
    Purchase,
    Rate,
    Tracking,
    TrackingEvent,
    WebhookRejected,
)

SERVICES = {
    # code: (base price, price per started kg, days in transit)
    "economy": (Decimal("3.20"), Decimal("0.60"), 4),
    "standard": (Decimal("4.50"), Decimal("0.90"), 2),
    "express": (Decimal("9.80"), Decimal("1.40"), 1),
}

# The sandbox's own status codes and what they mean in our words.
STATUS_MAP: dict[str, tuple[str, str]] = {
    "SBX-LC": (Milestone.LABEL_CREATED, ""),
    "SBX-PU": (Milestone.PICKED_UP, ""),
    "SBX-IT": (Milestone.IN_TRANSIT, ""),
    "SBX-HUB": (Milestone.ARRIVED_AT_HUB, ""),
    "SBX-OFD": (Milestone.OUT_FOR_DELIVERY, ""),
    "SBX-NH": (Milestone.ATTEMPTED_DELIVERY, ""),
    "SBX-DL": (Milestone.DELIVERED, ""),
    "SBX-WX": (Milestone.EXCEPTION, Incident.WEATHER),
    "SBX-RTS": (Milestone.RETURNED_TO_SENDER, ""),
}

NORMAL_SCRIPT = (
    (0, "SBX-PU", "Picked up by the driver"),
    (6, "SBX-IT", "On its way to the regional hub"),
    (20, "SBX-HUB", "Arrived at the delivery hub"),
    (30, "SBX-OFD", "Out for delivery"),
    (34, "SBX-DL", "Delivered"),
)
FAILED_ATTEMPT_SCRIPT = (
    *NORMAL_SCRIPT[:4],
    (34, "SBX-NH", "Nobody at home; we will try again"),
    (54, "SBX-OFD", "Out for delivery (second attempt)"),
    (58, "SBX-DL", "Delivered"),
)
EXCEPTION_SCRIPT = (
    *NORMAL_SCRIPT[:2],
    (12, "SBX-WX", "Held by a storm at the sorting centre"),
    (40, "SBX-HUB", "Arrived at the delivery hub"),
    (50, "SBX-OFD", "Out for delivery"),
    (54, "SBX-DL", "Delivered"),
)


@dataclass
class SandboxOptions:
    time_scale: float = 1.0
    failed_attempt_every: int = 5
    exception_every: int = 7
    zone_surcharges: tuple[tuple[str, str, Decimal, int], ...] = ()

    @classmethod
    def from_dict(cls, options: dict) -> "SandboxOptions":
        return cls(
            time_scale=float(options.get("time_scale", 1.0)),
            failed_attempt_every=int(options.get("failed_attempt_every", 5)),
            exception_every=int(options.get("exception_every", 7)),
            zone_surcharges=tuple(
                (
                    _postal(zone[0]),
                    _postal(zone[1]),
                    Decimal(str(zone[2])),
                    int(zone[3]) if len(zone) > 3 else 0,
                )
                for zone in options.get("zone_surcharges", ())
            ),
        )

    def zone(self, sender_postal: str, recipient_postal: str) -> tuple[Decimal, int]:
        """The surcharge and extra days of the longest (sender, recipient) prefix pair matching this
        lane; nothing extra when none does."""
        sender, recipient = _postal(sender_postal), _postal(recipient_postal)
        best, length = (Decimal(0), 0), -1
        for from_prefix, to_prefix, amount, days in self.zone_surcharges:
            matched = sender.startswith(from_prefix) and recipient.startswith(to_prefix)
            if matched and len(from_prefix) + len(to_prefix) > length:
                best, length = (amount, days), len(from_prefix) + len(to_prefix)
        return best


def _postal(code: str) -> str:
    return "".join(str(code).split()).upper()


def tracking_number_for(reference: str) -> str:
    """SBX + the digits of our reference + a mod-10 check digit: the same parcel, the same number."""
    digits = "".join(ch for ch in reference if ch.isdigit()).rjust(12, "0")
    check = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10
    return f"SBX{digits}{check}"


INTERNATIONAL_FACTOR = Decimal("2.5")


def price(
    service_code: str, weight_grams: int, *, international: bool = False, surcharge: Decimal = Decimal(0)
) -> Decimal:
    base, per_kg, _ = SERVICES[service_code]
    started_kg = max(1, -(-weight_grams // 1000))
    amount = (base + per_kg * started_kg + surcharge) * (INTERNATIONAL_FACTOR if international else 1)
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _international(request: ParcelRequest) -> bool:
    return request.sender.country.upper() != request.recipient.country.upper()


def script_for(tracking_number: str, options: SandboxOptions) -> tuple[tuple[int, str, str], ...]:
    number = int(tracking_number[3:-1] or 0)
    if options.exception_every and number % options.exception_every == 0:
        return EXCEPTION_SCRIPT
    if options.failed_attempt_every and number % options.failed_attempt_every == 0:
        return FAILED_ATTEMPT_SCRIPT
    return NORMAL_SCRIPT


class SandboxAdapter:
    def __init__(self, options: dict | None = None, *, today: date | None = None):
        self.options = SandboxOptions.from_dict(options or {})
        self.today = today

    def _price(self, service_code: str, request: ParcelRequest) -> Decimal:
        return price(
            service_code,
            request.weight_grams,
            international=_international(request),
            surcharge=self.options.zone(request.sender.postal_code, request.recipient.postal_code)[0],
        )

    def _check(self, request: ParcelRequest) -> None:
        if request.service_code not in SERVICES:
            raise CarrierError(
                f"The sandbox has no service '{request.service_code}'.",
                code="service_unknown",
                details=[f"Known: {', '.join(SERVICES)}."],
            )
        if request.weight_grams > 30_000:
            raise CarrierError("Parcels over 30 kg are not carried.", code="too_heavy")

    def quote(self, request: ParcelRequest) -> list[Rate]:
        if request.weight_grams > 30_000:
            return []
        extra = self.options.zone(request.sender.postal_code, request.recipient.postal_code)[1]
        return [
            Rate("Sandbox", code, self._price(code, request), "EUR", days + extra)
            for code, (_, _, days) in SERVICES.items()
        ]

    def prepare(self, request: ParcelRequest) -> str:
        self._check(request)
        return f"sbx_{request.reference}"

    def buy(self, carrier_parcel_id: str, request: ParcelRequest) -> Purchase:
        self._check(request)
        days = SERVICES[request.service_code][2]
        days += self.options.zone(request.sender.postal_code, request.recipient.postal_code)[1]
        return Purchase(
            tracking_number=tracking_number_for(request.reference),
            cost=self._price(request.service_code, request),
            currency="EUR",
            estimated_delivery=(self.today or date.today()) + timedelta(days=days),
        )

    def recover(self, carrier_parcel_id: str) -> Purchase | None:
        # The sandbox never loses an answer, and a second buy returns the same label anyway.
        return None

    def void(self, carrier_parcel_id: str) -> None:
        return None

    def track(self, tracking_number: str, *, shipped_at: datetime | None = None, now: datetime) -> Tracking:
        """The scripted events that have happened by ``now`` for a parcel handed over at ``shipped_at``."""
        if not tracking_number.startswith("SBX"):
            raise CarrierError(f"Unknown tracking number {tracking_number}.", code="not_found")
        if shipped_at is None:
            return Tracking(tracking_number, ())
        events = []
        for hours, code, text in script_for(tracking_number, self.options):
            at = shipped_at + timedelta(hours=hours * self.options.time_scale)
            if at > now:
                break
            milestone, incident = STATUS_MAP[code]
            events.append(TrackingEvent(code, text, at, milestone, location="", incident=incident))
        last_hours = script_for(tracking_number, self.options)[-1][0]
        estimate = (shipped_at + timedelta(hours=last_hours * self.options.time_scale)).date()
        return Tracking(tracking_number, tuple(events), estimated_delivery=estimate)


# ---------------------------------------------------------------------------------------------- webhooks
# The sandbox pushes like modern providers do: "X-Sandbox-Signature: t=<unix time>,v1=<hex>" where the
# hex is HMAC-SHA256 over "<t>.<raw body>"; calls signed more than five minutes away are refused.

WEBHOOK_TOLERANCE = timedelta(minutes=5)


def webhook_signature(body: bytes, secret: str, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_webhook(headers: Mapping[str, str], body: bytes, secret: str, now: datetime) -> None:
    header = headers.get("X-Sandbox-Signature") or headers.get("x-sandbox-signature")
    if not header:
        raise WebhookRejected("The call is not signed (no X-Sandbox-Signature).", code="unsigned")
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError) as exc:
        raise WebhookRejected("The signature header has no timestamp.", code="bad_signature") from exc
    if not secret or not hmac.compare_digest(header.strip(), webhook_signature(body, secret, timestamp)):
        raise WebhookRejected(
            "The signature does not match this carrier's webhook secret.", code="bad_signature"
        )
    if abs(now - datetime.fromtimestamp(timestamp, tz=UTC)) > WEBHOOK_TOLERANCE:
        raise WebhookRejected("The call was signed more than five minutes ago.", code="stale")


def webhook_body(tracking_number: str, events: list[TrackingEvent], *, event_id: str) -> bytes:
    """What the sandbox sends (the demo and the benchmark push these)."""
    return json.dumps(
        {
            "id": event_id,
            "tracking_number": tracking_number,
            "events": [
                {
                    "code": e.code,
                    "description": e.description,
                    "occurred_at": e.occurred_at.isoformat(),
                    "location": e.location,
                }
                for e in events
            ],
        }
    ).encode()


def parse_webhook(body: bytes) -> tuple[str, list[Tracking]]:
    payload = json.loads(body)
    events = []
    for item in payload.get("events") or []:
        mapped = STATUS_MAP.get(item.get("code", ""))
        if mapped is None:
            continue
        events.append(
            TrackingEvent(
                code=item["code"],
                description=item.get("description", ""),
                occurred_at=datetime.fromisoformat(item["occurred_at"]),
                milestone=mapped[0],
                location=item.get("location", ""),
                incident=mapped[1],
            )
        )
    return payload.get("id", ""), [Tracking(payload["tracking_number"], tuple(events))]
