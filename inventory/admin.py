from django.contrib import admin

from inventory.models import (
    Allocation,
    BinLocation,
    Lot,
    StockMovement,
    StockPosition,
    Transfer,
    Warehouse,
    WarehouseDayLoad,
)
from oms.admin import ReadOnlyAdmin


@admin.register(Warehouse)
class WarehouseAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "city", "country", "cutoff_time", "capacity_per_day", "is_active"]
    list_filter = ["kind", "country", "is_active"]
    search_fields = ["code", "name", "city"]


@admin.register(BinLocation)
class BinLocationAdmin(admin.ModelAdmin):
    list_display = ["warehouse", "code"]
    list_filter = ["warehouse"]
    search_fields = ["code"]


@admin.register(StockPosition)
class StockPositionAdmin(admin.ModelAdmin):
    list_display = [
        "warehouse",
        "product",
        "on_hand",
        "allocated",
        "in_transit",
        "safety_stock",
        "updated_at",
    ]
    list_filter = ["warehouse"]
    search_fields = ["product__sku", "product__name"]
    list_select_related = ["warehouse", "product"]
    # Only the safety stock and default bin are settings; the figures belong to the ledger.
    readonly_fields = ["warehouse", "product", "on_hand", "allocated", "in_transit"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Lot)
class LotAdmin(ReadOnlyAdmin):
    list_display = ["code", "position", "expiry_date", "bin", "on_hand", "allocated"]
    search_fields = ["code", "position__product__sku"]


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "position",
        "lot",
        "kind",
        "quantity",
        "allocated_delta",
        "in_transit_delta",
        "reference_type",
        "reference",
        "actor",
    ]
    list_filter = ["kind", "reference_type"]


@admin.register(Allocation)
class AllocationAdmin(ReadOnlyAdmin):
    list_display = ["order_line", "position", "lot", "quantity", "status", "created_at"]
    list_filter = ["status"]


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    list_display = [
        "pk",
        "product",
        "from_warehouse",
        "to_warehouse",
        "quantity",
        "status",
        "created_at",
        "received_at",
    ]
    list_filter = ["status"]


@admin.register(WarehouseDayLoad)
class WarehouseDayLoadAdmin(ReadOnlyAdmin):
    list_display = ["day", "warehouse", "orders"]
    list_filter = ["warehouse"]
