"""Request and response bodies of the orders and catalog API. Shapes and types only: the rules that
need the database or a country's address format live in the services."""

from decimal import Decimal

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from oms.api.schema import StrictBooleanField
from orders.models import (
    ActorType,
    HoldReason,
    Order,
    OrderEventKind,
    OrderLine,
    OrderStatus,
    PaymentStatus,
    ServiceLevel,
)
from orders.services import CustomerInput, LineInput, OrderInput, ProductInput
from orders.validation import currency_precision

MAX_LINES = 500
# Bounds of a product or parcel: a tonne, a hundred metres (beyond them, a typo).
MAX_GRAMS = 1_000_000
MAX_MM = 100_000


@extend_schema_field(
    {
        "type": "string",
        "format": "decimal",
        "pattern": r"^\d{1,11}(\.\d{1,3})?$",
        "example": "19.90",
        "description": "A decimal string, at least 0, up to 3 decimals (and no more than the currency has).",
    }
)
class AmountField(serializers.DecimalField):
    """A non-negative amount; the schema states the form DRF's DecimalField reads (it would also take a
    JSON number, which the schema does not offer: strings keep decimals exact)."""


def _amount(**kwargs) -> serializers.DecimalField:
    return AmountField(max_digits=14, decimal_places=3, min_value=Decimal(0), **kwargs)


# ---------------------------------------------------------------------------------------------- input


@extend_schema_serializer(component_name="Address")
class AddressIn(serializers.Serializer):
    name = serializers.CharField(max_length=160, help_text="Recipient's full name.")
    company = serializers.CharField(max_length=160, required=False, allow_blank=True, default="")
    line1 = serializers.CharField(max_length=200, help_text="Street and number.")
    line2 = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    city = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    city_area = serializers.CharField(
        max_length=120,
        required=False,
        allow_blank=True,
        default="",
        help_text="District, where the country uses one.",
    )
    region = serializers.CharField(
        max_length=120,
        required=False,
        allow_blank=True,
        default="",
        help_text="State / province code where the country needs one (e.g. NY).",
    )
    postal_code = serializers.CharField(
        max_length=20,
        required=False,
        allow_blank=True,
        default="",
        help_text="Checked against the country's format where it is known.",
    )
    country = serializers.CharField(max_length=2, min_length=2, help_text="ISO 3166-1 alpha-2, e.g. GR.")
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    latitude = serializers.FloatField(
        required=False, allow_null=True, default=None, min_value=-90, max_value=90
    )
    longitude = serializers.FloatField(
        required=False, allow_null=True, default=None, min_value=-180, max_value=180
    )

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        for coordinate in ("latitude", "longitude"):
            if value.get(coordinate) is not None:
                value[coordinate] = Decimal(str(round(value[coordinate], 6)))
        return value


@extend_schema_serializer(component_name="Customer")
class CustomerIn(serializers.Serializer):
    email = serializers.EmailField(max_length=254, required=False, allow_null=True, default=None)
    phone = serializers.CharField(
        max_length=32,
        required=False,
        allow_null=True,
        allow_blank=True,
        default=None,
        help_text="International form (+30...) or national form of the address's country.",
    )
    first_name = serializers.CharField(max_length=80, required=False, allow_blank=True, default="")
    last_name = serializers.CharField(max_length=80, required=False, allow_blank=True, default="")


@extend_schema_serializer(component_name="OrderLine")
class LineIn(serializers.Serializer):
    sku = serializers.CharField(max_length=64, help_text="Case and surrounding spaces do not matter.")
    quantity = serializers.IntegerField(min_value=1, max_value=100_000)
    unit_price = _amount(help_text="Price of one unit, as a decimal string.")
    discount = _amount(required=False, default=Decimal(0), help_text="Discount on the whole line.")


@extend_schema_serializer(component_name="DeliveryWindow")
class DeliveryWindow(serializers.Serializer):
    start = serializers.DateTimeField(allow_null=True, required=False, default=None)
    end = serializers.DateTimeField(allow_null=True, required=False, default=None)

    def validate(self, attrs):
        if attrs.get("start") and attrs.get("end") and attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": ["The window ends before it starts."]})
        return attrs


@extend_schema_serializer(component_name="OrderCreate")
class OrderCreateIn(serializers.Serializer):
    external_id = serializers.CharField(
        max_length=100, help_text="Your own order number; unique per channel."
    )
    customer = CustomerIn()
    shipping_address = AddressIn()
    lines = LineIn(many=True, allow_empty=False, max_length=MAX_LINES)
    currency = serializers.CharField(min_length=3, max_length=3, help_text="ISO 4217, e.g. EUR.")
    service_level = serializers.ChoiceField(choices=ServiceLevel.choices, default=ServiceLevel.STANDARD)
    pickup_store = serializers.CharField(
        max_length=20,
        required=False,
        allow_blank=True,
        default="",
        help_text="With service_level pickup: the code of the store the customer collects from.",
    )
    language = serializers.RegexField(
        r"^[a-z]{2}$",
        required=False,
        allow_blank=True,
        default="",
        max_length=2,
        help_text="ISO 639-1 code of the language the customer reads (el, en, ...): their messages use it "
        "where templates exist in it, else the channel's default language.",
    )
    payment_status = serializers.ChoiceField(choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    requested_delivery_window = DeliveryWindow(required=False, allow_null=True, default=None)
    placed_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="When the customer ordered; now if left out."
    )
    order_discount = _amount(required=False, default=Decimal(0), help_text="Discount on the whole order.")
    shipping_total = _amount(required=False, default=Decimal(0))
    tax_total = _amount(required=False, default=Decimal(0))

    def validate_currency(self, value: str) -> str:
        if currency_precision(value) is None:
            raise serializers.ValidationError(f"'{value}' is not an ISO 4217 currency code.")
        return value.upper()

    def validate_placed_at(self, value):
        if value and value > timezone.now() + timezone.timedelta(hours=1):
            raise serializers.ValidationError("An order cannot be placed in the future.")
        return value

    @staticmethod
    def to_order_input(data: dict, errors: dict[str, list[str]] | None = None) -> OrderInput:
        """The order as the service takes it, from checked data (``oms.api.schema.checked``) and the
        problems found in its shapes, which the service reports with its own."""
        window = data.get("requested_delivery_window") or {}
        return OrderInput(
            external_id=data["external_id"].strip(),
            customer=CustomerInput(**data["customer"]),
            shipping_address=data["shipping_address"],
            lines=[LineInput(**line) for line in data["lines"]],
            currency=data["currency"],
            placed_at=data.get("placed_at"),
            service_level=data["service_level"],
            pickup_location=data["pickup_store"],
            language=data["language"],
            payment_status=data["payment_status"],
            requested_delivery_start=window.get("start"),
            requested_delivery_end=window.get("end"),
            order_discount=data["order_discount"],
            shipping_total=data["shipping_total"],
            tax_total=data["tax_total"],
            extra_errors=errors or {},
        )


@extend_schema_serializer(component_name="LineQuantity")
class LineQuantityIn(serializers.Serializer):
    line_number = serializers.IntegerField(min_value=1, max_value=MAX_LINES)
    quantity = serializers.IntegerField(min_value=0, max_value=100_000, help_text="0 removes the line.")


@extend_schema_serializer(component_name="OrderUpdate")
class OrderUpdateIn(serializers.Serializer):
    shipping_address = AddressIn(required=False, help_text="Replaces the whole shipping address.")
    lines = LineQuantityIn(many=True, required=False, allow_empty=False)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Send shipping_address and / or lines.")
        numbers = [line["line_number"] for line in attrs.get("lines", [])]
        if len(numbers) != len(set(numbers)):
            raise serializers.ValidationError({"lines": ["Each line_number may appear once."]})
        return attrs


@extend_schema_serializer(component_name="OrderCancel")
class OrderCancelIn(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


@extend_schema_serializer(component_name="Product")
class ProductIn(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    weight_grams = serializers.IntegerField(
        min_value=0, max_value=MAX_GRAMS, required=False, allow_null=True, default=None
    )
    length_mm = serializers.IntegerField(
        min_value=0, max_value=MAX_MM, required=False, allow_null=True, default=None
    )
    width_mm = serializers.IntegerField(
        min_value=0, max_value=MAX_MM, required=False, allow_null=True, default=None
    )
    height_mm = serializers.IntegerField(
        min_value=0, max_value=MAX_MM, required=False, allow_null=True, default=None
    )
    is_active = StrictBooleanField(required=False, default=True)


@extend_schema_serializer(component_name="ProductsBulk")
class ProductsBulkIn(serializers.Serializer):
    products = ProductIn(many=True, allow_empty=False, max_length=5000)

    @staticmethod
    def to_inputs(data: dict) -> list[ProductInput]:
        return [ProductInput(**item) for item in data["products"]]


# --------------------------------------------------------------------------------------------- output


@extend_schema_field({"type": "string", "format": "decimal", "example": "19.99"})
class MoneyField(serializers.Field):
    """An amount as a decimal string with the currency's own number of decimals."""

    def __init__(self, attr: str, **kwargs):
        self.attr = attr
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, obj) -> str:
        order = obj if isinstance(obj, Order) else obj.order
        places = currency_precision(order.currency) or 0
        return f"{getattr(obj, self.attr):.{places}f}"


@extend_schema_serializer(component_name="Address")
class AddressOut(serializers.Serializer):
    name = serializers.CharField()
    company = serializers.CharField()
    line1 = serializers.CharField()
    line2 = serializers.CharField()
    city = serializers.CharField()
    city_area = serializers.CharField()
    region = serializers.CharField()
    postal_code = serializers.CharField()
    country = serializers.CharField()
    phone = serializers.CharField()
    latitude = serializers.DecimalField(
        source="latitude_as_sent",
        max_digits=9,
        decimal_places=6,
        allow_null=True,
        help_text="As you sent it.",
    )
    longitude = serializers.DecimalField(
        source="longitude_as_sent",
        max_digits=9,
        decimal_places=6,
        allow_null=True,
        help_text="As you sent it.",
    )


@extend_schema_serializer(component_name="Customer")
class CustomerOut(serializers.Serializer):
    """The customer's details exactly as your channel sent them with this order (normalised: e-mail in
    lower case, phone in E.164). What other channels know of the same person is never shown."""

    email = serializers.EmailField(source="contact_email", allow_null=True)
    phone = serializers.CharField(source="contact_phone", allow_null=True)
    first_name = serializers.CharField(source="contact_first_name")
    last_name = serializers.CharField(source="contact_last_name")


@extend_schema_serializer(component_name="LineQuantities")
class LineQuantitiesOut(serializers.Serializer):
    ordered = serializers.IntegerField(source="quantity")
    allocated = serializers.IntegerField(source="qty_allocated")
    picked = serializers.IntegerField(source="qty_picked")
    shipped = serializers.IntegerField(source="qty_shipped")
    delivered = serializers.IntegerField(source="qty_delivered")
    returned = serializers.IntegerField(source="qty_returned")
    cancelled = serializers.IntegerField(source="qty_cancelled")


@extend_schema_serializer(component_name="OrderLine")
class LineOut(serializers.Serializer):
    # Plain serializers with declared fields: ModelSerializer would introspect the model on every
    # response, which showed up in the intake profile.
    line_number = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    quantity = serializers.IntegerField(help_text="Units ordered, after edits.")
    unit_price = MoneyField("unit_price")
    discount = MoneyField("discount")
    total = MoneyField("total")
    quantities = LineQuantitiesOut(source="*")


@extend_schema_serializer(component_name="DeliveryWindow")
class DeliveryWindowOut(serializers.Serializer):
    start = serializers.DateTimeField(source="requested_delivery_start", allow_null=True)
    end = serializers.DateTimeField(source="requested_delivery_end", allow_null=True)


@extend_schema_serializer(component_name="Order")
class OrderOut(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField(help_text="Our own order number.")
    external_id = serializers.CharField(help_text="The channel's own order number.")
    channel = serializers.CharField(source="channel.code")
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    hold_reason = serializers.ChoiceField(choices=HoldReason.choices, allow_blank=True)
    currency = serializers.CharField()
    subtotal = MoneyField("subtotal")
    discount_total = MoneyField("discount_total")
    order_discount = MoneyField("order_discount")
    shipping_total = MoneyField("shipping_total")
    tax_total = MoneyField("tax_total")
    total = MoneyField("total")
    service_level = serializers.ChoiceField(choices=ServiceLevel.choices)
    pickup_store = serializers.CharField(source="pickup_location", allow_blank=True)
    language = serializers.CharField(allow_blank=True)
    payment_status = serializers.ChoiceField(choices=PaymentStatus.choices)
    requested_delivery_window = DeliveryWindowOut(source="*")
    placed_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    customer = CustomerOut(source="*")
    shipping_address = AddressOut()
    lines = LineOut(many=True)


@extend_schema_serializer(component_name="OrderEvent")
class OrderEventOut(serializers.Serializer):
    at = serializers.DateTimeField(source="created_at")
    kind = serializers.ChoiceField(choices=OrderEventKind.choices)
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    actor_type = serializers.ChoiceField(choices=ActorType.choices)
    actor = serializers.CharField(source="actor_label")
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)
    note = serializers.CharField()


# What later parts of the OMS add to an order's detail (its shipments and tracking link, when its
# waiting lines' stock is expected): functions order -> {"shipments": [...], "tracking_url": ...} or
# {"expected_stock": [...]}; tracking and replenishment register them (they depend on this app, so
# this app cannot import them).
ORDER_DELIVERY_PROVIDERS: list = []


@extend_schema_serializer(component_name="OrderShipment")
class OrderShipmentOut(serializers.Serializer):
    reference = serializers.CharField(help_text="Our shipment reference, e.g. SH-0000012.")
    status = serializers.CharField(help_text="label_purchased, shipped, delivered or cancelled.")
    milestone = serializers.CharField(
        allow_null=True, help_text="The carrier's latest milestone, e.g. out_for_delivery."
    )
    carrier = serializers.CharField()
    service = serializers.CharField()
    tracking_numbers = serializers.ListField(child=serializers.CharField(), help_text="One per parcel.")
    lines = serializers.DictField(child=serializers.IntegerField(), help_text="Line number -> units.")
    shipped_at = serializers.DateTimeField(allow_null=True)
    estimated_delivery = serializers.DateField(allow_null=True, help_text="Our latest estimate.")
    delivered_at = serializers.DateTimeField(allow_null=True)


@extend_schema_serializer(component_name="OrderExpectedStock")
class OrderExpectedStockOut(serializers.Serializer):
    line_number = serializers.IntegerField()
    sku = serializers.CharField()
    waiting = serializers.IntegerField(help_text="Units of the line still waiting for stock.")
    expected_date = serializers.DateField(
        allow_null=True, help_text="When the last of them is expected; null: not all are on order yet."
    )
    supplies = serializers.ListField(
        child=serializers.CharField(), help_text="Our references of the supplies that will serve them."
    )


@extend_schema_serializer(component_name="OrderDetail")
class OrderDetailOut(OrderOut):
    history = OrderEventOut(source="events", many=True)
    shipments = serializers.SerializerMethodField()
    tracking_url = serializers.SerializerMethodField(help_text="The customer's tracking page, once shipped.")
    expected_stock = serializers.SerializerMethodField(
        help_text="Lines waiting for stock (backordered) and when it is expected."
    )
    expected_stock_date = serializers.SerializerMethodField(
        help_text="When every waiting unit's stock is expected: the earliest the order can be completed. "
        "null: nothing waits, or some units are not on order yet."
    )

    def _delivery(self, order) -> dict:
        cache = self.__dict__.setdefault("_delivery_cache", {})
        if order.pk not in cache:
            part = {"shipments": [], "tracking_url": None, "expected_stock": [], "expected_stock_date": None}
            for provider in ORDER_DELIVERY_PROVIDERS:
                part.update(provider(order))
            cache[order.pk] = part
        return cache[order.pk]

    @extend_schema_field(OrderShipmentOut(many=True))
    def get_shipments(self, order) -> list[dict]:
        return OrderShipmentOut(self._delivery(order)["shipments"], many=True).data

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_tracking_url(self, order) -> str | None:
        return self._delivery(order)["tracking_url"]

    @extend_schema_field(OrderExpectedStockOut(many=True))
    def get_expected_stock(self, order) -> list[dict]:
        return OrderExpectedStockOut(self._delivery(order)["expected_stock"], many=True).data

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_expected_stock_date(self, order) -> str | None:
        day = self._delivery(order)["expected_stock_date"]
        return day.isoformat() if day else None


@extend_schema_serializer(component_name="ProductsBulkResult")
class ProductsBulkOut(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()


@extend_schema_serializer(component_name="Product")
class ProductOut(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    weight_grams = serializers.IntegerField(allow_null=True)
    length_mm = serializers.IntegerField(allow_null=True)
    width_mm = serializers.IntegerField(allow_null=True)
    height_mm = serializers.IntegerField(allow_null=True)
    is_active = serializers.BooleanField()
    updated_at = serializers.DateTimeField()


# ------------------------------------------------------------------------------ fast representation
#
# The serializers above declare the response shapes for the OpenAPI schema. On the hot paths (order
# intake and the order list) building the same dicts directly is several times cheaper than DRF's
# per-request field copies; tests/test_api_shapes.py holds both to exactly the same output.


def _money(amount, places: int) -> str:
    return f"{amount:.{places}f}"


def _when(value) -> str | None:
    if value is None:
        return None
    # as DRF's DateTimeField renders it: in the current time zone, UTC written as Z
    text = timezone.localtime(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _line_json(line: OrderLine, places: int) -> dict:
    return {
        "line_number": line.line_number,
        "sku": line.sku,
        "name": line.name,
        "quantity": line.quantity,
        "unit_price": _money(line.unit_price, places),
        "discount": _money(line.discount, places),
        "total": _money(line.total, places),
        "quantities": {
            "ordered": line.quantity,
            "allocated": line.qty_allocated,
            "picked": line.qty_picked,
            "shipped": line.qty_shipped,
            "delivered": line.qty_delivered,
            "returned": line.qty_returned,
            "cancelled": line.qty_cancelled,
        },
    }


def _coordinate(value) -> str | None:
    return None if value is None else f"{value:.6f}"


def order_json(order: Order) -> dict:
    """The ``Order`` response body (see ``OrderOut``)."""
    places = currency_precision(order.currency) or 0
    address = order.shipping_address
    return {
        "id": order.pk,
        "number": order.number,
        "external_id": order.external_id,
        "channel": order.channel.code,
        "status": order.status,
        "hold_reason": order.hold_reason,
        "currency": order.currency,
        "subtotal": _money(order.subtotal, places),
        "discount_total": _money(order.discount_total, places),
        "order_discount": _money(order.order_discount, places),
        "shipping_total": _money(order.shipping_total, places),
        "tax_total": _money(order.tax_total, places),
        "total": _money(order.total, places),
        "service_level": order.service_level,
        "pickup_store": order.pickup_location,
        "language": order.language,
        "payment_status": order.payment_status,
        "requested_delivery_window": {
            "start": _when(order.requested_delivery_start),
            "end": _when(order.requested_delivery_end),
        },
        "placed_at": _when(order.placed_at),
        "created_at": _when(order.created_at),
        "updated_at": _when(order.updated_at),
        "customer": {
            "email": order.contact_email,
            "phone": order.contact_phone,
            "first_name": order.contact_first_name,
            "last_name": order.contact_last_name,
        },
        "shipping_address": {
            "name": address.name,
            "company": address.company,
            "line1": address.line1,
            "line2": address.line2,
            "city": address.city,
            "city_area": address.city_area,
            "region": address.region,
            "postal_code": address.postal_code,
            "country": address.country,
            "phone": address.phone,
            "latitude": _coordinate(address.latitude_as_sent),
            "longitude": _coordinate(address.longitude_as_sent),
        },
        "lines": [_line_json(line, places) for line in order.lines.all()],
    }
