from django.contrib import admin, messages

from integrations import services
from integrations.models import (
    ExportEntry,
    OrderImport,
    ProductCost,
    ShopConnection,
    ShopSync,
    ShopSyncStatus,
    ShopWebhook,
    ShopWebhookStatus,
    SkuMapping,
    WebhookDelivery,
    WebhookEndpoint,
)
from integrations.shops import services as shops
from oms.errors import DomainError


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = [
        "url",
        "api_key",
        "events",
        "public_only",
        "is_active",
        "consecutive_failures",
        "disabled_at",
        "disabled_reason",
    ]
    list_filter = ["is_active", "public_only"]
    readonly_fields = ["consecutive_failures", "disabled_at", "disabled_reason", "created_at"]
    actions = ["enable"]

    @admin.action(description="Enable again (pending deliveries are sent now)")
    def enable(self, request, queryset):
        for endpoint in queryset:
            services.endpoint_enable(endpoint_id=endpoint.pk)
        self.message_user(request, f"{queryset.count()} endpoint(s) enabled.", messages.SUCCESS)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """The delivery log: each event sent to each endpoint, its body, tries and the last answer."""

    list_display = [
        "event_name",
        "endpoint",
        "status",
        "attempts",
        "response_status",
        "last_attempt_at",
        "error",
    ]
    list_filter = ["status", "endpoint", "event_name"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    actions = ["replay"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Send again (same body and webhook-id)")
    def replay(self, request, queryset):
        count = services.deliveries_replay(delivery_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} delivery(ies) will be sent again.", messages.SUCCESS)


class SkuMappingInline(admin.TabularInline):
    model = SkuMapping
    extra = 1
    fields = ["channel_sku", "sku", "stock_ref", "pushed_available", "pushed_at", "push_error"]
    readonly_fields = ["pushed_available", "pushed_at", "push_error"]


@admin.register(ShopConnection)
class ShopConnectionAdmin(admin.ModelAdmin):
    """A shop whose webhooks bring its orders into a channel; its SKUs that differ from ours below."""

    list_display = ["code", "platform", "channel", "shop_url", "push_stock", "is_active"]
    list_filter = ["platform", "is_active"]
    inlines = [SkuMappingInline]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        from django import forms

        if db_field.name in ("webhook_secret", "api_secret"):
            kwargs["widget"] = forms.PasswordInput(render_value=True)
        return super().formfield_for_dbfield(db_field, request, **kwargs)


@admin.register(ShopWebhook)
class ShopWebhookAdmin(admin.ModelAdmin):
    """The shops' inbox: each call as received and what was done with it."""

    list_display = ["received_at", "connection", "topic", "external_id", "status", "outcome"]
    list_filter = ["status", "connection", "topic"]
    search_fields = ["external_id", "webhook_id"]
    readonly_fields = [f.name for f in ShopWebhook._meta.fields]
    actions = ["retry"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Try again (after mapping a SKU or adding a product)")
    def retry(self, request, queryset):
        done = 0
        for hook in queryset.filter(status=ShopWebhookStatus.FAILED):
            try:
                shops.shop_webhook_retry(webhook_id=hook.pk)
                done += 1
            except DomainError as exc:
                self.message_user(request, f"{hook}: {exc.message}", messages.WARNING)
        self.message_user(request, f"{done} shop webhook(s) tried again.", messages.SUCCESS)


@admin.register(ShopSync)
class ShopSyncAdmin(admin.ModelAdmin):
    """What the shops were told of their orders (fulfilments, cancellations), and what waits."""

    list_display = [
        "created_at",
        "link",
        "kind",
        "reference",
        "status",
        "attempts",
        "response_status",
        "error",
    ]
    list_filter = ["status", "kind", "link__connection"]
    readonly_fields = [f.name for f in ShopSync._meta.fields]
    actions = ["retry"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Send again (given-up ones)")
    def retry(self, request, queryset):
        from integrations.shops import sync

        done = 0
        for row in queryset.filter(status=ShopSyncStatus.FAILED):
            sync.shop_sync_retry(sync_id=row.pk)
            done += 1
        self.message_user(request, f"{done} sync(s) will be sent again.", messages.SUCCESS)


@admin.register(ProductCost)
class ProductCostAdmin(admin.ModelAdmin):
    """What a unit costs us from a day on, for the stock valuation feed: a new cost is a new row."""

    list_display = ["sku", "unit_cost", "currency", "valid_from"]
    search_fields = ["sku"]

    def has_change_permission(self, request, obj=None):
        return obj is None


@admin.register(ExportEntry)
class ExportEntryAdmin(admin.ModelAdmin):
    """The ERP feeds' entries, as the API gives them out."""

    list_display = ["feed", "seq", "key", "created_at"]
    list_filter = ["feed"]
    search_fields = ["key"]
    readonly_fields = [f.name for f in ExportEntry._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(OrderImport)
class OrderImportAdmin(admin.ModelAdmin):
    list_display = ["file_name", "channel", "status", "total", "created", "duplicates", "created_at"]
    list_filter = ["status", "channel"]
    exclude = ["content"]
    readonly_fields = [f.name for f in OrderImport._meta.fields if f.name != "content"]

    def has_add_permission(self, request):
        return False
