"""Cross-cutting tables: the domain-event outbox and idempotency records."""

from django.db import models


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
    """Marks that one handler has processed one event, so a redelivered event is not handled twice."""

    event = models.ForeignKey(DomainEvent, on_delete=models.CASCADE, related_name="deliveries")
    handler = models.CharField(max_length=128)
    processed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "handler"], name="eventdelivery_once")]

    def __str__(self) -> str:
        return f"{self.handler} handled event {self.event_id}"


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
