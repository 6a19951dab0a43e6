"""What returns do when tracking or their own moves report a change (domain events, see oms.events)."""

from oms.events import subscribe
from oms.models import DomainEvent
from orders.services import Actor
from returns import services

ACTOR = Actor.system("returns")


@subscribe("tracking.milestone", queue="tracking", batch=200)
def follow_return_parcel(events: list[DomainEvent]) -> None:
    """Most milestones are outbound parcels' and need nothing here: a batch spares them a claim and a
    commit each. Return parcels follow in order of shipment, each one's milestones as they came."""
    returning = [event for event in events if event.payload.get("direction") == "return"]
    for event in sorted(returning, key=lambda event: (event.payload["shipment_id"], event.pk)):
        services.return_parcel_progress(
            shipment_id=event.payload["shipment_id"], milestone=event.payload["milestone"], actor=ACTOR
        )


@subscribe("return.cancelled")
def void_unused_label(event: DomainEvent) -> None:
    services.return_label_void(return_id=event.payload["return_id"], actor=ACTOR)
