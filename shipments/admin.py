from django.contrib import admin

from oms.admin import ReadOnlyAdmin
from shipments.models import (
    Carrier,
    CarrierCall,
    CarrierService,
    Label,
    Package,
    PackageLine,
    PickList,
    PickListLine,
    Shipment,
    ShipmentEvent,
    WaveSchedule,
)


class CarrierServiceInline(admin.TabularInline):
    model = CarrierService
    extra = 0


@admin.register(Carrier)
class CarrierAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "adapter", "credentials_env", "is_active"]
    list_filter = ["adapter", "is_active"]
    inlines = [CarrierServiceInline]


@admin.register(CarrierService)
class CarrierServiceAdmin(admin.ModelAdmin):
    list_display = ["carrier", "code", "carrier_name", "name", "service_level", "is_active"]
    list_filter = ["carrier", "service_level", "is_active"]


@admin.register(WaveSchedule)
class WaveScheduleAdmin(admin.ModelAdmin):
    list_display = ["warehouse", "every_minutes", "max_orders", "is_active", "last_released_at"]


class PickListLineInline(admin.TabularInline):
    model = PickListLine
    extra = 0
    can_delete = False
    readonly_fields = [f.name for f in PickListLine._meta.fields]


@admin.register(PickList)
class PickListAdmin(ReadOnlyAdmin):
    """Pick lists change through the dashboard (release, confirm, cancel), never by hand here."""

    list_display = ["number", "warehouse", "status", "released_by", "released_at", "confirmed_at"]
    list_filter = ["warehouse", "status"]
    inlines = [PickListLineInline]


class PackageLineInline(admin.TabularInline):
    model = PackageLine
    extra = 0
    can_delete = False
    readonly_fields = ["order_line", "quantity"]


@admin.register(Package)
class PackageAdmin(ReadOnlyAdmin):
    list_display = ["pk", "order", "warehouse", "shipment", "weight_grams", "tracking_number", "created_at"]
    search_fields = ["tracking_number"]
    inlines = [PackageLineInline]


class ShipmentEventInline(admin.TabularInline):
    model = ShipmentEvent
    extra = 0
    can_delete = False
    readonly_fields = ["from_status", "to_status", "actor", "note", "data", "created_at"]


@admin.register(Shipment)
class ShipmentAdmin(ReadOnlyAdmin):
    list_display = [
        "reference",
        "order",
        "warehouse",
        "service",
        "status",
        "tracking_number",
        "cost",
        "shipped_at",
    ]
    list_filter = ["status", "warehouse", "service__carrier"]
    search_fields = ["tracking_number"]
    inlines = [ShipmentEventInline]


@admin.register(Label)
class LabelAdmin(ReadOnlyAdmin):
    list_display = ["package", "format", "source", "created_at"]
    exclude = ["content"]


@admin.register(CarrierCall)
class CarrierCallAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "carrier", "shipment", "operation", "outcome", "duration_ms"]
    list_filter = ["carrier", "operation", "outcome"]


admin.site.register(PackageLine, ReadOnlyAdmin)
admin.site.register(PickListLine, ReadOnlyAdmin)
admin.site.register(ShipmentEvent, ReadOnlyAdmin)
