"""Admins keep suppliers, production sites and reorder rules here; each rule shows the values its
demand suggests beside its own, and ops apply them to the rules they select. Suggestions and orders
are read-only here (their flow goes through the services)."""

from django.contrib import admin, messages

from oms.admin import ReadOnlyAdmin
from replenishment import services
from replenishment.demand import suggested_values
from replenishment.models import (
    ProductionOrder,
    ProductionSite,
    PurchaseOrder,
    PurchaseOrderLine,
    ReorderRule,
    Suggestion,
    Supplier,
)


@admin.register(Supplier)
class SupplierAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "lead_time_days", "email", "is_active"]
    search_fields = ["code", "name"]


@admin.register(ProductionSite)
class ProductionSiteAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "warehouse", "lead_time_days", "capacity_per_day", "is_active"]


@admin.register(ReorderRule)
class ReorderRuleAdmin(admin.ModelAdmin):
    list_display = [
        "product",
        "warehouse",
        "source",
        "reorder_point",
        "order_up_to",
        "suggested",
        "min_order_qty",
        "order_multiple",
        "is_active",
    ]
    list_filter = ["source", "warehouse", "is_active"]
    search_fields = ["product__sku"]
    raw_id_fields = ["product"]
    actions = ["apply_suggested"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("product", "warehouse", "supplier", "production_site")
        )

    @admin.display(description="Suggested (reorder point / up to)")
    def suggested(self, rule: ReorderRule) -> str:
        values = suggested_values([rule])[rule.pk]
        return (
            f"{values.reorder_point} / {values.order_up_to} "
            f"(demand {values.mean_daily:g} ± {values.sigma_daily:g} a day, {values.lead_time_days} d lead)"
        )

    @admin.action(description="Apply the suggested reorder point and order-up-to level")
    def apply_suggested(self, request, queryset) -> None:
        rules = services.rules_apply_suggested(
            rule_ids=list(queryset.values_list("pk", flat=True)), actor=request.user.username
        )
        self.message_user(request, f"{len(rules)} rule(s) now use their suggested values.", messages.SUCCESS)


class PurchaseOrderLineInline(admin.TabularInline):
    model = PurchaseOrderLine
    extra = 0
    can_delete = False
    readonly_fields = ["product", "quantity", "received_quantity"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "supplier", "warehouse", "status", "expected_date", "created_at"]
    list_filter = ["status", "supplier", "warehouse"]
    inlines = [PurchaseOrderLineInline]


@admin.register(ProductionOrder)
class ProductionOrderAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "site", "product", "quantity", "produced_quantity", "status", "due_date"]
    list_filter = ["status", "site"]


@admin.register(Suggestion)
class SuggestionAdmin(ReadOnlyAdmin):
    list_display = ["id", "position", "kind", "quantity", "status", "updated_at"]
    list_filter = ["status", "kind"]
