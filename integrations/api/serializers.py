"""Bodies of the webhook subscription API: shapes and limits only; what a URL may be (public, at most
so long) and which events exist are the services' business."""

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from integrations.models import MAX_EVENT_LENGTH, MAX_EVENTS, WebhookDelivery, WebhookEndpoint, WebhookStatus
from integrations.services import MAX_URL_LENGTH
from oms.api.schema import StrictBooleanField

EVENTS_HELP = (
    "Event names (`order.shipped`) or prefixes ending in a dot (`order.`, `shipment.`); empty or left "
    "out: every event your key may see. A channel's key hears only of its own orders."
)
URL_HELP = (
    "Where we POST each event: http or https, to a public address (private, loopback and link-local "
    "addresses are refused, when saved and again before every try). Redirects are not followed."
)


def _events_field(**kwargs) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=MAX_EVENT_LENGTH),
        max_length=MAX_EVENTS,
        help_text=EVENTS_HELP,
        **kwargs,
    )


@extend_schema_serializer(component_name="WebhookEndpointRequest")
class EndpointCreateIn(serializers.Serializer):
    url = serializers.URLField(max_length=MAX_URL_LENGTH, help_text=URL_HELP)
    events = _events_field(required=False, default=list)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


@extend_schema_serializer(component_name="WebhookEndpointUpdate")
class EndpointUpdateIn(serializers.Serializer):
    url = serializers.URLField(max_length=MAX_URL_LENGTH, required=False, help_text=URL_HELP)
    events = _events_field(required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    active = StrictBooleanField(
        required=False,
        help_text="false pauses the endpoint (events wait for it); true turns it on again, also after we "
        "disabled it for failing, and sends what waited, in order.",
    )


@extend_schema_serializer(component_name="WebhookReplayRequest")
class ReplayIn(serializers.Serializer):
    start = serializers.DateTimeField(help_text="Deliveries created at or after this time…")
    end = serializers.DateTimeField(help_text="…and before this one.")
    status = serializers.ChoiceField(
        choices=[WebhookStatus.FAILED, WebhookStatus.SUCCEEDED],
        default=WebhookStatus.FAILED,
        help_text="`failed`: the ones we gave up on; `succeeded`: the ones you answered 2xx but lost.",
    )


@extend_schema_serializer(component_name="WebhookEndpoint")
class EndpointOut(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField()
    events = serializers.ListField(child=serializers.CharField())
    description = serializers.CharField()
    active = serializers.BooleanField(source="is_active")
    consecutive_failures = serializers.IntegerField(help_text="Failed tries in a row (0 after a success).")
    disabled_at = serializers.DateTimeField(
        allow_null=True, help_text="When we disabled it after too many failures in a row."
    )
    disabled_reason = serializers.CharField()
    created_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="WebhookEndpointWithSecret")
class EndpointWithSecretOut(EndpointOut):
    secret = serializers.CharField(
        help_text="`whsec_` and the base64 key that signs every delivery (Standard Webhooks). Shown when "
        "the endpoint is created and when the secret is rotated, never again: keep it."
    )


@extend_schema_serializer(component_name="WebhookDelivery")
class DeliveryOut(serializers.Serializer):
    id = serializers.IntegerField()
    webhook_id = serializers.SerializerMethodField(help_text="The `webhook-id` header: the event's id.")
    type = serializers.CharField(source="event_name")
    status = serializers.ChoiceField(choices=WebhookStatus.choices)
    attempts = serializers.IntegerField()
    response_status = serializers.IntegerField(allow_null=True)
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    next_attempt_at = serializers.DateTimeField(allow_null=True, help_text="While pending: the next try.")
    delivered_at = serializers.DateTimeField(allow_null=True)

    def get_webhook_id(self, delivery: WebhookDelivery) -> str:
        return f"evt_{delivery.event_id}"

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if instance.status != WebhookStatus.PENDING:
            data["next_attempt_at"] = None
        return data


@extend_schema_serializer(component_name="WebhookReplay")
class ReplayOut(serializers.Serializer):
    replayed = serializers.IntegerField(help_text="Deliveries that will be sent again, in order.")


def endpoint_json(endpoint: WebhookEndpoint, *, with_secret: bool = False) -> dict:
    data = (EndpointWithSecretOut if with_secret else EndpointOut)(endpoint).data
    return dict(data)


@extend_schema_serializer(component_name="ShopWebhookAck")
class ShopWebhookAckOut(serializers.Serializer):
    received = serializers.BooleanField()
    duplicate = serializers.BooleanField(help_text="This delivery was received before: not applied again.")
    ignored = serializers.BooleanField(help_text="A topic we do not act on, or a ping: nothing stored.")


@extend_schema_serializer(component_name="ExportAckRequest")
class ExportAckIn(serializers.Serializer):
    cursor = serializers.RegexField(
        r"^[0-9]{1,18}$",
        max_length=18,
        help_text="The `next_cursor` (or an entry's `cursor`) you have taken.",
    )


@extend_schema_serializer(component_name="ExportAck")
class ExportAckOut(serializers.Serializer):
    acked = serializers.CharField(help_text="How far the feed is acknowledged: never moves back.")


@extend_schema_serializer(component_name="ExportPage")
class ExportPageOut(serializers.Serializer):
    entries = serializers.ListField(
        child=serializers.DictField(),
        help_text="In order. Each has its `cursor`, its `key` (the same entry has the same key, "
        "e.g. `shipment:12`), `recorded_at`, and the feed's own fields (see the feed's description).",
    )
    next_cursor = serializers.CharField(help_text="Pass as `after` for the next page; ack it once stored.")
    has_more = serializers.BooleanField()
