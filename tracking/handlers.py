"""What tracking does when fulfilment reports a change (domain events, see oms.events)."""

from oms.events import subscribe
from oms.models import DomainEvent
from tracking import services


@subscribe("shipment.shipped", queue="tracking")
def follow_shipped(event: DomainEvent) -> None:
    services.tracking_start(shipment_id=event.payload["shipment_id"])
