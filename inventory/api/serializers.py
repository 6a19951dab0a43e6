"""Request and response bodies of the inventory API (WMS / ERP integrations and channels)."""

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from inventory.imports import StockRow


@extend_schema_serializer(component_name="StockRow")
class StockRowIn(serializers.Serializer):
    warehouse = serializers.CharField(max_length=20, help_text="Warehouse code, e.g. ATH1.")
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(
        help_text="Receipts: units received (> 0). Adjustments: the change (+/-). Counts: the counted figure."
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

    def to_row(self, data: dict) -> StockRow:
        return StockRow(**data)


@extend_schema_serializer(component_name="StockBatch")
class StockBatchIn(serializers.Serializer):
    rows = StockRowIn(many=True, allow_empty=False, max_length=50_000)
    reference = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text="Your document number (delivery note, count sheet); kept in the ledger.",
    )


@extend_schema_serializer(component_name="StockCountBatch")
class StockCountIn(StockBatchIn):
    full = serializers.BooleanField(
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
