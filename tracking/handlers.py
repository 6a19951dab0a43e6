"""What tracking does when fulfilment reports a change (domain events, see oms.events)."""

from oms.events import subscribe
from oms.models import DomainEvent
from tracking import services


@subscribe("shipment.shipped", queue="tracking", batch=200)
def follow_shipped(events: list[DomainEvent]) -> None:
    """An afternoon's hand-overs start their tracking in one transaction, in the order they shipped."""
    for event in sorted(events, key=lambda event: event.pk):
        services.tracking_start(shipment_id=event.payload["shipment_id"])
