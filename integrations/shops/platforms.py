"""What each shop platform sends, read into our terms: its webhook signature checked over the raw
body, its topic, and its order as the body of our own ``POST /api/v1/orders/``, so that a shop's
order passes exactly the checks a channel's does. Pure functions: no database, no network.

Shopify signs with the app's client secret: ``X-Shopify-Hmac-Sha256`` is the base64 HMAC-SHA256 of
the raw body; ``X-Shopify-Webhook-Id`` is the same on every retry. WooCommerce signs with each
webhook's secret: ``X-WC-Webhook-Signature`` is the base64 HMAC-SHA256 of the raw body;
``X-WC-Webhook-Delivery-ID`` names the delivery. Neither signs a time, so a replayed call cannot be
told by its age: it is told by its id (a replay is a duplicate, acknowledged and not applied twice)."""

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from orders.validation import currency_precision, normalize_phone

CREATE, UPDATE, CANCEL = "create", "update", "cancel"

SHOPIFY_TOPICS = {"orders/create": CREATE, "orders/updated": UPDATE, "orders/cancelled": CANCEL}
WOO_TOPICS = {"order.created": CREATE, "order.updated": UPDATE, "order.deleted": CANCEL}

SHOPIFY_PAYMENT = {
    "pending": "pending",
    "authorized": "authorized",
    "partially_paid": "pending",
    "paid": "paid",
    "partially_refunded": "partially_refunded",
    "refunded": "refunded",
    "voided": "failed",
    "expired": "failed",
}
WOO_PAYMENT = {"pending": "pending", "on-hold": "pending", "failed": "failed", "refunded": "refunded"}


class Rejected(Exception):
    """A call that is not the shop's: nothing of it is stored."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.message, self.code = message, code


@dataclass(frozen=True)
class Call:
    webhook_id: str
    topic: str
    action: str  # CREATE, UPDATE, CANCEL, or "" for a topic we do not act on
    ping: bool = False  # WooCommerce's test call when a webhook is saved: answered, not stored


@dataclass
class ShopOrder:
    """A shop's order in our terms: ``body`` is what ``POST /api/v1/orders/`` takes."""

    external_id: str
    body: dict
    platform_id: str = ""  # the order's id on the platform, for its API
    line_refs: list[str] = field(default_factory=list)  # the shop's line item id of each of body's lines
    changed_at: datetime | None = None  # the shop's time of this version of the order
    cancelled: bool = False
    cancel_reason: str = ""
    notes: list[str] = field(default_factory=list)


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _signed(secret: str, body: bytes, offered: str) -> bool:
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return bool(offered) and hmac.compare_digest(expected, offered.strip())


def _id_of(value: str | None, body: bytes) -> str:
    value = (value or "").strip()
    if value and len(value) <= 100 and value.isprintable():
        return value
    return "sha256:" + hashlib.sha256(body).hexdigest()


def verify(platform: str, secret: str, headers: Mapping[str, str], body: bytes) -> Call:
    """The call's id and topic, or ``Rejected`` when it is unsigned or signed with another secret."""
    lower = _lower(headers)
    if platform == "shopify":
        if not _signed(secret, body, lower.get("x-shopify-hmac-sha256", "")):
            raise Rejected(
                "The X-Shopify-Hmac-Sha256 signature does not match the body.", code="bad_signature"
            )
        topic = lower.get("x-shopify-topic", "")
        return Call(_id_of(lower.get("x-shopify-webhook-id"), body), topic, SHOPIFY_TOPICS.get(topic, ""))
    signature = lower.get("x-wc-webhook-signature", "")
    if not signature and re.fullmatch(rb"webhook_id=\d{1,20}", body.strip()):
        return Call("", "ping", "", ping=True)
    if not _signed(secret, body, signature):
        raise Rejected("The X-WC-Webhook-Signature does not match the body.", code="bad_signature")
    topic = lower.get("x-wc-webhook-topic", "")
    return Call(_id_of(lower.get("x-wc-webhook-delivery-id"), body), topic, WOO_TOPICS.get(topic, ""))


def _money(value: object) -> Decimal:
    try:
        amount = Decimal(str(value if value not in (None, "") else "0"))
    except InvalidOperation as exc:
        raise ValueError(f"'{value}' is not an amount") from exc
    if not amount.is_finite():
        raise ValueError(f"'{value}' is not an amount")
    return amount


def _text(value: object, limit: int) -> str:
    """A platform's value as text we can store: NUL characters, which no database column takes, are
    dropped (a shop lets its customers type anything)."""
    return str(value).replace("\x00", "").strip()[:limit] if value not in (None, "") else ""


def _phone(raw: object, country: str, notes: list[str]) -> str | None:
    """A usable phone or none: a shop lets customers type anything ("555-555-SHIP"), and an order is
    not refused for it."""
    text = _text(raw, 32)
    if not text:
        return None
    try:
        return normalize_phone(text, default_country=country or None)
    except ValueError:
        notes.append(f"The phone '{text}' is not a number we can use: left out.")
        return None


def _settle(body: dict, shop_total: Decimal, places: int, notes: list[str]) -> None:
    """Our total is the sum of the parts we keep; what the shop took off beyond the lines' own
    discounts (an order-wide code, a shipping discount) becomes the order discount, so the totals
    agree. A shop total above ours (tips, duties, fees) cannot be an order line: it is noted."""
    ours = (
        sum(
            (Decimal(line["quantity"]) * _money(line["unit_price"]) - _money(line["discount"]))
            for line in body["lines"]
        )
        + _money(body["shipping_total"])
        + _money(body["tax_total"])
    )
    difference = ours - shop_total
    quantum = Decimal(1).scaleb(-places)
    if difference > 0:
        body["order_discount"] = str(difference.quantize(quantum))
    elif difference < 0:
        notes.append(
            f"The shop's total is {shop_total}, the lines, shipping and tax make {ours}: "
            f"{-difference} (tips, duties or fees) is not kept as an order line."
        )


def _country_places(currency: str) -> int:
    return currency_precision(currency) or 2


def read_shopify(payload: dict, map_sku: Callable[[str], str]) -> ShopOrder:
    """A Shopify order (the body of orders/create, orders/updated, orders/cancelled)."""
    notes: list[str] = []
    address = payload.get("shipping_address") or {}
    customer = payload.get("customer") or {}
    country = _text(address.get("country_code"), 2).upper()
    currency = _text(payload.get("currency"), 3).upper()
    lines, refs = [], []
    for item in payload.get("line_items") or []:
        title = _text(item.get("title") or item.get("name"), 80)
        if item.get("requires_shipping") is False:
            notes.append(f"'{title}' needs no shipping: left out.")
            continue
        quantity = int(item.get("current_quantity", item.get("quantity")) or 0)
        if quantity <= 0:
            continue
        key = _text(item.get("sku"), 100) or f"variant:{item.get('variant_id')}"
        allocations = item.get("discount_allocations")
        discount = (
            sum((_money(a.get("amount")) for a in allocations), Decimal(0))
            if isinstance(allocations, list) and allocations
            else _money(item.get("total_discount"))
        )
        lines.append(
            {
                "sku": map_sku(key),
                "quantity": quantity,
                "unit_price": str(_money(item.get("price"))),
                "discount": str(discount),
            }
        )
        refs.append(_text(item.get("id"), 40))
    shipping = sum(
        (_money(s.get("discounted_price", s.get("price"))) for s in payload.get("shipping_lines") or []),
        Decimal(0),
    )
    tax = Decimal(0) if payload.get("taxes_included") else _money(payload.get("total_tax"))
    name = _text(address.get("name"), 160) or " ".join(
        x for x in (_text(address.get("first_name"), 80), _text(address.get("last_name"), 80)) if x
    )
    locale = _text(payload.get("customer_locale"), 10)[:2].lower()
    external_id = _text(payload.get("name"), 100) or _text(payload.get("id"), 100)
    body = {
        "external_id": external_id,
        "customer": {
            "email": _text(payload.get("email") or payload.get("contact_email") or customer.get("email"), 254)
            or None,
            "phone": _phone(
                payload.get("phone") or customer.get("phone") or address.get("phone"), country, notes
            ),
            "first_name": _text(customer.get("first_name") or address.get("first_name"), 80),
            "last_name": _text(customer.get("last_name") or address.get("last_name"), 80),
        },
        "shipping_address": {
            "name": name,
            "company": _text(address.get("company"), 160),
            "line1": _text(address.get("address1"), 200),
            "line2": _text(address.get("address2"), 200),
            "city": _text(address.get("city"), 120),
            "region": _text(address.get("province_code"), 120),
            "postal_code": _text(address.get("zip"), 20),
            "country": country,
            "phone": _phone(address.get("phone"), country, []) or "",
        },
        "lines": lines,
        "currency": currency,
        "payment_status": SHOPIFY_PAYMENT.get(_text(payload.get("financial_status"), 30), "pending"),
        "placed_at": payload.get("processed_at") or payload.get("created_at"),
        "language": locale if re.fullmatch(r"[a-z]{2}", locale) else "",
        "shipping_total": str(shipping),
        "tax_total": str(tax),
        "order_discount": "0",
    }
    _settle(body, _money(payload.get("total_price")), _country_places(currency), notes)
    return ShopOrder(
        external_id=external_id,
        body=body,
        platform_id=_text(payload.get("id"), 40),
        line_refs=refs,
        changed_at=moment(payload.get("updated_at")),
        cancelled=bool(payload.get("cancelled_at")),
        cancel_reason=_text(payload.get("cancel_reason"), 100),
        notes=notes,
    )


def moment(value: object) -> datetime | None:
    """A platform's timestamp, or None when it has none we can read (then order cannot be told)."""
    try:
        moment = datetime.fromisoformat(_text(value, 40).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _woo_time(value: object) -> str | None:
    """WooCommerce's ``date_created_gmt`` has no zone: it is UTC."""
    text = _text(value, 40)
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def read_woocommerce(payload: dict, map_sku: Callable[[str], str]) -> ShopOrder:
    """A WooCommerce order (the body of order.created and order.updated)."""
    notes: list[str] = []
    shipping = payload.get("shipping") or {}
    billing = payload.get("billing") or {}
    address = shipping if _text(shipping.get("address_1"), 200) else billing
    country = _text(address.get("country"), 2).upper()
    currency = _text(payload.get("currency"), 3).upper()
    quantum = Decimal(1).scaleb(-_country_places(currency))
    lines, refs = [], []
    for item in payload.get("line_items") or []:
        quantity = int(item.get("quantity") or 0)
        if quantity <= 0:
            continue
        variation = item.get("variation_id") or 0
        key = _text(item.get("sku"), 100) or (
            f"variation:{variation}" if variation else f"product:{item.get('product_id')}"
        )
        # line amounts are before tax whatever the shop shows: subtotal before coupons, total after
        subtotal, total = _money(item.get("subtotal")), _money(item.get("total"))
        unit_price = (subtotal / quantity).quantize(quantum, rounding=ROUND_HALF_UP)
        discount = max(unit_price * quantity - total, Decimal(0))
        lines.append(
            {
                "sku": map_sku(key),
                "quantity": quantity,
                "unit_price": str(unit_price),
                "discount": str(discount),
            }
        )
        refs.append(_text(item.get("id"), 40))
    status = _text(payload.get("status"), 30)
    external_id = _text(payload.get("number"), 100) or _text(payload.get("id"), 100)
    body = {
        "external_id": external_id,
        "customer": {
            "email": _text(billing.get("email"), 254) or None,
            "phone": _phone(billing.get("phone") or shipping.get("phone"), country, notes),
            "first_name": _text(billing.get("first_name") or address.get("first_name"), 80),
            "last_name": _text(billing.get("last_name") or address.get("last_name"), 80),
        },
        "shipping_address": {
            "name": " ".join(
                x for x in (_text(address.get("first_name"), 80), _text(address.get("last_name"), 80)) if x
            ),
            "company": _text(address.get("company"), 160),
            "line1": _text(address.get("address_1"), 200),
            "line2": _text(address.get("address_2"), 200),
            "city": _text(address.get("city"), 120),
            "region": _text(address.get("state"), 120),
            "postal_code": _text(address.get("postcode"), 20),
            "country": country,
            "phone": _phone(shipping.get("phone"), country, []) or "",
        },
        "lines": lines,
        "currency": currency,
        "payment_status": "paid"
        if payload.get("date_paid_gmt") or payload.get("date_paid")
        else WOO_PAYMENT.get(status, "pending"),
        "placed_at": _woo_time(payload.get("date_created_gmt")),
        "shipping_total": str(_money(payload.get("shipping_total"))),
        "tax_total": str(_money(payload.get("total_tax"))),
        "order_discount": "0",
    }
    if status == "refunded":
        body["payment_status"] = "refunded"
    _settle(body, _money(payload.get("total")), _country_places(currency), notes)
    return ShopOrder(
        external_id=external_id,
        body=body,
        platform_id=_text(payload.get("id"), 40),
        line_refs=refs,
        changed_at=moment(_woo_time(payload.get("date_modified_gmt"))),
        cancelled=status in ("cancelled", "trash"),
        cancel_reason="cancelled in the shop" if status in ("cancelled", "trash") else "",
        notes=notes,
    )


READERS: dict[str, Callable[[dict, Callable[[str], str]], ShopOrder]] = {
    "shopify": read_shopify,
    "woocommerce": read_woocommerce,
}


def order_reference(platform: str, payload: dict) -> str:
    """The shop's order number in a body that may hold little else (a WooCommerce deletion)."""
    if platform == "shopify":
        return _text(payload.get("name"), 100) or _text(payload.get("id"), 100)
    return _text(payload.get("number"), 100) or _text(payload.get("id"), 100)
