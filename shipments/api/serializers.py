"""Pick lists for warehouse systems: shapes only."""

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from oms.api.schema import StrictBooleanField
from orders.api.serializers import MAX_GRAMS, MAX_LINES, MAX_MM

MAX_ID = 2**63 - 1  # our ids are PostgreSQL bigints
MAX_LINE_UNITS = 100_000  # as an order line
MAX_PICK_LINES = 5_000


@extend_schema_serializer(component_name="PickListLine")
class PickLineOut(serializers.Serializer):
    id = serializers.IntegerField(help_text="Send it back with the count found.")
    sku = serializers.CharField()
    bin = serializers.CharField(source="bin_code", help_text="Empty when the product has no bin.")
    lot = serializers.CharField(source="lot_code")
    lot_expiry = serializers.DateField(allow_null=True)
    order = serializers.CharField(source="order_line.order.number")
    quantity = serializers.IntegerField()
    picked = serializers.IntegerField(source="qty_picked", allow_null=True)
    status = serializers.CharField(help_text="open, picked, or cancelled (withdrawn since the release).")


@extend_schema_serializer(component_name="PickList")
class PickListOut(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    warehouse = serializers.CharField(source="warehouse.code")
    status = serializers.CharField()
    released_at = serializers.DateTimeField()
    confirmed_at = serializers.DateTimeField(allow_null=True)
    lines = PickLineOut(many=True, help_text="In walking order: bin, then SKU.")


@extend_schema_serializer(component_name="PickCount")
class PickCountIn(serializers.Serializer):
    id = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="The pick list line.")
    picked = serializers.IntegerField(
        min_value=0, max_value=MAX_LINE_UNITS, help_text="Units found; fewer than asked is a short pick."
    )


@extend_schema_serializer(component_name="PickConfirm")
class PickConfirmIn(serializers.Serializer):
    lines = PickCountIn(many=True, allow_empty=False, max_length=MAX_PICK_LINES)

    def validate_lines(self, lines):
        ids = [line["id"] for line in lines]
        if len(ids) != len(set(ids)):
            raise serializers.ValidationError("Each line id may appear once.")
        return lines


@extend_schema_serializer(component_name="PackageContent")
class PackageContentIn(serializers.Serializer):
    line_number = serializers.IntegerField(min_value=1, max_value=MAX_LINES)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_LINE_UNITS)


@extend_schema_serializer(component_name="PackageCreate")
class PackageIn(serializers.Serializer):
    order = serializers.CharField(max_length=30, help_text="Our order number (SO-...) or id.")
    warehouse = serializers.CharField(max_length=20, help_text="Warehouse code.")
    contents = PackageContentIn(many=True, allow_empty=False, max_length=MAX_LINES)
    weight_grams = serializers.IntegerField(min_value=1, max_value=MAX_GRAMS)
    length_mm = serializers.IntegerField(min_value=1, max_value=MAX_MM)
    width_mm = serializers.IntegerField(min_value=1, max_value=MAX_MM)
    height_mm = serializers.IntegerField(min_value=1, max_value=MAX_MM)
    ship = StrictBooleanField(
        default=True, help_text="Also create the shipment and buy its label with the order's service."
    )


@extend_schema_serializer(component_name="PackedShipment")
class PackedOut(serializers.Serializer):
    package_id = serializers.IntegerField()
    shipment_id = serializers.IntegerField(allow_null=True)
    shipment = serializers.CharField(allow_null=True, help_text="Our shipment reference, when shipped.")
    shipment_status = serializers.CharField(allow_null=True)
    tracking_number = serializers.CharField(allow_blank=True)
    label_pdf = serializers.CharField(allow_null=True, help_text="Path of the 4x6 PDF label.")
    label_zpl = serializers.CharField(allow_null=True, help_text="Path of the ZPL label, when there is one.")
