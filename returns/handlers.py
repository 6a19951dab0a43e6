"""What returns do when tracking or their own moves report a change (domain events, see oms.events)."""

from oms.events import subscribe
from oms.models import DomainEvent
from orders.services import Actor
from returns import services

ACTOR = Actor.system("returns")


@subscribe("tracking.milestone", queue="tracking")
def follow_return_parcel(event: DomainEvent) -> None:
    if event.payload.get("direction") == "return":
        services.return_parcel_progress(
            shipment_id=event.payload["shipment_id"], milestone=event.payload["milestone"], actor=ACTOR
        )


@subscribe("return.cancelled")
def void_unused_label(event: DomainEvent) -> None:
    services.return_label_void(return_id=event.payload["return_id"], actor=ACTOR)
