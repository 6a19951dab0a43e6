"""Every write to orders, customers, products, channels and API keys.

Each service runs in one transaction: it validates, locks what it changes, saves, and writes the
order's history row and the domain event together, so a failure leaves nothing half-written.
"""

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from oms.errors import Conflict, IllegalTransition, NotFound, ValidationFailed
from oms.events import event_emit
from oms.sql import insert_rows, select_rows
from orders.models import (
    EDITABLE_STATUSES,
    ORDER_TRANSITIONS,
    ActorType,
    Address,
    ApiKey,
    ApiScope,
    Channel,
    ChannelKind,
    Customer,
    HoldReason,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderLine,
    OrderStatus,
    PaymentStatus,
    Product,
    ServiceLevel,
)
from orders.validation import (
    Errors,
    address_clean,
    money_error,
    normalize_email,
    normalize_phone,
    normalize_sku,
)

# ---------------------------------------------------------------------------------------------- actors


@dataclass(frozen=True)
class Actor:
    """Who makes a change, recorded on every history row."""

    type: str
    label: str
    user: AbstractBaseUser | None = None

    @classmethod
    def for_user(cls, user: AbstractBaseUser) -> "Actor":
        return cls(type=ActorType.USER, label=user.get_username(), user=user)

    @classmethod
    def for_api_key(cls, key: ApiKey) -> "Actor":
        kind = ActorType.CHANNEL if key.channel_id else ActorType.INTEGRATION
        return cls(type=kind, label=f"{key.name} ({key.prefix}…)")

    @classmethod
    def system(cls, label: str = "oms") -> "Actor":
        return cls(type=ActorType.SYSTEM, label=label)


def _history(order: Order, actor: Actor, kind: str, **fields: Any) -> OrderEvent:
    event = OrderEvent(
        order=order,
        kind=kind,
        actor_type=actor.type,
        actor_user=actor.user if actor.user is not None and actor.user.pk else None,
        actor_label=actor.label[:120],
        **fields,
    )
    return insert_rows([event], deferrable=True)[0]


# ------------------------------------------------------------------------------- channels and API keys

KEY_PREFIX = "oms_"


def api_key_hash(raw_key: str) -> str:
    # Keys are 256 random bits, so a fast hash is safe: nobody can brute-force the pre-image.
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def channel_create(*, code: str, name: str, kind: str) -> Channel:
    code = code.strip().lower()
    if kind not in ChannelKind.values:
        raise ValidationFailed(
            "Unknown channel kind.", details={"kind": [f"Choose one of {', '.join(ChannelKind.values)}."]}
        )
    if Channel.objects.filter(code=code).exists():
        raise Conflict(f"A channel with code '{code}' already exists.", details={"code": code})
    return Channel.objects.create(code=code, name=name or code, kind=kind)


@transaction.atomic
def api_key_create(
    *, name: str, channel: Channel | None = None, scopes: Iterable[str] = ()
) -> tuple[ApiKey, str]:
    """Create a key and return it with its secret, which is never stored and cannot be shown again."""
    scopes = sorted(set(scopes) | ({ApiScope.ORDERS.value} if channel else set()))
    unknown = [s for s in scopes if s not in ApiScope.values]
    if unknown:
        raise ValidationFailed(
            "Unknown scope.",
            details={
                "scopes": [f"Unknown scope '{s}'; choose from {', '.join(ApiScope.values)}." for s in unknown]
            },
        )
    if not channel and not scopes:
        raise ValidationFailed(
            "An integration key needs at least one scope.", details={"scopes": ["Give at least one scope."]}
        )
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        name=name, prefix=raw[:10], key_hash=api_key_hash(raw), channel=channel, scopes=scopes
    )
    return key, raw


@transaction.atomic
def api_key_revoke(*, key_id: int) -> ApiKey:
    key = ApiKey.objects.select_for_update().filter(pk=key_id).first()
    if key is None:
        raise NotFound("No such API key.")
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    api_keys_forget(key_hashes=[key.key_hash])
    return key


def api_key_cache_key(key_hash: str) -> str:
    return f"apikey:{key_hash}"


def api_keys_forget(*, key_hashes: Iterable[str] = (), channel: Channel | None = None) -> None:
    """Drop cached API keys once the surrounding transaction commits (after a revoke, or a change of
    the channel they act for), so that every process sees the change on the next call."""
    hashes = list(key_hashes)
    if channel is not None:
        hashes += list(ApiKey.objects.filter(channel=channel).values_list("key_hash", flat=True))
    if hashes:
        names = [api_key_cache_key(h) for h in hashes]
        # Now, so this transaction's own reads miss the cache; and after commit, because another
        # process may have cached the old row in between.
        cache.delete_many(names)
        transaction.on_commit(lambda: cache.delete_many(names))


def api_key_touch(key: ApiKey) -> None:
    """Record that the key was used (coarse-grained: the caller decides how often)."""
    now = timezone.now()
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    key.last_used_at = now
    if settings.API_KEY_CACHE_SECONDS:
        cache.set(api_key_cache_key(key.key_hash), key, settings.API_KEY_CACHE_SECONDS)


# ------------------------------------------------------------------------------------------- products


@dataclass(frozen=True)
class ProductInput:
    sku: str
    name: str
    weight_grams: int | None = None
    length_mm: int | None = None
    width_mm: int | None = None
    height_mm: int | None = None
    is_active: bool = True


@transaction.atomic
def products_upsert(*, products: list[ProductInput]) -> dict[str, int]:
    """Create or update products by SKU in bulk (one statement each for reading, inserting, updating)."""
    by_sku: dict[str, ProductInput] = {}
    errors: Errors = {}
    for index, item in enumerate(products):
        sku = normalize_sku(item.sku)
        if not sku:
            errors[f"products.{index}.sku"] = ["This field may not be blank."]
        elif sku in by_sku:
            errors[f"products.{index}.sku"] = [f"SKU '{sku}' appears twice in this batch."]
        by_sku[sku] = item
    if errors:
        raise ValidationFailed("Some products are invalid; nothing was saved.", details=errors)
    existing = {p.sku: p for p in Product.objects.select_for_update().filter(sku__in=by_sku)}
    to_create, to_update = [], []
    fields = ["name", "weight_grams", "length_mm", "width_mm", "height_mm", "is_active"]
    now = timezone.now()
    for sku, item in by_sku.items():
        product = existing.get(sku) or Product(sku=sku)
        for name in fields:
            setattr(product, name, getattr(item, name))
        product.updated_at = now
        (to_update if product.pk else to_create).append(product)
    Product.objects.bulk_create(to_create)
    Product.objects.bulk_update(to_update, [*fields, "updated_at"])
    return {"created": len(to_create), "updated": len(to_update)}


# ------------------------------------------------------------------------------------------- customers


def customer_resolve(
    *, email: str | None, phone: str | None, first_name: str = "", last_name: str = ""
) -> Customer:
    """The one customer with this e-mail or phone, created if new (to be called inside a transaction).

    An e-mail match wins over a phone match; contact details the customer lacked are filled in when
    no one else holds them.
    """
    email, phone = normalize_email(email), phone or None
    if not email and not phone:
        raise ValidationFailed(
            "A customer needs an e-mail or a phone.", details={"customer": ["Give an e-mail or a phone."]}
        )
    matches = _customers_matching(email, phone)
    if not matches:
        created = _customer_insert(email=email, phone=phone, first_name=first_name, last_name=last_name)
        if created is not None:
            return created
        # Another transaction created the same person since we looked: use theirs.
        matches = _customers_matching(email, phone)
    customer = next((c for c in matches if email and c.email == email), matches[0])
    changed = []
    if email and not customer.email and not any(c.email == email for c in matches):
        customer.email = email
        changed.append("email")
    if phone and not customer.phone and not any(c.phone == phone for c in matches):
        customer.phone = phone
        changed.append("phone")
    if first_name and not customer.first_name:
        customer.first_name, customer.last_name = first_name, last_name
        changed += ["first_name", "last_name"]
    if changed:
        customer.save(update_fields=[*changed, "updated_at"])
    return customer


CUSTOMER_FIELDS = ("id", "email", "phone", "first_name", "last_name", "created_at", "updated_at")


def _customers_matching(email: str | None, phone: str | None) -> list[Customer]:
    # At most two: one holding the e-mail and another holding the phone (both are unique).
    if email and phone:
        return select_rows(Customer, CUSTOMER_FIELDS, "email = %s OR phone = %s", [email, phone])
    if email:
        return select_rows(Customer, CUSTOMER_FIELDS, "email = %s", [email])
    return select_rows(Customer, CUSTOMER_FIELDS, "phone = %s", [phone])


def _customer_insert(
    *, email: str | None, phone: str | None, first_name: str, last_name: str
) -> Customer | None:
    """Insert a customer unless a concurrent transaction holds the e-mail or phone; one round trip.

    ``ON CONFLICT DO NOTHING ... RETURNING`` is what the ORM cannot say in one statement (PostgreSQL,
    and SQLite 3.35+); a conflict returns no row instead of aborting the transaction.
    """
    now = timezone.now()
    table = connection.ops.quote_name(Customer._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (email, phone, first_name, last_name, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
            [email, phone, first_name, last_name, now, now],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return Customer(
        id=row[0],
        email=email,
        phone=phone,
        first_name=first_name,
        last_name=last_name,
        created_at=now,
        updated_at=now,
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
    errors: Errors = dict(data.extra_errors)
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
        if line.discount > line.quantity * line.unit_price:
            errors.setdefault(f"lines.{index}.discount", []).append(
                "The discount is larger than the line's price."
            )
        subtotal += line.quantity * line.unit_price
        line_discounts += line.discount
    if len(set(skus)) != len(skus):
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
    if total < 0 and "order_discount" not in errors:
        errors["order_discount"] = ["The discounts are larger than the order's value."]
    if errors:
        raise ValidationFailed("The order is invalid; nothing was saved.", details=errors)

    customer = customer_resolve(
        email=data.customer.email,
        phone=phone,
        first_name=data.customer.first_name,
        last_name=data.customer.last_name,
    )
    shipping_address = insert_rows([Address(**{k: v for k, v in address.items() if k in ADDRESS_FIELDS})])[0]
    order = Order(
        channel=channel,
        external_id=data.external_id,
        customer=customer,
        shipping_address=shipping_address,
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
        payment_status=data.payment_status,
        requested_delivery_start=data.requested_delivery_start,
        requested_delivery_end=data.requested_delivery_end,
        placed_at=data.placed_at or timezone.now(),
    )
    if not insert_rows([order], skip_conflicts=True):
        # The channel sent this external_id before (or a concurrent request just did): the
        # exception rolls back the customer and address written above.
        existing = Order.objects.filter(channel=channel, external_id=data.external_id).values_list(
            "id", flat=True
        )
        raise_duplicate_external_id(channel=channel, external_id=data.external_id, order_id=existing.first())
    lines = insert_rows(
        [
            OrderLine(
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
        after={"lines": len(lines), "total": str(total), "currency": currency},
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


def _locked_order(order_id: int, channel: Channel | None = None) -> Order:
    query = Order.objects.select_for_update(of=("self",)).select_related("channel")
    if channel is not None:
        query = query.filter(channel=channel)
    order = query.filter(pk=order_id).first()
    if order is None:
        raise NotFound(f"Order {order_id} does not exist.")
    return order


def order_lock(order_id: int) -> Order:
    """Lock an order row for the caller's transaction; other apps lock the order before their own rows."""
    return _locked_order(order_id)


def _transition(
    order: Order, *, to_status: str, actor: Actor, hold_reason: str = "", note: str = ""
) -> Order:
    from_status = order.status
    if to_status not in ORDER_TRANSITIONS.get(from_status, frozenset()):
        raise IllegalTransition(
            f"Order {order.number} cannot go from {OrderStatus(from_status).label.lower()} "
            f"to {OrderStatus(to_status).label.lower()}.",
            details={"from_status": from_status, "to_status": to_status},
        )
    order.status = to_status
    order.hold_reason = hold_reason if to_status == OrderStatus.ON_HOLD else ""
    order.save(update_fields=["status", "hold_reason", "updated_at"])
    _history(
        order,
        actor,
        OrderEventKind.STATUS_CHANGED,
        from_status=from_status,
        to_status=to_status,
        after={"hold_reason": order.hold_reason} if order.hold_reason else None,
        note=note,
    )
    event_emit(
        name=f"order.{to_status}",
        aggregate_type="order",
        aggregate_id=order.pk,
        payload={
            "order_id": order.pk,
            "from_status": from_status,
            "to_status": to_status,
            "hold_reason": order.hold_reason,
        },
    )
    return order


def order_transition(
    *,
    order_id: int,
    to_status: str,
    actor: Actor,
    note: str = "",
    channel: Channel | None = None,
    locked: Order | None = None,
) -> Order:
    """Move an order along the declared status table (routing, fulfilment and tracking call this).

    ``locked``: the order as the caller already locked it in this transaction (saves a second lock).
    """
    if to_status in (OrderStatus.ON_HOLD, OrderStatus.CANCELLED):
        raise ValueError("Use order_hold or order_cancel: they record a reason.")
    # Inside a caller's transaction that already holds the order, no savepoint is needed: a failure
    # here fails the caller's whole operation anyway.
    with transaction.atomic(savepoint=locked is None):
        order = locked if locked is not None and locked.pk == order_id else _locked_order(order_id, channel)
        return _transition(order, to_status=to_status, actor=actor, note=note)


@transaction.atomic
def order_cancel(*, order_id: int, actor: Actor, reason: str = "", channel: Channel | None = None) -> Order:
    """Cancel an order that has not shipped; every open unit of every line becomes cancelled."""
    order = _locked_order(order_id, channel)
    _transition(order, to_status=OrderStatus.CANCELLED, actor=actor, note=reason)
    lines = list(order.lines.select_for_update())
    for line in lines:
        line.qty_cancelled = line.quantity - line.qty_shipped
    OrderLine.objects.bulk_update(lines, ["qty_cancelled"])
    return order


@transaction.atomic
def order_hold(
    *, order_id: int, reason: str, actor: Actor, note: str = "", channel: Channel | None = None
) -> Order:
    if reason not in HoldReason.values:
        raise ValidationFailed(
            "Unknown hold reason.", details={"reason": [f"Choose one of {', '.join(HoldReason.values)}."]}
        )
    if reason == HoldReason.MANUAL and not note.strip():
        raise ValidationFailed(
            "Say why the order is held.", details={"note": ["A manual hold needs a note."]}
        )
    return _transition(
        _locked_order(order_id, channel),
        to_status=OrderStatus.ON_HOLD,
        actor=actor,
        hold_reason=reason,
        note=note,
    )


@transaction.atomic
def order_release_hold(
    *, order_id: int, actor: Actor, note: str = "", channel: Channel | None = None
) -> Order:
    """Release a hold: the order goes back to received, so routing takes it up again."""
    return _transition(
        _locked_order(order_id, channel), to_status=OrderStatus.RECEIVED, actor=actor, note=note
    )


def _address_snapshot(address: Address) -> dict[str, Any]:
    return {
        name: (str(value) if value is not None else None)
        for name in sorted(ADDRESS_FIELDS)
        if (value := getattr(address, name)) not in ("", None)
    }


@transaction.atomic
def order_update(
    *,
    order_id: int,
    actor: Actor,
    shipping_address: Mapping[str, Any] | None = None,
    line_quantities: Mapping[int, int] | None = None,
    channel: Channel | None = None,
) -> Order:
    """Change the shipping address and / or line quantities of an order not yet in fulfilment.

    Each change is recorded with its before and after. Totals are recomputed; a line's discount
    shrinks in proportion to its quantity.
    """
    order = _locked_order(order_id, channel)
    if order.status not in EDITABLE_STATUSES:
        raise Conflict(
            f"Order {order.number} can no longer be edited: it is {OrderStatus(order.status).label.lower()}.",
            code="order_not_editable",
            details={"status": order.status},
        )
    errors: Errors = {}
    new_address = None
    if shipping_address is not None:
        new_address, errors = address_clean(dict(shipping_address), prefix="shipping_address.")
    lines = {line.line_number: line for line in order.lines.select_for_update()}
    changed_lines = []
    for line_number, quantity in (line_quantities or {}).items():
        line = lines.get(line_number)
        path = f"lines.{line_number}.quantity"
        if line is None:
            errors[f"lines.{line_number}"] = [f"Order {order.number} has no line {line_number}."]
        elif quantity < 0:
            errors[path] = ["Must be zero or more."]
        elif quantity < line.qty_allocated:
            errors[path] = [
                f"{line.qty_allocated} units are already allocated; release them before going lower."
            ]
        elif quantity != line.quantity:
            changed_lines.append((line, quantity))
    if (
        lines
        and changed_lines
        and all(
            (dict((ln.line_number, q) for ln, q in changed_lines).get(n, ln.quantity)) == 0
            for n, ln in lines.items()
        )
    ):
        errors["lines"] = ["An order needs at least one unit; cancel it instead."]
    if errors:
        raise ValidationFailed("The change is invalid; nothing was saved.", details=errors)

    if new_address is not None:
        before = _address_snapshot(order.shipping_address)
        order.shipping_address = Address.objects.create(
            **{k: v for k, v in new_address.items() if k in ADDRESS_FIELDS}
        )
        after = _address_snapshot(order.shipping_address)
        if before != after:
            _history(order, actor, OrderEventKind.ADDRESS_CHANGED, before=before, after=after)
    for line, quantity in changed_lines:
        before = {
            "line_number": line.line_number,
            "sku": line.sku,
            "quantity": line.quantity,
            "discount": str(line.discount),
        }
        if line.quantity:
            line.discount = (line.discount * quantity / line.quantity).quantize(
                line.discount, rounding=ROUND_HALF_UP
            )
        line.quantity = quantity
        line.total = _line_total(quantity, line.unit_price, line.discount)
        _history(
            order,
            actor,
            OrderEventKind.LINE_CHANGED,
            before=before,
            after={
                "line_number": line.line_number,
                "sku": line.sku,
                "quantity": quantity,
                "discount": str(line.discount),
            },
        )
    if changed_lines:
        OrderLine.objects.bulk_update([line for line, _ in changed_lines], ["quantity", "discount", "total"])
        all_lines = lines.values()
        order.subtotal = sum((ln.quantity * ln.unit_price for ln in all_lines), Decimal(0))
        line_discounts = sum((ln.discount for ln in all_lines), Decimal(0))
        order.discount_total = line_discounts + order.order_discount
        order.total = max(
            order.subtotal - order.discount_total + order.shipping_total + order.tax_total, Decimal(0)
        )
    order.save(update_fields=["shipping_address", "subtotal", "discount_total", "total", "updated_at"])
    if new_address is not None or changed_lines:
        event_emit(
            name="order.edited",
            aggregate_type="order",
            aggregate_id=order.pk,
            payload={
                "order_id": order.pk,
                "address_changed": new_address is not None,
                "lines": {ln.line_number: q for ln, q in changed_lines},
            },
        )
    return order


PROGRESS_STAGES = ("qty_allocated", "qty_picked", "qty_shipped", "qty_delivered", "qty_returned")


def order_lines_record_progress(
    *,
    order_id: int,
    quantities: Mapping[int, Mapping[str, int]],
    locked: Order | None = None,
    locked_lines: list[OrderLine] | None = None,
) -> list[OrderLine]:
    with transaction.atomic(savepoint=locked is None):
        return _order_lines_record_progress(
            order_id=order_id, quantities=quantities, locked=locked, locked_lines=locked_lines
        )


def _order_lines_record_progress(
    *,
    order_id: int,
    quantities: Mapping[int, Mapping[str, int]],
    locked: Order | None,
    locked_lines: list[OrderLine] | None,
) -> list[OrderLine]:
    """Set lines' cumulative progress counters, as stock, fulfilment and tracking record them.

    ``quantities`` maps a line number to new values of ``PROGRESS_STAGES`` fields. A counter never
    exceeds the open quantity, and each stage never exceeds the one before it (a unit is picked only
    after it was allocated, shipped only after it was picked, and so on). ``locked`` and
    ``locked_lines``: the order and its lines as the caller already locked them in this transaction
    (they are updated in place).
    """
    if locked is None or locked.pk != order_id:
        _locked_order(order_id)
    if locked_lines is not None and all(line.order_id == order_id for line in locked_lines):
        lines = {line.line_number: line for line in locked_lines}
    else:
        lines = {
            line.line_number: line for line in OrderLine.objects.select_for_update().filter(order_id=order_id)
        }
    errors: Errors = {}
    for line_number, values in quantities.items():
        line = lines.get(line_number)
        if line is None:
            errors[f"lines.{line_number}"] = ["No such line."]
            continue
        unknown = set(values) - set(PROGRESS_STAGES)
        if unknown:
            errors[f"lines.{line_number}"] = [f"Unknown counter {', '.join(sorted(unknown))}."]
            continue
        for name, value in values.items():
            setattr(line, name, value)
        ceiling = line.quantity
        for name in PROGRESS_STAGES[:4]:
            value = getattr(line, name)
            if not 0 <= value <= ceiling:
                errors[f"lines.{line_number}.{name}"] = [f"Must be between 0 and {ceiling}."]
            ceiling = value
        if not 0 <= line.qty_returned <= line.qty_shipped:
            errors[f"lines.{line_number}.qty_returned"] = [f"Must be between 0 and {line.qty_shipped}."]
    if errors:
        raise ValidationFailed("The line progress is inconsistent; nothing was saved.", details=errors)
    changed = [lines[n] for n in quantities]
    OrderLine.objects.bulk_update(changed, list(PROGRESS_STAGES))
    return changed


@transaction.atomic
def order_note_add(*, order_id: int, actor: Actor, note: str) -> OrderEvent:
    if not note.strip():
        raise ValidationFailed("The note is empty.", details={"note": ["Write something."]})
    order = _locked_order(order_id)
    return _history(order, actor, OrderEventKind.NOTE, note=note.strip())
