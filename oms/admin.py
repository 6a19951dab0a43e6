from django.contrib import admin

from oms.models import DomainEvent, EventDelivery, IdempotencyRecord


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(DomainEvent)
class DomainEventAdmin(ReadOnly):
    list_display = ["id", "name", "aggregate_type", "aggregate_id", "created_at", "published_at"]
    list_filter = ["name", "aggregate_type"]
    search_fields = ["aggregate_id"]


@admin.register(EventDelivery)
class EventDeliveryAdmin(ReadOnly):
    list_display = ["event", "handler", "processed_at"]


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnly):
    list_display = ["principal", "key", "method", "path", "response_status", "created_at"]
    search_fields = ["key"]
