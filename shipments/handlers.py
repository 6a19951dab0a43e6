"""What fulfilment does when other parts of the OMS report a change (domain events, see oms.events)."""

from oms.events import subscribe
from oms.models import DomainEvent
from orders.services import Actor
from shipments import services


@subscribe("order.cancelled")
@subscribe("order.remainder_cancelled")
def withdraw_cancelled_order(event: DomainEvent) -> None:
    services.order_fulfilment_withdraw(
        order_id=event.payload["order_id"], actor=Actor.system("order cancelled")
    )
