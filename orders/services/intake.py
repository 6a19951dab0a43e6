"""Order capture: validate all of it, then write it with a fixed number of statements."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from oms.errors import Conflict, ValidationFailed, merge_errors
from oms.events import event_emit
from oms.sql import insert_rows, insert_with_parent, select_rows, unsaved
from orders.geocoding import address_locate
from orders.models import (
    Address,
    Channel,
    Order,
    OrderEventKind,
    OrderLine,
    OrderStatus,
    PaymentStatus,
    Product,
    ServiceLevel,
)
from orders.services.actors import Actor, _history
from orders.services.customers import customer_resolve
from orders.validation import (
    Errors,
    address_clean,
    currency_precision,
    money_error,
    normalize_email,
    normalize_phone,
    normalize_sku,
)

# ---------------------------------------------------------------------------------------------- orders


@dataclass(frozen=True)
class LineInput:
    sku: str
    quantity: int
    unit_price: Decimal
    discount: Decimal = Decimal(0)


@dataclass(frozen=True)
class CustomerInput:
    email: str | None = None
    phone: str | None = None
    first_name: str = ""
    last_name: str = ""


@dataclass(frozen=True)
class OrderInput:
    external_id: str
    customer: CustomerInput
    shipping_address: Mapping[str, Any]
    lines: list[LineInput]
    currency: str
    placed_at: datetime | None = None
    service_level: str = ServiceLevel.STANDARD
    pickup_location: str = ""
    language: str = ""
    payment_status: str = PaymentStatus.PENDING
    requested_delivery_start: datetime | None = None
    requested_delivery_end: datetime | None = None
    order_discount: Decimal = Decimal(0)
    shipping_total: Decimal = Decimal(0)
    tax_total: Decimal = Decimal(0)
    extra_errors: Errors = field(default_factory=dict)


def _line_total(quantity: int, unit_price: Decimal, discount: Decimal) -> Decimal:
    return quantity * unit_price - discount


def _check_money(errors: Errors, currency: str, amounts: Iterable[tuple[str, Decimal]]) -> None:
    for path, amount in amounts:
        problem = money_error(amount, currency)
        if problem:
            errors.setdefault(path, []).append(problem)


def order_create(*, channel: Channel, actor: Actor, data: OrderInput) -> Order:
    """Capture one order from a channel: validate all of it, then write it with a fixed number of statements.

    Runs in the caller's transaction when there is one (the API wraps it with the idempotency claim),
    otherwise in its own.
    """
    with transaction.atomic(savepoint=False):
        return _order_create(channel=channel, actor=actor, data=data)


def _order_create(*, channel: Channel, actor: Actor, data: OrderInput) -> Order:
    errors: Errors = {}
    currency = data.currency.upper()
    address, address_errors = address_clean(dict(data.shipping_address), prefix="shipping_address.")
    errors.update(address_errors)
    phone = None
    if data.customer.phone:
        try:
            phone = normalize_phone(
                data.customer.phone, default_country=str(address.get("country") or "") or None
            )
        except ValueError as exc:
            errors["customer.phone"] = [str(exc)]
    if not data.customer.email and not data.customer.phone:
        errors["customer"] = ["Give an e-mail or a phone."]
    if not data.lines:
        errors["lines"] = ["An order needs at least one line."]
    if data.service_level == ServiceLevel.PICKUP and not data.pickup_location.strip():
        errors["pickup_store"] = ["Say which store the customer collects from (its code)."]
    elif data.service_level != ServiceLevel.PICKUP and data.pickup_location.strip():
        errors["pickup_store"] = ["Only pick-up orders name a store; use service_level pickup."]

    skus = [normalize_sku(line.sku) for line in data.lines]
    unique_skus = sorted(set(skus))
    products = (
        {
            p.sku: p
            for p in select_rows(
                Product,
                ("id", "sku", "name", "is_active"),
                "sku IN (" + ", ".join(["%s"] * len(unique_skus)) + ")",
                unique_skus,
            )
        }
        if unique_skus
        else {}
    )
    subtotal = Decimal(0)
    line_discounts = Decimal(0)
    for index, (sku, line) in enumerate(zip(skus, data.lines, strict=True)):
        product = products.get(sku)
        if product is None:
            errors.setdefault(f"lines.{index}.sku", []).append(f"Unknown SKU '{sku}'.")
        elif not product.is_active:
            errors.setdefault(f"lines.{index}.sku", []).append(f"SKU '{sku}' is no longer sold.")
        _check_money(
            errors,
            currency,
            [(f"lines.{index}.unit_price", line.unit_price), (f"lines.{index}.discount", line.discount)],
        )
        amounts_given = not any(
            f"lines.{index}.{name}" in data.extra_errors for name in ("quantity", "unit_price", "discount")
        )
        if amounts_given and line.discount > line.quantity * line.unit_price:
            errors.setdefault(f"lines.{index}.discount", []).append(
                "The discount is larger than the line's price."
            )
        subtotal += line.quantity * line.unit_price
        line_discounts += line.discount
    given = [sku for sku in skus if sku]
    if len(set(given)) != len(given):
        errors.setdefault("lines", []).append("Each SKU may appear on one line only; add up the quantities.")
    _check_money(
        errors,
        currency,
        [
            ("order_discount", data.order_discount),
            ("shipping_total", data.shipping_total),
            ("tax_total", data.tax_total),
        ],
    )
    total = subtotal - line_discounts - data.order_discount + data.shipping_total + data.tax_total
    # The totals are meaningful only when every amount was read (not a stand-in for a bad one).
    if total < 0 and "order_discount" not in errors and not data.extra_errors:
        errors["order_discount"] = ["The discounts are larger than the order's value."]
    if errors or data.extra_errors:
        raise ValidationFailed(
            "The order is invalid; nothing was saved.", details=merge_errors(data.extra_errors, errors)
        )

    email = normalize_email(data.customer.email)
    customer = customer_resolve(
        email=email,
        phone=phone,
        first_name=data.customer.first_name,
        last_name=data.customer.last_name,
    )
    address = address_locate(address)
    shipping_address = unsaved(Address, **{k: v for k, v in address.items() if k in ADDRESS_FIELDS})
    order = unsaved(
        Order,
        channel=channel,
        external_id=data.external_id,
        customer=customer,
        contact_email=email,
        contact_phone=phone,
        contact_first_name=data.customer.first_name,
        contact_last_name=data.customer.last_name,
        status=OrderStatus.RECEIVED,
        currency=currency,
        subtotal=subtotal,
        discount_total=line_discounts + data.order_discount,
        order_discount=data.order_discount,
        shipping_total=data.shipping_total,
        tax_total=data.tax_total,
        total=total,
        service_level=data.service_level,
        pickup_location=data.pickup_location.strip().upper(),
        language=data.language,
        payment_status=data.payment_status,
        requested_delivery_start=data.requested_delivery_start,
        requested_delivery_end=data.requested_delivery_end,
        placed_at=data.placed_at or timezone.now(),
    )
    if not insert_with_parent(shipping_address, order, "shipping_address"):
        # The channel sent this external_id before (or a concurrent request just did): the
        # exception rolls back the customer and address written with it.
        existing = Order.objects.filter(channel=channel, external_id=data.external_id).values_list(
            "id", flat=True
        )
        raise_duplicate_external_id(channel=channel, external_id=data.external_id, order_id=existing.first())
    lines = insert_rows(
        [
            unsaved(
                OrderLine,
                order=order,
                line_number=index + 1,
                product=products[sku],
                sku=sku,
                name=products[sku].name,
                quantity=line.quantity,
                unit_price=line.unit_price,
                discount=line.discount,
                total=_line_total(line.quantity, line.unit_price, line.discount),
            )
            for index, (sku, line) in enumerate(zip(skus, data.lines, strict=True))
        ]
    )
    order._prefetched_objects_cache = {"lines": lines}
    _history(
        order,
        actor,
        OrderEventKind.CREATED,
        to_status=OrderStatus.RECEIVED,
        # money as the currency writes it ("30.00 EUR", "3000 JPY"), not with the column's 3 decimals
        after={
            "lines": len(lines),
            "total": f"{total:.{currency_precision(currency) or 0}f}",
            "currency": currency,
        },
    )
    event_emit(
        name="order.received",
        aggregate_type="order",
        aggregate_id=order.pk,
        payload={"order_id": order.pk, "channel": channel.code, "external_id": order.external_id},
    )
    return order


ADDRESS_FIELDS = frozenset(
    [
        "coordinates_source",
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
        "latitude",
        "longitude",
    ]
)


def raise_duplicate_external_id(*, channel: Channel, external_id: str, order_id: int) -> None:
    raise Conflict(
        f"Channel '{channel.code}' already sent an order with external_id '{external_id}'.",
        code="duplicate_external_id",
        details={"existing_order_id": order_id, "external_id": external_id},
    )
