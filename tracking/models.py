"""Delivery tracking: every carrier event stored in full and once, each shipment's state derived from
its events, the webhook inbox, per-carrier circuit breakers for polling, ETA predictions kept to
measure their accuracy, and the public tracking links customers get."""

import secrets

from django.db import models
from django.db.models import Q

from shipments.carriers.base import Milestone

MILESTONE_CHOICES = [(m, m.replace("_", " ").capitalize()) for m in Milestone.ALL]


class EventSource(models.TextChoices):
    WEBHOOK = "webhook", "Webhook"  # the carrier pushed it
    POLL = "poll", "Poll"  # we asked the carrier
    FALLBACK = "fallback", "Fallback source"  # asked another source while the carrier's feed was down


class TrackingEvent(models.Model):
    """One carrier event as received. Append-only; the same event received twice is one row."""

    shipment = models.ForeignKey(
        "shipments.Shipment", on_delete=models.CASCADE, related_name="tracking_events"
    )
    tracking_number = models.CharField(max_length=64)
    carrier_code = models.CharField(max_length=64, help_text="The carrier's own status code, as sent.")
    description = models.CharField(max_length=300, blank=True)
    location = models.CharField(max_length=200, blank=True)
    occurred_at = models.DateTimeField(help_text="The carrier's timestamp.")
    received_at = models.DateTimeField(help_text="When the OMS stored it.")
    milestone = models.CharField(max_length=24, choices=MILESTONE_CHOICES)
    incident = models.CharField(max_length=16, blank=True, help_text="Why, for exceptions.")
    source = models.CharField(max_length=16, choices=EventSource.choices)
    dedupe_key = models.CharField(max_length=64, help_text="SHA-256 of number, code, time and text.")

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "dedupe_key"], name="trackingevent_once"),
        ]
        indexes = [models.Index(fields=["shipment", "occurred_at"], name="trackingevent_shipment_time")]

    def __str__(self) -> str:
        return f"{self.tracking_number} {self.milestone} at {self.occurred_at:%Y-%m-%d %H:%M}"


class TrackingState(models.Model):
    """What the events say about one shipment now, and when to ask the carrier next."""

    shipment = models.OneToOneField("shipments.Shipment", on_delete=models.CASCADE, related_name="tracking")
    milestone = models.CharField(max_length=24, choices=MILESTONE_CHOICES, default=Milestone.LABEL_CREATED)
    milestone_at = models.DateTimeField(null=True, blank=True)
    incident = models.CharField(max_length=16, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True, help_text="Carrier time of the newest event.")
    last_received_at = models.DateTimeField(null=True, blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    poll_failures = models.PositiveIntegerField(default=0)
    silent_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set when the feed has been quiet too long; cleared by the next event.",
    )
    promised_date = models.DateField(
        null=True, blank=True, help_text="Promised to the customer at order time."
    )
    carrier_estimate = models.DateField(null=True, blank=True, help_text="The carrier's latest estimate.")
    predicted_date = models.DateField(null=True, blank=True, help_text="Ours, from lane history.")
    predicted_earliest = models.DateField(null=True, blank=True)
    predicted_latest = models.DateField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    delay_reported = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True, help_text="Still followed (not delivered or returned).")

    class Meta:
        indexes = [models.Index(fields=["is_active", "next_poll_at"], name="trackingstate_due")]

    def __str__(self) -> str:
        return f"{self.shipment_id}: {self.milestone}"


class WebhookStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # stored and acknowledged, not processed yet
    PROCESSED = "processed", "Processed"  # its events are stored
    FAILED = "failed", "Failed"  # could not be read; kept for support


class WebhookDelivery(models.Model):
    """The inbox: a verified call as received, stored before it is acknowledged."""

    carrier = models.ForeignKey("shipments.Carrier", on_delete=models.PROTECT, related_name="webhooks")
    received_at = models.DateTimeField(auto_now_add=True)
    external_id = models.CharField(max_length=100, blank=True, help_text="The provider's event id.")
    body = models.TextField()
    status = models.CharField(max_length=16, choices=WebhookStatus.choices, default=WebhookStatus.PENDING)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-id"]
        # the sweep's question, each minute: only the few calls not processed yet are in it
        indexes = [
            models.Index(fields=["received_at", "id"], condition=Q(status="pending"), name="webhook_pending")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["carrier", "external_id"], condition=~Q(external_id=""), name="webhook_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.carrier_id} webhook {self.pk}"


class BreakerState(models.TextChoices):
    CLOSED = "closed", "Closed"  # calls go through
    OPEN = "open", "Open"  # too many failures: no calls until the cool-down ends
    HALF_OPEN = "half_open", "Half open"  # one trial call decides


class CarrierBreaker(models.Model):
    carrier = models.OneToOneField("shipments.Carrier", on_delete=models.CASCADE, related_name="breaker")
    state = models.CharField(max_length=16, choices=BreakerState.choices, default=BreakerState.CLOSED)
    failures = models.PositiveIntegerField(default=0, help_text="Consecutive failed calls.")
    opened_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.carrier_id}: {self.state}"


class EtaPrediction(models.Model):
    """Each prediction as made, and once delivered how far off it was."""

    shipment = models.ForeignKey(
        "shipments.Shipment", on_delete=models.CASCADE, related_name="eta_predictions"
    )
    made_at = models.DateTimeField(auto_now_add=True)
    milestone = models.CharField(max_length=24, help_text="The milestone when it was made.")
    predicted_date = models.DateField()
    earliest = models.DateField()
    latest = models.DateField()
    basis = models.CharField(max_length=200, help_text="e.g. 'lane ATH1>GR-10, 23 deliveries'.")
    actual_date = models.DateField(null=True, blank=True)
    error_days = models.IntegerField(null=True, blank=True)
    inside_window = models.BooleanField(null=True, blank=True)

    class Meta:
        verbose_name = "ETA prediction"
        ordering = ["made_at", "id"]

    def __str__(self) -> str:
        return f"{self.shipment_id}: {self.predicted_date}"


# Customers read links aloud and type them from paper: no characters that look alike (0 O o, 1 l I).
TOKEN_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
TOKEN_LENGTH = 24  # 24 symbols of 55: about 139 random bits


def new_token() -> str:
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


class TrackingLink(models.Model):
    """The unguessable link a customer follows to see an order's deliveries."""

    order = models.OneToOneField("orders.Order", on_delete=models.CASCADE, related_name="tracking_link")
    token = models.CharField(max_length=40, unique=True, default=new_token)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"tracking link of {self.order_id}"
