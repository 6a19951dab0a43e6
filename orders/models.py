"""Channels and their API keys, customers, addresses, products, orders, order lines and order history.

Tables and constraints only: every write goes through ``orders.services``.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper


class ChannelKind(models.TextChoices):
    WEB = "web", "Web shop"  # the merchant's own online store
    MARKETPLACE = "marketplace", "Marketplace"  # a third-party marketplace selling on our behalf
    STORE = "store", "Store"  # a physical store's point of sale
    APP = "app", "Mobile app"  # the merchant's mobile application


class Channel(models.Model):
    code = models.SlugField(max_length=40, unique=True, help_text="Short stable code, e.g. web-eu.")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    is_active = models.BooleanField(default=True)
    min_shelf_life_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Lot-tracked goods sold here must keep at least this many days before expiry.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class ApiScope(models.TextChoices):
    ORDERS = "orders", "Orders"  # create, read and edit the channel's own orders
    CATALOG = "catalog", "Catalog"  # upsert products
    INVENTORY = "inventory", "Inventory"  # stock receipts, adjustments and counts
    CREDITS = "credits", "Credits"  # read the returns' credits, to pay them out (payment / ERP)
    WEBHOOKS = "webhooks", "Webhooks"  # register and manage the key's own webhook endpoints
    EXPORTS = "exports", "ERP exports"  # read and acknowledge the invoices, credits and valuation feeds


class ApiKey(models.Model):
    """A bearer key. Only its SHA-256 is stored: the key itself is shown once, at creation.

    A channel key (``channel`` set) acts for that channel and sees only its orders; an integration
    key (no channel) acts for an ERP / WMS with its scopes.
    """

    name = models.CharField(max_length=120)
    prefix = models.CharField(max_length=12, help_text="First characters of the key, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True)
    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.PROTECT, related_name="api_keys"
    )
    scopes = models.JSONField(default=list)
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Calls a minute this key may make; blank: the default (API_RATE_LIMIT_PER_MINUTE); "
        "0: no limit.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def delete(self, *args, **kwargs):
        raise RuntimeError("API keys are revoked (orders.services.api_key_revoke), never deleted.")


class Customer(models.Model):
    """One person, whatever channel they order from: deduplicated on e-mail and on E.164 phone."""

    email = models.EmailField(max_length=254, null=True, blank=True, help_text="Stored lower-case.")
    phone = models.CharField(max_length=20, null=True, blank=True, help_text="E.164, e.g. +302101234567.")
    first_name = models.CharField(max_length=80, blank=True)
    last_name = models.CharField(max_length=80, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["email"], condition=Q(email__isnull=False), name="customer_email_unique"
            ),
            models.UniqueConstraint(
                fields=["phone"], condition=Q(phone__isnull=False), name="customer_phone_unique"
            ),
            models.CheckConstraint(
                condition=Q(email__isnull=False) | Q(phone__isnull=False), name="customer_has_contact"
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email or self.phone or f"customer {self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Address(models.Model):
    """A postal address as validated at capture; orders keep their own copy, so edits leave history."""

    name = models.CharField(max_length=160)
    company = models.CharField(max_length=160, blank=True)
    line1 = models.CharField(max_length=200)
    line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=120, blank=True)
    city_area = models.CharField(max_length=120, blank=True)
    region = models.CharField(max_length=120, blank=True, help_text="State, province or county where used.")
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2.")
    phone = models.CharField(max_length=20, blank=True)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    coordinates_source = models.CharField(
        max_length=8,
        blank=True,
        choices=[("channel", "Sent by the channel"), ("city", "Centre of the city (estimated)")],
        help_text="Where latitude and longitude come from; empty when there are none.",
    )

    class Meta:
        verbose_name_plural = "addresses"
        constraints = [
            models.CheckConstraint(
                condition=(Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90))
                & (Q(longitude__isnull=True) | Q(longitude__gte=-180, longitude__lte=180)),
                name="address_coordinates_in_range",
            )
        ]

    def __str__(self) -> str:
        return ", ".join(p for p in [self.name, self.line1, self.postal_code, self.city, self.country] if p)

    @property
    def latitude_as_sent(self) -> Decimal | None:
        """The coordinates a channel is shown: its own, never the OMS's estimate."""
        return self.latitude if self.coordinates_source != "city" else None

    @property
    def longitude_as_sent(self) -> Decimal | None:
        return self.longitude if self.coordinates_source != "city" else None

    def as_lines(self) -> list[str]:
        lines = [self.name, self.company, self.line1, self.line2]
        lines.append(" ".join(p for p in [self.postal_code, self.city] if p))
        lines.append(" ".join(p for p in [self.region, self.country] if p))
        return [line for line in lines if line]


class Product(models.Model):
    sku = models.CharField(max_length=64, unique=True, help_text="Trimmed and upper-case.")
    name = models.CharField(max_length=200)
    weight_grams = models.PositiveIntegerField(null=True, blank=True)
    length_mm = models.PositiveIntegerField(null=True, blank=True)
    width_mm = models.PositiveIntegerField(null=True, blank=True)
    height_mm = models.PositiveIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    lot_tracked = models.BooleanField(
        default=False, help_text="Stock is kept in lots with expiry dates (FEFO)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku"]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class OrderStatus(models.TextChoices):
    RECEIVED = "received", "Received"  # captured and validated, waiting for routing
    ON_HOLD = "on_hold", "On hold"  # stopped for a reason (see hold_reason) until someone releases it
    ALLOCATED = "allocated", "Allocated"  # every open line has stock reserved
    PARTIALLY_ALLOCATED = "partially_allocated", "Partially allocated"  # some lines or units reserved
    BACKORDERED = "backordered", "Backordered"  # nothing could be reserved yet; waits for stock
    IN_FULFILLMENT = "in_fulfillment", "In fulfilment"  # a warehouse is picking / packing it
    PARTIALLY_SHIPPED = "partially_shipped", "Partially shipped"  # some packages left the warehouse
    SHIPPED = "shipped", "Shipped"  # every open unit has left the warehouse
    DELIVERED = "delivered", "Delivered"  # every shipment reached the customer
    PARTIALLY_RETURNED = "partially_returned", "Partially returned"  # some units came back
    RETURNED = "returned", "Returned"  # every delivered unit came back
    CANCELLED = "cancelled", "Cancelled"  # stopped before shipping; nothing more will happen


class HoldReason(models.TextChoices):
    INVALID_ADDRESS = "invalid_address", "Invalid address"  # the carrier or ops doubt the address
    PAYMENT_PENDING = "payment_pending", "Payment pending"  # not paid or authorised yet
    UNROUTABLE = "unroutable", "Unroutable"  # no warehouse can serve it under the rules
    FRAUD_REVIEW = "fraud_review", "Fraud review"  # waiting for a fraud check
    SLA_BREACH = "sla_breach", "SLA breach"  # the promise can no longer be kept; someone must decide
    MANUAL = "manual", "Manual"  # ops stopped it for another reason (see the note)


class ServiceLevel(models.TextChoices):
    STANDARD = "standard", "Standard"  # ground delivery in the usual time
    EXPRESS = "express", "Express"  # next day where possible
    SAME_DAY = "same_day", "Same day"  # delivered on the day of the order
    PICKUP = "pickup", "Pick-up in store"  # the customer collects it from a store


class PaymentStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # no payment yet
    AUTHORIZED = "authorized", "Authorised"  # funds held, not captured
    PAID = "paid", "Paid"  # captured
    PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"  # part of the capture given back
    REFUNDED = "refunded", "Refunded"  # all of it given back
    FAILED = "failed", "Failed"  # the payment was declined


# Every status an order may move to from each status. The transition service refuses anything else.
ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    OrderStatus.RECEIVED: frozenset(
        {
            OrderStatus.ALLOCATED,
            OrderStatus.PARTIALLY_ALLOCATED,
            OrderStatus.BACKORDERED,
            OrderStatus.ON_HOLD,
            OrderStatus.CANCELLED,
        }
    ),
    # Released, a hold goes back to routing, or back to shipping what is left when some units had
    # shipped; cancelling what a part-shipped order has left makes it shipped.
    OrderStatus.ON_HOLD: frozenset(
        {OrderStatus.RECEIVED, OrderStatus.CANCELLED, OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED}
    ),
    OrderStatus.ALLOCATED: frozenset(
        {
            OrderStatus.IN_FULFILLMENT,
            OrderStatus.PARTIALLY_ALLOCATED,
            OrderStatus.BACKORDERED,
            OrderStatus.ON_HOLD,
            OrderStatus.CANCELLED,
        }
    ),
    OrderStatus.PARTIALLY_ALLOCATED: frozenset(
        {
            OrderStatus.ALLOCATED,
            OrderStatus.BACKORDERED,
            OrderStatus.IN_FULFILLMENT,
            OrderStatus.ON_HOLD,
            OrderStatus.CANCELLED,
        }
    ),
    OrderStatus.BACKORDERED: frozenset(
        {OrderStatus.ALLOCATED, OrderStatus.PARTIALLY_ALLOCATED, OrderStatus.ON_HOLD, OrderStatus.CANCELLED}
    ),
    OrderStatus.IN_FULFILLMENT: frozenset(
        {OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED, OrderStatus.CANCELLED}
    ),
    # Ops may hold what has not shipped yet, or cancel it (then the order is shipped).
    OrderStatus.PARTIALLY_SHIPPED: frozenset({OrderStatus.SHIPPED, OrderStatus.ON_HOLD}),
    OrderStatus.SHIPPED: frozenset(
        {OrderStatus.DELIVERED, OrderStatus.PARTIALLY_RETURNED, OrderStatus.RETURNED}
    ),
    OrderStatus.DELIVERED: frozenset({OrderStatus.PARTIALLY_RETURNED, OrderStatus.RETURNED}),
    OrderStatus.PARTIALLY_RETURNED: frozenset({OrderStatus.RETURNED}),
    OrderStatus.RETURNED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}

# Statuses in which the channel or ops may still change the address and quantities.
EDITABLE_STATUSES = frozenset(
    {
        OrderStatus.RECEIVED,
        OrderStatus.ON_HOLD,
        OrderStatus.ALLOCATED,
        OrderStatus.PARTIALLY_ALLOCATED,
        OrderStatus.BACKORDERED,
    }
)

MONEY = {"max_digits": 14, "decimal_places": 3}


class Order(models.Model):
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="orders")
    external_id = models.CharField(max_length=100, help_text="The channel's own order number.")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    # The contact details as this order's channel sent them. The customer above is shared by every
    # channel (deduplicated on e-mail and phone) and may hold details another channel gave; a channel
    # is shown only these, and labels and messages use them.
    contact_email = models.EmailField(max_length=254, null=True, blank=True, help_text="Lower-case.")
    contact_phone = models.CharField(max_length=20, null=True, blank=True, help_text="E.164.")
    contact_first_name = models.CharField(max_length=80, blank=True)
    contact_last_name = models.CharField(max_length=80, blank=True)
    language = models.CharField(
        max_length=2,
        blank=True,
        help_text="ISO 639-1 language of the customer's messages; blank: the channel's.",
    )
    shipping_address = models.ForeignKey(Address, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=24, choices=OrderStatus.choices, default=OrderStatus.RECEIVED)
    hold_reason = models.CharField(max_length=24, choices=HoldReason.choices, blank=True)
    currency = models.CharField(max_length=3, help_text="ISO 4217.")
    subtotal = models.DecimalField(**MONEY, help_text="Sum of quantity x unit price over the lines.")
    discount_total = models.DecimalField(**MONEY, default=Decimal(0), help_text="Line and order discounts.")
    order_discount = models.DecimalField(
        **MONEY, default=Decimal(0), help_text="Discount on the whole order."
    )
    shipping_total = models.DecimalField(**MONEY, default=Decimal(0))
    tax_total = models.DecimalField(**MONEY, default=Decimal(0))
    total = models.DecimalField(**MONEY)
    service_level = models.CharField(
        max_length=16, choices=ServiceLevel.choices, default=ServiceLevel.STANDARD
    )
    pickup_location = models.CharField(
        max_length=20,
        blank=True,
        help_text="For pick-up orders: the code of the store the customer collects from.",
    )
    payment_status = models.CharField(
        max_length=24, choices=PaymentStatus.choices, default=PaymentStatus.PENDING
    )
    requested_delivery_start = models.DateTimeField(null=True, blank=True)
    requested_delivery_end = models.DateTimeField(null=True, blank=True)
    placed_at = models.DateTimeField(help_text="When the customer placed it on the channel.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_id"], name="order_external_id_per_channel"),
            models.CheckConstraint(
                condition=Q(subtotal__gte=0) & Q(total__gte=0), name="order_amounts_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(requested_delivery_start__isnull=True)
                | Q(requested_delivery_end__isnull=True)
                | Q(requested_delivery_end__gte=F("requested_delivery_start")),
                name="order_delivery_window_ordered",
            ),
            models.CheckConstraint(
                condition=Q(status=OrderStatus.ON_HOLD, hold_reason__gt="")
                | (~Q(status=OrderStatus.ON_HOLD) & Q(hold_reason="")),
                name="order_hold_reason_iff_on_hold",
            ),
        ]
        indexes = [
            # the dashboard's list, newest placed first, whole or by status (a million orders: the
            # first page reads 50 index entries instead of sorting the table)
            models.Index(fields=["-placed_at", "-id"], name="order_placed_recent"),
            models.Index(fields=["status", "-placed_at", "-id"], name="order_status_placed"),
            # the order list's search by the channel's order number, in any case
            models.Index(Upper("external_id"), name="order_external_id_upper"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def contact_name(self) -> str:
        return f"{self.contact_first_name} {self.contact_last_name}".strip()

    @property
    def number(self) -> str:
        """Our own order number, derived from the primary key (see docs/adr/0002-order-numbers.md)."""
        return order_number(self.pk)


ORDER_NUMBER_PREFIX = "SO-"


def order_number(pk: int | None) -> str:
    return f"{ORDER_NUMBER_PREFIX}{pk:07d}" if pk else "(unsaved)"


def order_pk_from_number(text: str) -> int | None:
    """The primary key in an order number as ops type it: SO-0000042, so-42 or 42."""
    text = text.strip().upper()
    if text.startswith(ORDER_NUMBER_PREFIX):
        text = text[len(ORDER_NUMBER_PREFIX) :]
    # isascii: "¹" and other Unicode digits pass isdigit() but are not numbers int() reads
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    line_number = models.PositiveSmallIntegerField()
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="order_lines")
    sku = models.CharField(max_length=64, help_text="The SKU as it was when ordered.")
    name = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField(help_text="Units ordered (after edits).")
    unit_price = models.DecimalField(**MONEY)
    discount = models.DecimalField(**MONEY, default=Decimal(0), help_text="Discount on the whole line.")
    total = models.DecimalField(**MONEY, help_text="quantity x unit price - discount.")
    # Progress counters are cumulative: a shipped unit still counts as allocated and picked.
    qty_allocated = models.PositiveIntegerField(default=0, help_text="Units that have had stock reserved.")
    qty_picked = models.PositiveIntegerField(default=0, help_text="Units taken from the shelf.")
    qty_shipped = models.PositiveIntegerField(default=0, help_text="Units handed to a carrier.")
    qty_delivered = models.PositiveIntegerField(default=0, help_text="Units the carrier delivered.")
    qty_returned = models.PositiveIntegerField(default=0, help_text="Units that came back.")
    qty_cancelled = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order_id", "line_number"]
        constraints = [
            models.UniqueConstraint(fields=["order", "line_number"], name="orderline_number_unique"),
            models.CheckConstraint(condition=Q(quantity__gte=0), name="orderline_quantity_non_negative"),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0) & Q(discount__gte=0) & Q(total__gte=0),
                name="orderline_amounts_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(qty_allocated__lte=F("quantity")), name="orderline_allocated_le_quantity"
            ),
            models.CheckConstraint(
                condition=Q(qty_shipped__lte=F("quantity")), name="orderline_shipped_le_quantity"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku} x {self.quantity}"

    @property
    def qty_open(self) -> int:
        """Units still to be shipped."""
        return max(self.quantity - self.qty_shipped, 0)


class OrderEventKind(models.TextChoices):
    CREATED = "created", "Created"  # captured from the channel
    STATUS_CHANGED = "status_changed", "Status changed"  # any move in the status table
    ADDRESS_CHANGED = "address_changed", "Shipping address changed"  # before fulfilment
    LINE_CHANGED = "line_changed", "Line quantity changed"  # before fulfilment
    NOTE = "note", "Note"  # a remark by ops


class ActorType(models.TextChoices):
    CHANNEL = "channel", "Channel"  # an API call with a channel key
    USER = "user", "User"  # ops staff in the dashboard or admin
    INTEGRATION = "integration", "Integration"  # an API call with an integration key
    SYSTEM = "system", "System"  # the OMS itself (routing, tracking, schedules)


class OrderEvent(models.Model):
    """Append-only history of an order: every status change and edit, who made it, before and after."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=24, choices=OrderEventKind.choices)
    from_status = models.CharField(max_length=24, blank=True)
    to_status = models.CharField(max_length=24, blank=True)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=120, help_text="Who, in words: a user name or a key's name.")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["order", "id"], name="orderevent_order")]

    def __str__(self) -> str:
        return f"{self.kind} on order {self.order_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("Order events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("Order events are append-only.")
