"""Request and response bodies of the replenishment API (ERP integrations): suggestions, purchase
orders, receipts against a purchase order."""

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from inventory.api.serializers import MAX_UNITS
from replenishment.models import PurchaseOrderStatus, SuggestionKind, SuggestionStatus

MAX_RECEIPT_LINES = 1_000
MAX_DELIVERY_NOTE = 100


@extend_schema_serializer(component_name="ReplenishmentSuggestion")
class SuggestionOut(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=SuggestionStatus.choices)
    kind = serializers.ChoiceField(choices=SuggestionKind.choices)
    warehouse = serializers.CharField(
        source="position.warehouse.code", help_text="Where the stock is needed."
    )
    sku = serializers.CharField(source="position.product.sku")
    quantity = serializers.IntegerField(help_text="Units to order (ops may have changed it on approval).")
    supplier = serializers.CharField(
        source="supplier.code", allow_null=True, default=None, help_text="Purchases: the supplier's code."
    )
    production_site = serializers.CharField(
        source="production_site.code", allow_null=True, default=None, help_text="Production: the site's code."
    )
    source_warehouse = serializers.CharField(
        source="source_warehouse.code", allow_null=True, default=None, help_text="Transfers: from where."
    )
    explanation = serializers.DictField(
        help_text="The figures behind the quantity: on_hand, in_transit, on_order, allocated, backordered, "
        "safety_stock, inventory_position, reorder_point, order_up_to, need, min_order_qty, "
        "order_multiple, rule, rule_scope, carries_backorders, source, surplus_at_source."
    )
    decided_by = serializers.CharField(help_text="Who approved or rejected it; empty while open.")
    purchase_order_id = serializers.IntegerField(
        source="purchase_order_line.purchase_order_id", allow_null=True, default=None
    )
    transfer_id = serializers.IntegerField(allow_null=True)
    production_order_id = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="PurchaseOrderLine")
class PurchaseOrderLineOut(serializers.Serializer):
    id = serializers.IntegerField(help_text="Name it in a receipt.")
    sku = serializers.CharField(source="product.sku")
    lot_tracked = serializers.BooleanField(
        source="product.lot_tracked", help_text="A receipt of it needs a lot code (and its expiry date)."
    )
    quantity = serializers.IntegerField()
    received_quantity = serializers.IntegerField()
    outstanding = serializers.SerializerMethodField(help_text="Units still expected.")

    def get_outstanding(self, line) -> int:
        return line.quantity - line.received_quantity


@extend_schema_serializer(component_name="PurchaseOrderSupplier")
class SupplierOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


@extend_schema_serializer(component_name="PurchaseOrder")
class PurchaseOrderOut(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField(source="__str__", help_text="Our reference, e.g. PO-000012.")
    status = serializers.ChoiceField(choices=PurchaseOrderStatus.choices)
    supplier = SupplierOut()
    warehouse = serializers.CharField(source="warehouse.code", help_text="Where the goods are delivered.")
    expected_date = serializers.DateField(allow_null=True)
    lines = PurchaseOrderLineOut(many=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="PurchaseOrderReceiptLine")
class ReceiptLineIn(serializers.Serializer):
    line_id = serializers.IntegerField(min_value=1, max_value=2**31 - 1, help_text="The purchase order line.")
    quantity = serializers.IntegerField(
        min_value=1, max_value=MAX_UNITS, help_text="Units received now (at most what is outstanding)."
    )
    lot_code = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="Required for lot-tracked products.",
    )
    expiry_date = serializers.DateField(required=False, allow_null=True, default=None)


@extend_schema_serializer(component_name="PurchaseOrderReceipt")
class ReceiptIn(serializers.Serializer):
    lines = ReceiptLineIn(many=True, allow_empty=False, max_length=MAX_RECEIPT_LINES)
    delivery_note = serializers.CharField(
        max_length=MAX_DELIVERY_NOTE,
        required=False,
        allow_blank=True,
        default="",
        help_text="The supplier's delivery note number; kept in the ledger.",
    )
