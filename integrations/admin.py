from django.contrib import admin, messages

from integrations import services
from integrations.models import WebhookDelivery, WebhookEndpoint


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
