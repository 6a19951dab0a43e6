from django.contrib import admin

from oms.admin import ReadOnlyAdmin
from tracking.models import (
    CarrierBreaker,
    EtaPrediction,
    TrackingEvent,
    TrackingLink,
    TrackingState,
    WebhookDelivery,
)


@admin.register(TrackingEvent)
class TrackingEventAdmin(ReadOnlyAdmin):
    list_display = ["tracking_number", "milestone", "carrier_code", "occurred_at", "received_at", "source"]
    list_filter = ["milestone", "source"]
    search_fields = ["tracking_number"]


@admin.register(TrackingState)
class TrackingStateAdmin(ReadOnlyAdmin):
    list_display = ["shipment", "milestone", "milestone_at", "next_poll_at", "silent_since", "is_active"]
    list_filter = ["milestone", "is_active"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["pk", "carrier", "external_id", "received_at", "status", "processed_at"]
    list_filter = ["carrier", "status"]


@admin.register(CarrierBreaker)
class CarrierBreakerAdmin(ReadOnlyAdmin):
    list_display = ["carrier", "state", "failures", "opened_at"]


@admin.register(EtaPrediction)
class EtaPredictionAdmin(ReadOnlyAdmin):
    list_display = [
        "shipment",
        "made_at",
        "milestone",
        "predicted_date",
        "earliest",
        "latest",
        "actual_date",
        "error_days",
    ]


@admin.register(TrackingLink)
class TrackingLinkAdmin(ReadOnlyAdmin):
    list_display = ["order", "created_at"]
    exclude = ["token"]
