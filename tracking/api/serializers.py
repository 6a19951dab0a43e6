"""The public tracking JSON and the webhook acknowledgement: shapes only."""

from rest_framework import serializers


class TrackEventOut(serializers.Serializer):
    at = serializers.DateTimeField(help_text="When it happened (the carrier's time).")
    milestone = serializers.CharField()
    text = serializers.CharField(help_text="What happened, in the customer's words.")
    place = serializers.CharField(help_text="Where, when the carrier says.")


class TrackParcelOut(serializers.Serializer):
    carrier = serializers.CharField()
    tracking_number = serializers.CharField()
    status = serializers.CharField(help_text="The latest milestone.")
    status_text = serializers.CharField()
    next_step = serializers.CharField(allow_null=True, help_text="What comes next, in words.")
    delivery_estimate = serializers.DateField(allow_null=True)
    delivery_window = serializers.ListField(
        child=serializers.DateField(), help_text="Earliest and latest day."
    )
    delivered_at = serializers.DateTimeField(allow_null=True)
    events = TrackEventOut(many=True)


class TrackOut(serializers.Serializer):
    order = serializers.CharField(help_text="Our order number.")
    first_name = serializers.CharField(help_text="No other personal data is shown.")
    city = serializers.CharField()
    parcels = TrackParcelOut(many=True)


class WebhookAckOut(serializers.Serializer):
    received = serializers.BooleanField()
    duplicate = serializers.BooleanField(help_text="The same event came before; nothing new was stored.")
