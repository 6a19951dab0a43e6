"""Cross-cutting tables: the domain-event outbox and idempotency records."""

from django.db import models
from django.utils import timezone


class DomainEvent(models.Model):
    """An event appended in the same transaction as the change it describes (transactional outbox).

    The relay publishes committed rows to their handlers; ``published_at`` stays empty until then,
    so a crash between commit and publish only delays an event, never loses it.
    """

    name = models.CharField(max_length=64, db_index=True)
    aggregate_type = models.CharField(max_length=32)
    aggregate_id = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["id"], name="domainevent_unpublished", condition=models.Q(published_at__isnull=True)
            ),
            models.Index(fields=["aggregate_type", "aggregate_id"], name="domainevent_aggregate"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.aggregate_type}:{self.aggregate_id}"


class EventDelivery(models.Model):
    """One handler's work on one event, from publication until the handler's transaction commits.

    The relay writes a pending row (``processed_at`` empty) for every handler when it publishes an
    event; the handler's transaction claims the row and stamps ``processed_at``, so the work is done
    at most once. A row still pending at ``due_at`` (a worker killed mid-task, a lost broker message,
    a handler that failed) is delivered again by the periodic sweep, with a growing delay.
    """

    event = models.ForeignKey(DomainEvent, on_delete=models.CASCADE, related_name="deliveries")
    handler = models.CharField(max_length=128)
    queued_at = models.DateTimeField(default=timezone.now, help_text="Last handed to the broker.")
    due_at = models.DateTimeField(
        null=True, blank=True, help_text="Delivered again from then on if still not processed."
    )
    attempts = models.PositiveIntegerField(default=1, help_text="Times handed to the broker.")
    last_error = models.TextField(blank=True, help_text="Why the last attempt failed, if it did.")
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "event deliveries"
        constraints = [models.UniqueConstraint(fields=["event", "handler"], name="eventdelivery_once")]
        indexes = [
            models.Index(
                fields=["due_at"], name="eventdelivery_pending", condition=models.Q(processed_at__isnull=True)
            )
        ]

    def __str__(self) -> str:
        state = "handled" if self.processed_at else "pending"
        return f"{self.handler} {state} for event {self.event_id}"


class IdempotencyRecord(models.Model):
    """The stored response of a POST made with an ``Idempotency-Key``, per API client."""

    principal = models.CharField(max_length=64, help_text="Who sent the request, e.g. apikey:12.")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["principal", "key"], name="idempotency_once")]

    def __str__(self) -> str:
        return f"{self.principal} {self.key}"
