"""Exchanges: the replacement is a new order of the same channel and customer, at no charge, routed by
the rules like any other order."""

from decimal import Decimal

from django.utils import timezone

from oms.errors import IllegalTransition
from orders.models import Order, OrderStatus, PaymentStatus, ServiceLevel
from orders.services import Actor, CustomerInput, LineInput, OrderInput, order_cancel, order_create
from returns.models import Return

_ADDRESS = (
    "name",
    "company",
    "line1",
    "line2",
    "city",
    "city_area",
    "region",
    "postal_code",
    "country",
    "phone",
)


def replacement_create(*, ret: Return, actor: Actor, units: dict[int, int]) -> Order | None:
    """The replacement order for ``units`` (return line id -> units) of a return, shipped where the
    first order went. Its external id is the return's number, so it can only be made once."""
    lines = [
        line
        for line in ret.lines.select_related(
            "order_line__order__shipping_address", "order_line__product", "exchange_product"
        )
        if units.get(line.pk)
    ]
    if not lines:
        return None
    first = lines[0].order_line.order
    address = first.shipping_address
    shipping_address = {name: getattr(address, name) for name in _ADDRESS}
    if address.coordinates_source == "channel":
        shipping_address |= {"latitude": address.latitude, "longitude": address.longitude}
    return order_create(
        channel=ret.channel,
        actor=actor,
        data=OrderInput(
            external_id=f"{ret.number}-EXCHANGE",
            customer=CustomerInput(
                email=first.contact_email,
                phone=first.contact_phone,
                first_name=first.contact_first_name,
                last_name=first.contact_last_name,
            ),
            shipping_address=shipping_address,
            lines=[
                LineInput(
                    sku=(line.exchange_product or line.order_line.product).sku,
                    quantity=units[line.pk],
                    unit_price=Decimal(0),
                )
                for line in lines
            ],
            currency=first.currency,
            placed_at=timezone.now(),
            service_level=ServiceLevel.STANDARD
            if first.service_level == ServiceLevel.PICKUP
            else first.service_level,
            payment_status=PaymentStatus.PAID,
        ),
    )


def replacement_cancel(*, order: Order, actor: Actor, reason: str) -> bool:
    """Cancel a replacement the return no longer pays for; False when it has already left."""
    if order.status == OrderStatus.CANCELLED:
        return True
    try:
        order_cancel(order_id=order.pk, actor=actor, reason=reason)
    except IllegalTransition:
        return False
    return True
