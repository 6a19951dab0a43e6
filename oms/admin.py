from django.contrib import admin

from oms.models import DomainEvent, EventDelivery, IdempotencyRecord

# The admin speaks as the OMS's, not as a generic Django site.
admin.site.site_header = "OMS back office · administration"
admin.site.site_title = "OMS admin"
admin.site.index_title = "Rules, warehouses, carriers and keys"


class ReadOnlyAdmin(admin.ModelAdmin):
    """For rows only services write (orders, history, ledgers, decisions): admins look, services change."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(DomainEvent)
class DomainEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "name", "aggregate_type", "aggregate_id", "created_at", "published_at"]
    list_filter = ["name", "aggregate_type"]
    search_fields = ["aggregate_id"]


@admin.register(EventDelivery)
class EventDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["event", "handler", "attempts", "queued_at", "due_at", "processed_at", "last_error"]
    list_filter = ["handler"]


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    list_display = ["principal", "key", "method", "path", "response_status", "created_at"]
    search_fields = ["key"]
