"""EasyPost (api.easypost.com/v2): one API in front of USPS, UPS, FedEx, DHL and a hundred more.

Pure request builders and response parsers over EasyPost's documented objects (Shipment, Rate,
PostageLabel, Tracker, and the error body), a table from EasyPost's tracking statuses to our
milestones, and the I/O in one class (``EasyPostTransport``). A label purchase is two calls: create
the shipment (which returns its id and rates; nothing is charged), then buy one rate of it. EasyPost
refuses to buy a shipment twice, and ``recover`` reads the shipment back after a timeout, so a retry
never pays twice.
"""

import hashlib
import hmac
import json
import math
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

import requests

from shipments.carriers.base import (
    CarrierError,
    CarrierUnavailable,
    Incident,
    LabelFile,
    Milestone,
    ParcelRequest,
    Purchase,
    Rate,
    Tracking,
    TrackingEvent,
    WebhookRejected,
)

BASE_URL = "https://api.easypost.com/v2"
GRAMS_PER_OUNCE = 28.349523125
MM_PER_INCH = 25.4

# (status, status_detail) -> (milestone, incident); status_detail None matches any detail.
STATUS_MAP: dict[tuple[str, str | None], tuple[str, str]] = {
    ("pre_transit", None): (Milestone.LABEL_CREATED, ""),
    ("in_transit", "received_at_origin_facility"): (Milestone.PICKED_UP, ""),
    ("in_transit", "arrived_at_facility"): (Milestone.ARRIVED_AT_HUB, ""),
    ("in_transit", "arrived_at_destination"): (Milestone.ARRIVED_AT_HUB, ""),
    ("in_transit", "received_at_destination_facility"): (Milestone.ARRIVED_AT_HUB, ""),
    ("in_transit", "weather_delay"): (Milestone.EXCEPTION, Incident.WEATHER),
    ("in_transit", "address_correction"): (Milestone.EXCEPTION, Incident.ADDRESS),
    ("in_transit", "delayed"): (Milestone.EXCEPTION, Incident.CARRIER),
    ("in_transit", None): (Milestone.IN_TRANSIT, ""),
    ("out_for_delivery", None): (Milestone.OUT_FOR_DELIVERY, ""),
    ("available_for_pickup", None): (Milestone.AVAILABLE_FOR_PICKUP, ""),
    ("delivered", None): (Milestone.DELIVERED, ""),
    ("return_to_sender", None): (Milestone.RETURNED_TO_SENDER, ""),
    ("failure", "refused"): (Milestone.EXCEPTION, Incident.CONSIGNEE),
    ("failure", "address_not_found"): (Milestone.EXCEPTION, Incident.ADDRESS),
    ("failure", "delivery_exception"): (Milestone.ATTEMPTED_DELIVERY, Incident.CONSIGNEE),
    ("failure", None): (Milestone.EXCEPTION, Incident.CARRIER),
    ("cancelled", None): (Milestone.CANCELLED, ""),
}


def milestone_of(status: str, status_detail: str | None) -> tuple[str, str] | None:
    """Our milestone and incident for an EasyPost status; None for 'unknown' / 'error' (no news)."""
    return STATUS_MAP.get((status, status_detail)) or STATUS_MAP.get((status, None))


# ------------------------------------------------------------------------------------ request builders


def _address(party) -> dict:
    return {
        "name": party.name,
        "company": party.company or None,
        "street1": party.line1,
        "street2": party.line2 or None,
        "city": party.city,
        "state": party.region or None,
        "zip": party.postal_code,
        "country": party.country,
        "phone": party.phone or None,
        "email": party.email or None,
    }


def _up(value: float, places: int = 1) -> float:
    factor = 10**places
    return math.ceil(value * factor) / factor


def shipment_body(request: ParcelRequest, options: dict) -> dict:
    """POST /shipments: addresses, the parcel in inches and ounces (rounded up), our reference."""
    return {
        "shipment": {
            "reference": request.reference,
            "to_address": _address(request.recipient),
            "from_address": _address(request.sender),
            "parcel": {
                "length": _up(request.length_mm / MM_PER_INCH),
                "width": _up(request.width_mm / MM_PER_INCH),
                "height": _up(request.height_mm / MM_PER_INCH),
                "weight": _up(request.weight_grams / GRAMS_PER_OUNCE),
            },
            "options": {
                "label_format": options.get("label_format", "PDF"),
                "invoice_number": request.order_number,
            },
            **({"is_return": True} if request.is_return else {}),
        }
    }


def buy_body(rate_id: str) -> dict:
    return {"rate": {"id": rate_id}}


def tracker_body(tracking_number: str, carrier_name: str = "") -> dict:
    body = {"tracking_code": tracking_number}
    if carrier_name:
        body["carrier"] = carrier_name
    return {"tracker": body}


# ------------------------------------------------------------------------------------ response parsers


def _money(value) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def _date(value: str | None) -> date | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).date()


def parse_error(status: int, body: dict | None) -> CarrierError:
    """EasyPost's error body: {"error": {"code", "message", "errors": [{"field", "message"}]}}."""
    error = (body or {}).get("error") or {}
    details = [
        f"{item.get('field')}: {item.get('message')}" if item.get("field") else str(item.get("message"))
        for item in error.get("errors") or []
        if isinstance(item, dict)
    ]
    message = error.get("message") or f"EasyPost answered HTTP {status}."
    return CarrierError(
        f"EasyPost refused: {message}", code=error.get("code") or f"http_{status}", details=details
    )


def parse_rates(shipment: dict) -> list[Rate]:
    rates = []
    for rate in shipment.get("rates") or []:
        amount = _money(rate.get("rate"))
        if amount is None:
            continue
        rates.append(
            Rate(
                carrier_name=rate.get("carrier") or "",
                service_code=rate.get("service") or "",
                amount=amount,
                currency=rate.get("currency") or "",
                estimated_days=rate.get("est_delivery_days") or rate.get("delivery_days"),
            )
        )
    return rates


def select_rate(shipment: dict, *, carrier_name: str, service_code: str) -> dict:
    """The shipment's rate for the configured carrier and service, or why there is none."""
    for rate in shipment.get("rates") or []:
        if rate.get("service") == service_code and (not carrier_name or rate.get("carrier") == carrier_name):
            return rate
    problems = [
        f"{m.get('carrier')}: {m.get('message')}"
        for m in shipment.get("messages") or []
        if isinstance(m, dict)
    ]
    offered = sorted({f"{r.get('carrier')} {r.get('service')}" for r in shipment.get("rates") or []})
    raise CarrierError(
        f"EasyPost offers no rate for {carrier_name or 'any carrier'} {service_code} on this parcel.",
        code="rate_unavailable",
        details=problems + ([f"Offered: {', '.join(offered)}."] if offered else []),
    )


def parse_purchase(shipment: dict) -> tuple[Purchase, str | None, str]:
    """A bought shipment: the purchase, the URL of its label file and that file's format."""
    label = shipment.get("postage_label") or {}
    selected = shipment.get("selected_rate") or {}
    url = label.get("label_pdf_url") or label.get("label_zpl_url") or label.get("label_url")
    kind = (
        "pdf"
        if url and url == label.get("label_pdf_url")
        else "zpl"
        if url and url == label.get("label_zpl_url")
        else {"application/pdf": "pdf", "image/png": "png", "application/zpl": "zpl"}.get(
            label.get("label_file_type") or "", "pdf"
        )
    )
    purchase = Purchase(
        tracking_number=shipment.get("tracking_code") or "",
        cost=_money(selected.get("rate")),
        currency=selected.get("currency") or "",
        estimated_delivery=_date(selected.get("delivery_date")),
    )
    return purchase, url, kind


def parse_tracker(tracker: dict) -> Tracking:
    events = []
    for detail in tracker.get("tracking_details") or []:
        mapped = milestone_of(detail.get("status") or "", detail.get("status_detail"))
        if mapped is None or not detail.get("datetime"):
            continue
        location = detail.get("tracking_location") or {}
        place = ", ".join(str(location[k]) for k in ("city", "state", "country") if location.get(k))
        events.append(
            TrackingEvent(
                code=f"{detail.get('status')}/{detail.get('status_detail') or '-'}",
                description=detail.get("message") or detail.get("description") or "",
                occurred_at=datetime.fromisoformat(detail["datetime"].replace("Z", "+00:00")),
                milestone=mapped[0],
                location=place,
                incident=mapped[1],
            )
        )
    return Tracking(
        tracking_number=tracker.get("tracking_code") or "",
        events=tuple(events),
        estimated_delivery=_date(tracker.get("est_delivery_date")),
        raw=tracker,
    )


# ---------------------------------------------------------------------------------------------- webhooks

# EasyPost retries an unanswered event for some hours; an event signed longer ago than this is a replay.
WEBHOOK_MAX_AGE = timedelta(hours=72)


def webhook_signature(body: bytes, secret: str) -> str:
    """EasyPost's scheme: HMAC-SHA256 of the raw body with the NFKD-normalised secret, hex, prefixed."""
    key = unicodedata.normalize("NFKD", secret).encode("utf-8")
    return "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_webhook(headers: Mapping[str, str], body: bytes, secret: str, now: datetime) -> None:
    """Accept only what EasyPost signed (header X-Hmac-Signature), and only recent events: the
    signed body's own ``created_at`` is the clock, since the legacy header carries no timestamp."""
    signature = headers.get("X-Hmac-Signature") or headers.get("x-hmac-signature")
    if not signature:
        raise WebhookRejected("The call is not signed (no X-Hmac-Signature).", code="unsigned")
    if not secret or not hmac.compare_digest(signature.strip(), webhook_signature(body, secret)):
        raise WebhookRejected(
            "The signature does not match this carrier's webhook secret.", code="bad_signature"
        )
    try:
        created = datetime.fromisoformat(json.loads(body)["created_at"].replace("Z", "+00:00"))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise WebhookRejected("The event has no readable created_at.", code="stale") from exc
    if now - created > WEBHOOK_MAX_AGE:
        raise WebhookRejected(f"The event was created at {created:%Y-%m-%d %H:%M}Z: too old.", code="stale")


def parse_webhook(body: bytes) -> tuple[str, list[Tracking]]:
    """An Event whose result is a Tracker: its id (to drop duplicates) and the tracker's events."""
    event = json.loads(body)
    result = event.get("result") or {}
    if result.get("object") != "Tracker":
        return event.get("id") or "", []
    return event.get("id") or "", [parse_tracker(result)]


# ------------------------------------------------------------------------------------------------- I/O


class EasyPostTransport:
    """The only place that talks to EasyPost: HTTP basic auth with the API key, JSON both ways."""

    def __init__(self, api_key: str, *, timeout: float = 15.0, session: requests.Session | None = None):
        if not api_key:
            raise CarrierError("No EasyPost API key is configured for this carrier.", code="not_configured")
        self.api_key = api_key
        self.timeout = timeout
        self.session = session or requests.Session()

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        try:
            response = self.session.request(
                method, f"{BASE_URL}{path}", json=body, auth=(self.api_key, ""), timeout=self.timeout
            )
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise CarrierUnavailable(f"EasyPost did not answer: {exc}") from exc
        if response.status_code >= 500:
            raise CarrierUnavailable(f"EasyPost answered HTTP {response.status_code}.")
        try:
            payload = response.json()
        except ValueError as exc:
            raise CarrierUnavailable("EasyPost answered with something that is not JSON.") from exc
        if response.status_code >= 400:
            raise parse_error(response.status_code, payload)
        return payload

    def download(self, url: str) -> bytes:
        try:
            response = self.session.get(url, timeout=self.timeout)
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise CarrierUnavailable(f"The label file did not download: {exc}") from exc
        if response.status_code != 200:
            raise CarrierUnavailable(f"The label file answered HTTP {response.status_code}.")
        return response.content


class EasyPostAdapter:
    def __init__(self, transport: EasyPostTransport, options: dict | None = None):
        self.transport = transport
        self.options = options or {}

    def quote(self, request: ParcelRequest) -> list[Rate]:
        return parse_rates(self.transport.call("POST", "/shipments", shipment_body(request, self.options)))

    def prepare(self, request: ParcelRequest) -> str:
        shipment = self.transport.call("POST", "/shipments", shipment_body(request, self.options))
        # Checked now, so that a missing service is a clear refusal before anything is bought.
        select_rate(shipment, carrier_name=request.carrier_name, service_code=request.service_code)
        return shipment["id"]

    def _purchase_with_label(self, shipment: dict) -> Purchase:
        purchase, url, kind = parse_purchase(shipment)
        labels = (LabelFile(kind, self.transport.download(url)),) if url else ()
        return Purchase(
            tracking_number=purchase.tracking_number,
            cost=purchase.cost,
            currency=purchase.currency,
            estimated_delivery=purchase.estimated_delivery,
            labels=labels,
        )

    def buy(self, carrier_parcel_id: str, request: ParcelRequest) -> Purchase:
        shipment = self.transport.call("GET", f"/shipments/{carrier_parcel_id}")
        if shipment.get("postage_label"):
            return self._purchase_with_label(shipment)  # bought by an earlier attempt
        rate = select_rate(shipment, carrier_name=request.carrier_name, service_code=request.service_code)
        return self._purchase_with_label(
            self.transport.call("POST", f"/shipments/{carrier_parcel_id}/buy", buy_body(rate["id"]))
        )

    def recover(self, carrier_parcel_id: str) -> Purchase | None:
        shipment = self.transport.call("GET", f"/shipments/{carrier_parcel_id}")
        return self._purchase_with_label(shipment) if shipment.get("postage_label") else None

    def void(self, carrier_parcel_id: str) -> None:
        shipment = self.transport.call("POST", f"/shipments/{carrier_parcel_id}/refund")
        if shipment.get("refund_status") == "rejected":
            raise CarrierError("EasyPost rejected the refund of this label.", code="refund_rejected")

    def track(self, tracking_number: str, *, shipped_at: datetime | None = None, now: datetime) -> Tracking:
        return parse_tracker(self.transport.call("POST", "/trackers", tracker_body(tracking_number)))
