from django.contrib import admin

from kpis.definitions import KPIS
from kpis.models import HandlingCost, KpiAlert, Threshold


@admin.register(Threshold)
class ThresholdAdmin(admin.ModelAdmin):
    list_display = [
        "kpi",
        "channel",
        "warehouse",
        "carrier",
        "direction",
        "alert_at",
        "recover_at",
        "window_days",
        "is_active",
    ]
    list_filter = ["kpi", "is_active", "direction"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "kpi":
            from django import forms

            return forms.ChoiceField(
                choices=[
                    (k.code, f"{k.label} ({'a share: 0.95 is 95 %' if k.kind == 'rate' else k.unit})")
                    for k in KPIS
                ],
                label="KPI",
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)


@admin.register(HandlingCost)
class HandlingCostAdmin(admin.ModelAdmin):
    """Append-only: a new cost is a new row from its day on, so past days keep theirs."""

    list_display = ["warehouse", "valid_from", "per_shipment", "currency", "created_at"]
    list_filter = ["warehouse"]

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(KpiAlert)
class KpiAlertAdmin(admin.ModelAdmin):
    list_display = ["threshold", "status", "value", "opened_at", "recovered_value", "recovered_at"]
    list_filter = ["status"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
