"""Which domain events tell the customer something (see oms.events): each handler names the trigger
and calls notifications.services.notify in the handler's transaction, so a redelivered event decides
nothing twice.

The handlers take the events published together as one batch (an afternoon's hand-overs, a round of
scans): one claim and one commit for all of them. Each decision still locks its order, so a batch
takes them in order of order id (the order routing locks them in), each order's events oldest
first, as they happened."""

from notifications import services
from notifications.models import Trigger
from oms.events import subscribe
from oms.models import DomainEvent

QUEUE = "notifications"
BATCH = 200


def _outbound(event: DomainEvent) -> bool:
    # A return parcel's progress is ops' business; the customer is told about the return itself.
    return event.payload.get("direction", "outbound") != "return"


def _notify(trigger: str, event: DomainEvent, **data) -> None:
    services.notify(trigger=trigger, order_id=event.payload["order_id"], event=event, data=data)


def _in_lock_order(events: list[DomainEvent]) -> list[DomainEvent]:
    return sorted(events, key=lambda event: (event.payload.get("order_id") or 0, event.pk))


@subscribe("order.allocated", queue=QUEUE, batch=BATCH)
@subscribe("order.partially_allocated", queue=QUEUE, batch=BATCH)
def order_confirmed(events: list[DomainEvent]) -> None:
    for event in _in_lock_order(events):
        _notify(Trigger.ORDER_CONFIRMED, event)


@subscribe("order.backordered", queue=QUEUE)
def order_backordered(event: DomainEvent) -> None:
    _notify(Trigger.ORDER_BACKORDERED, event, expected_date=event.payload.get("expected_date"))


@subscribe("order.cancelled", queue=QUEUE)
def order_cancelled(event: DomainEvent) -> None:
    _notify(Trigger.ORDER_CANCELLED, event)


@subscribe("shipment.shipped", queue=QUEUE, batch=BATCH)
def shipped(events: list[DomainEvent]) -> None:
    for event in _in_lock_order(events):
        if _outbound(event):
            _notify(Trigger.SHIPPED, event, shipment_id=event.payload["shipment_id"])


@subscribe("tracking.milestone", queue=QUEUE, batch=BATCH)
def parcel_progress(events: list[DomainEvent]) -> None:
    for event in _in_lock_order(events):
        if event.payload.get("milestone") == "out_for_delivery" and _outbound(event):
            _notify(Trigger.OUT_FOR_DELIVERY, event, shipment_id=event.payload["shipment_id"])


@subscribe("shipment.delivered", queue=QUEUE, batch=BATCH)
def delivered(events: list[DomainEvent]) -> None:
    for event in _in_lock_order(events):
        if _outbound(event):
            _notify(Trigger.DELIVERED, event, shipment_id=event.payload["shipment_id"])


@subscribe("shipment.delayed", queue=QUEUE)
def delayed(event: DomainEvent) -> None:
    if _outbound(event):
        _notify(Trigger.DELAYED, event, shipment_id=event.payload["shipment_id"])


@subscribe("shipment.exception", queue=QUEUE)
def exception(event: DomainEvent) -> None:
    """Trouble on the way: a failed delivery attempt has its own message, anything else (damage,
    weather, customs, sent back) is a delivery problem; both with what the carrier said."""
    if _outbound(event):
        attempted = event.payload.get("milestone") == "attempted_delivery"
        _notify(
            Trigger.DELIVERY_ATTEMPTED if attempted else Trigger.EXCEPTION,
            event,
            shipment_id=event.payload["shipment_id"],
            reason=str(event.payload.get("description") or "")[:200],
        )


RETURN_TRIGGERS = {
    "return.authorised": Trigger.RETURN_AUTHORISED,
    "return.label_issued": Trigger.RETURN_AUTHORISED,
    "return.rejected": Trigger.RETURN_REJECTED,
    "return.received": Trigger.RETURN_RECEIVED,
    "return.credited": Trigger.RETURN_CREDITED,
}


def _return_step(event: DomainEvent) -> None:
    from returns.selectors import return_first_order_id

    order_id = return_first_order_id(event.payload["return_id"])
    if order_id is not None:
        services.notify(
            trigger=RETURN_TRIGGERS[event.name],
            order_id=order_id,
            event=event,
            data={"return_id": event.payload["return_id"]},
        )


for _name in RETURN_TRIGGERS:
    subscribe(_name, queue=QUEUE)(_return_step)
