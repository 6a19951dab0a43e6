from django.contrib import admin

from inventory.models import StockMovement, StockPosition, Warehouse


@admin.register(Warehouse)
class WarehouseAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "city", "country", "cutoff_time", "capacity_per_day", "is_active"]
    list_filter = ["kind", "country", "is_active"]
    search_fields = ["code", "name", "city"]


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
    readonly_fields = ["on_hand", "allocated", "in_transit"]


@admin.register(StockMovement)
class StockMovementAdmin(admin.ModelAdmin):
    list_display = ["created_at", "position", "kind", "quantity", "allocated_delta", "reference", "actor"]
    list_filter = ["kind"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
