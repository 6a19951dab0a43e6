"""What every carrier adapter takes and returns, and the one interface they all implement.

An adapter works per parcel: gateways such as EasyPost buy one label per parcel, and a shipment of
three packages is three parcels. Buying is split in two so that a retry can never buy twice:
``prepare`` registers the parcel with the carrier and returns the carrier's id for it (the caller
stores that id before going on); ``buy`` purchases the label for that id; after a timeout,
``recover`` asks the carrier whether the purchase went through.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol


class Milestone:
    """The canonical tracking milestones (docs/architecture.md, Statuses); every carrier maps onto these."""

    LABEL_CREATED = "label_created"
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    ARRIVED_AT_HUB = "arrived_at_hub"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    ATTEMPTED_DELIVERY = "attempted_delivery"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    RETURNED_TO_SENDER = "returned_to_sender"
    CANCELLED = "cancelled"

    ALL = (
        LABEL_CREATED,
        PICKED_UP,
        IN_TRANSIT,
        ARRIVED_AT_HUB,
        OUT_FOR_DELIVERY,
        AVAILABLE_FOR_PICKUP,
        ATTEMPTED_DELIVERY,
        DELIVERED,
        EXCEPTION,
        RETURNED_TO_SENDER,
        CANCELLED,
    )


class Incident:
    """Why an exception happened (who or what caused it)."""

    CARRIER = "carrier"
    RETAILER = "retailer"
    CONSIGNEE = "consignee"
    CUSTOMS = "customs"
    WEATHER = "weather"
    ADDRESS = "address"


class CarrierError(Exception):
    """The carrier answered and refused: nothing was bought, the request must change first."""

    def __init__(self, message: str, *, code: str = "", details: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details or []


class WebhookRejected(Exception):
    """A webhook call that must not be stored: unsigned, badly signed or stale."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


class CarrierUnavailable(Exception):
    """No usable answer (timeout, connection lost, 5xx): the outcome of the call is not known."""


@dataclass(frozen=True)
class Party:
    name: str
    line1: str
    city: str
    postal_code: str
    country: str
    company: str = ""
    line2: str = ""
    region: str = ""
    phone: str = ""
    email: str = ""


@dataclass(frozen=True)
class ParcelRequest:
    reference: str  # ours, e.g. SH-0000012/1: the carrier echoes it back
    sender: Party
    recipient: Party
    weight_grams: int
    length_mm: int
    width_mm: int
    height_mm: int
    service_code: str
    carrier_name: str = ""
    order_number: str = ""
    # A return label: sender and recipient stay as they were for the way out (the warehouse sends to
    # the customer), as gateways such as EasyPost expect, and the carrier swaps them on the label.
    is_return: bool = False


@dataclass(frozen=True)
class Rate:
    carrier_name: str
    service_code: str
    amount: Decimal
    currency: str
    estimated_days: int | None = None


@dataclass(frozen=True)
class LabelFile:
    format: str  # pdf, zpl or png
    content: bytes


@dataclass(frozen=True)
class Purchase:
    tracking_number: str
    cost: Decimal | None
    currency: str
    estimated_delivery: date | None = None
    labels: tuple[LabelFile, ...] = ()  # the carrier's own files; empty when the OMS draws the label


@dataclass(frozen=True)
class TrackingEvent:
    code: str  # the carrier's status code, as sent
    description: str
    occurred_at: datetime  # the carrier's timestamp
    milestone: str  # one of Milestone.ALL
    location: str = ""
    incident: str = ""  # one of Incident, for exceptions


@dataclass(frozen=True)
class Tracking:
    tracking_number: str
    events: tuple[TrackingEvent, ...]
    estimated_delivery: date | None = None
    raw: dict = field(default_factory=dict, compare=False)


class Adapter(Protocol):
    def quote(self, request: ParcelRequest) -> list[Rate]: ...

    def prepare(self, request: ParcelRequest) -> str: ...

    def buy(self, carrier_parcel_id: str, request: ParcelRequest) -> Purchase: ...

    def recover(self, carrier_parcel_id: str) -> Purchase | None: ...

    def void(self, carrier_parcel_id: str) -> None: ...

    def track(self, tracking_number: str, *, shipped_at: datetime | None, now: datetime) -> Tracking:
        """The carrier's events so far. ``shipped_at`` and ``now`` drive the sandbox's script; real
        carriers know both themselves and ignore them."""
        ...
