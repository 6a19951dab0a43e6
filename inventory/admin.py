from django import forms
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
from orders.geocoding import city_centroid


class WarehouseForm(forms.ModelForm):
    """Coordinates may be left out: the centre of the warehouse's city stands in for them (routing
    measures distances from there), when the OMS's city table knows the city."""

    class Meta:
        model = Warehouse
        fields = [
            "code",
            "name",
            "kind",
            "line1",
            "city",
            "postal_code",
            "country",
            "latitude",
            "longitude",
            "time_zone",
            "cutoff_time",
            "capacity_per_day",
            "is_active",
            "accepts_returns",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("latitude", "longitude"):
            self.fields[name].required = False
            self.fields[name].help_text = "Leave empty to use the centre of the city."

    def clean(self):
        data = super().clean()
        if data.get("latitude") is None or data.get("longitude") is None:
            point = city_centroid(data.get("country") or "", data.get("city") or "")
            if point is None:
                raise forms.ValidationError(
                    "The city is not in the OMS's table of places: give the latitude and longitude."
                )
            data["latitude"], data["longitude"] = point
        return data


@admin.register(Warehouse)
class WarehouseAdmin(admin.ModelAdmin):
    form = WarehouseForm
    list_display = [
        "code",
        "name",
        "kind",
        "city",
        "country",
        "cutoff_time",
        "capacity_per_day",
        "is_active",
        "accepts_returns",
    ]
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
