"""Request and response bodies of the inventory API (WMS / ERP integrations and channels)."""

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from inventory.imports import StockRow
from inventory.models import TransferStatus
from oms.api.schema import StrictBooleanField

# Units in one stock movement: beyond ten million, a typo (and PostgreSQL integers end at two billion).
MAX_UNITS = 10_000_000


@extend_schema_serializer(component_name="StockRow")
class StockRowIn(serializers.Serializer):
    warehouse = serializers.CharField(max_length=20, help_text="Warehouse code, e.g. ATH1.")
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(
        min_value=-MAX_UNITS,
        max_value=MAX_UNITS,
        help_text="Receipts: units received (> 0). Adjustments: the change (+/-). Counts: the figure.",
    )
    lot_code = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="Required for lot-tracked products.",
    )
    expiry_date = serializers.DateField(required=False, allow_null=True, default=None)
    bin = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    reason = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="", help_text="Required for adjustments."
    )

    @staticmethod
    def to_row(data: dict) -> StockRow:
        return StockRow(**data)


@extend_schema_serializer(component_name="ReceiptRow")
class ReceiptRowIn(StockRowIn):
    quantity = serializers.IntegerField(
        min_value=1,
        max_value=MAX_UNITS,
        help_text="Units received.",
        error_messages={"min_value": "A receipt needs a positive quantity."},
    )


@extend_schema_serializer(component_name="AdjustmentRow")
class AdjustmentRowIn(StockRowIn):
    quantity = serializers.IntegerField(
        min_value=-MAX_UNITS, max_value=MAX_UNITS, help_text="The change, + or - (not 0)."
    )
    reason = serializers.CharField(
        max_length=200,
        help_text="Why the figure changes (damaged, found, ...).",
        error_messages={"required": "Say why the figure changes.", "blank": "Say why the figure changes."},
    )

    def validate_quantity(self, value: int) -> int:
        if value == 0:
            raise serializers.ValidationError("An adjustment of zero changes nothing.")
        return value


@extend_schema_serializer(component_name="CountRow")
class CountRowIn(StockRowIn):
    quantity = serializers.IntegerField(
        min_value=0,
        max_value=MAX_UNITS,
        help_text="The counted figure.",
        error_messages={"min_value": "A count cannot be negative."},
    )


MAX_BATCH_ROWS = 50_000


MAX_REFERENCE = 100


def _reference():
    return serializers.CharField(
        max_length=MAX_REFERENCE,
        required=False,
        allow_blank=True,
        default="",
        help_text="Your document number (delivery note, count sheet); kept in the ledger.",
    )


@extend_schema_serializer(component_name="ReceiptBatch")
class ReceiptBatchIn(serializers.Serializer):
    rows = ReceiptRowIn(many=True, allow_empty=False, max_length=MAX_BATCH_ROWS)
    reference = _reference()


@extend_schema_serializer(component_name="AdjustmentBatch")
class AdjustmentBatchIn(serializers.Serializer):
    rows = AdjustmentRowIn(many=True, allow_empty=False, max_length=MAX_BATCH_ROWS)
    reference = _reference()


@extend_schema_serializer(component_name="StockCountBatch")
class StockCountIn(serializers.Serializer):
    rows = CountRowIn(many=True, allow_empty=False, max_length=MAX_BATCH_ROWS)
    reference = _reference()
    full = StrictBooleanField(
        required=False,
        default=False,
        help_text="A full snapshot: positions of the listed warehouses missing from the rows count as zero.",
    )


@extend_schema_serializer(component_name="StockBatchResult")
class StockBatchOut(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["receipt", "adjustment", "count"])
    rows = serializers.IntegerField()
    changed_positions = serializers.IntegerField()
    units_in = serializers.IntegerField()
    units_out = serializers.IntegerField()


@extend_schema_serializer(component_name="WarehouseAvailability")
class WarehouseAvailabilityOut(serializers.Serializer):
    warehouse = serializers.CharField()
    on_hand = serializers.IntegerField(required=False, help_text="Integration keys only.")
    allocated = serializers.IntegerField(required=False, help_text="Integration keys only.")
    in_transit = serializers.IntegerField(required=False, help_text="Integration keys only.")
    safety_stock = serializers.IntegerField(required=False, help_text="Integration keys only.")
    available = serializers.IntegerField(
        help_text="May still be promised: on hand - allocated - safety stock."
    )


@extend_schema_serializer(component_name="SkuAvailability")
class SkuAvailabilityOut(serializers.Serializer):
    sku = serializers.CharField()
    available = serializers.IntegerField(help_text="Network total that may still be promised.")
    on_hand = serializers.IntegerField(required=False, help_text="Network total; integration keys only.")
    allocated = serializers.IntegerField(required=False, help_text="Network total; integration keys only.")
    in_transit = serializers.IntegerField(required=False, help_text="Network total; integration keys only.")
    warehouses = WarehouseAvailabilityOut(many=True)


@extend_schema_serializer(component_name="TransferCreate")
class TransferIn(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    from_warehouse = serializers.CharField(max_length=20, help_text="The source warehouse's code.")
    to_warehouse = serializers.CharField(max_length=20, help_text="The destination warehouse's code.")
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_UNITS)
    ship = StrictBooleanField(
        required=False,
        default=False,
        help_text="Send it now (the stock leaves the source at once); otherwise it is planned and shipped "
        "later with .../ship/.",
    )


@extend_schema_serializer(component_name="Transfer")
class TransferOut(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField(source="product.sku")
    from_warehouse = serializers.CharField(source="from_warehouse.code")
    to_warehouse = serializers.CharField(source="to_warehouse.code")
    quantity = serializers.IntegerField()
    status = serializers.ChoiceField(choices=TransferStatus.choices)
    created_at = serializers.DateTimeField()
    shipped_at = serializers.DateTimeField(allow_null=True)
    received_at = serializers.DateTimeField(allow_null=True)
