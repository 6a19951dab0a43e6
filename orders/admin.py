from django.contrib import admin, messages

from oms.admin import ReadOnlyAdmin
from oms.errors import DomainError
from orders import services
from orders.models import Address, ApiKey, Channel, Customer, Order, OrderEvent, OrderLine, Product


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "is_active", "created_at"]
    list_filter = ["kind", "is_active"]
    search_fields = ["code", "name"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # a disabled channel's keys must stop working at once, cached or not
        services.api_keys_forget(channel=obj)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "prefix",
        "channel",
        "scopes",
        "rate_limit_per_minute",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["channel"]
    fields = [
        "name",
        "channel",
        "scopes",
        "rate_limit_per_minute",
        "prefix",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "channel", "scopes"] if obj else self.readonly_fields

    def has_delete_permission(self, request, obj=None) -> bool:
        # Revoke instead: a revocation clears every process's cached copy at once, and the key's row
        # stays as the record of who acted with it. A deleted key lingered in caches for a minute.
        return False

    def save_model(self, request, obj, form, change):
        if change:
            services.api_key_update(
                key_id=obj.pk, name=obj.name, rate_limit_per_minute=obj.rate_limit_per_minute
            )
            return
        key, raw = services.api_key_create(
            name=obj.name,
            channel=obj.channel,
            scopes=obj.scopes or [],
            rate_limit_per_minute=obj.rate_limit_per_minute,
        )
        obj.pk = key.pk
        self.message_user(
            request, f"New key for {key.name}: {raw} — copy it now, it is not shown again.", messages.WARNING
        )

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        for key in queryset:
            services.api_key_revoke(key_id=key.pk)
        self.message_user(request, f"Revoked {queryset.count()} key(s).")


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["id", "email", "phone", "first_name", "last_name", "created_at"]
    search_fields = ["email", "phone", "first_name", "last_name"]


@admin.register(Address)
class AddressAdmin(ReadOnlyAdmin):
    list_display = ["id", "name", "line1", "postal_code", "city", "country"]
    search_fields = ["name", "line1", "city", "postal_code"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "weight_grams", "is_active", "updated_at"]
    list_filter = ["is_active"]
    search_fields = ["sku", "name"]


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    fields = [
        "line_number",
        "sku",
        "name",
        "quantity",
        "unit_price",
        "discount",
        "total",
        "qty_allocated",
        "qty_shipped",
        "qty_cancelled",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "kind", "from_status", "to_status", "actor_label", "note"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ["id", "channel", "external_id", "status", "total", "currency", "placed_at"]
    list_filter = ["status", "channel", "service_level", "payment_status"]
    search_fields = ["external_id", "customer__email"]
    list_select_related = ["channel"]
    inlines = [OrderLineInline, OrderEventInline]
    actions = ["cancel"]

    def has_change_permission(self, request, obj=None) -> bool:
        # Lets admins open an order and run actions; every field stays read-only.
        return request.user.has_perm("orders.change_order")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    @admin.action(description="Cancel the selected orders")
    def cancel(self, request, queryset):
        actor = services.Actor.for_user(request.user)
        for order in queryset:
            try:
                services.order_cancel(order_id=order.pk, actor=actor, reason="cancelled in admin")
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)


@admin.register(OrderLine)
class OrderLineAdmin(ReadOnlyAdmin):
    list_display = [
        "order",
        "line_number",
        "sku",
        "quantity",
        "qty_allocated",
        "qty_shipped",
        "qty_cancelled",
    ]
    search_fields = ["sku", "order__external_id"]
    list_select_related = ["order"]


@admin.register(OrderEvent)
class OrderEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "order", "kind", "from_status", "to_status", "actor_label"]
    list_filter = ["kind", "actor_type"]
