from django.contrib import admin

from oms.models import DomainEvent, EventDelivery, IdempotencyRecord


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
    list_display = ["event", "handler", "processed_at"]


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    list_display = ["principal", "key", "method", "path", "response_status", "created_at"]
    search_fields = ["key"]
