"""Reads of the webhooks page: the endpoints with their queues, the delivery log, bounded counts."""

from django.db.models import QuerySet

from integrations.models import (
    ShopConnection,
    ShopWebhook,
    ShopWebhookStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookStatus,
)

COUNT_CAP = 10_000


def by_event(rows: QuerySet[WebhookDelivery], event: str) -> QuerySet[WebhookDelivery]:
    """``event`` as the endpoints read it: a name, or a prefix ending in a dot."""
    if not event:
        return rows
    return rows.filter(event_name__startswith=event) if event.endswith(".") else rows.filter(event_name=event)


def status_counts(*, endpoint_id: int | None = None) -> list[tuple[str, str, int]]:
    """(status, label, count) per delivery status, each bounded (no COUNT(*) over the log)."""
    rows = WebhookDelivery.objects.all()
    if endpoint_id is not None:
        rows = rows.filter(endpoint_id=endpoint_id)
    return [
        (status, label, rows.filter(status=status)[: COUNT_CAP + 1].count())
        for status, label in WebhookStatus.choices
    ]


def endpoints_overview() -> list[WebhookEndpoint]:
    """Every endpoint, disabled ones first, each with its waiting and given-up deliveries counted up
    to the cap (an endpoint down for a day may have a hundred thousand waiting)."""
    endpoints = list(WebhookEndpoint.objects.select_related("api_key").order_by("is_active", "url", "id"))
    for endpoint in endpoints:
        mine = WebhookDelivery.objects.filter(endpoint_id=endpoint.pk)
        endpoint.waiting = mine.filter(status=WebhookStatus.PENDING)[: COUNT_CAP + 1].count()
        endpoint.given_up = mine.filter(status=WebhookStatus.FAILED)[: COUNT_CAP + 1].count()
    return endpoints


def deliveries_log(
    *, endpoint_id: int | None = None, status: str = "", event: str = "", start=None, end=None
) -> QuerySet[WebhookDelivery]:
    """Newest first; ``event`` is a name or a prefix ending in a dot; [start, end) on creation."""
    rows = WebhookDelivery.objects.select_related("endpoint").defer("body", "response_body").order_by("-id")
    if endpoint_id is not None:
        rows = rows.filter(endpoint_id=endpoint_id)
    if status:
        rows = rows.filter(status=status)
    rows = by_event(rows, event)
    if start is not None:
        rows = rows.filter(created_at__gte=start)
    if end is not None:
        rows = rows.filter(created_at__lt=end)
    return rows


def shop_counts(*, connection_id: int | None = None) -> list[tuple[str, str, int]]:
    """(status, label, count) of the shops' calls, each bounded."""
    rows = ShopWebhook.objects.all()
    if connection_id is not None:
        rows = rows.filter(connection_id=connection_id)
    return [
        (status, label, rows.filter(status=status)[: COUNT_CAP + 1].count())
        for status, label in ShopWebhookStatus.choices
    ]


def shop_connections() -> list[ShopConnection]:
    return list(ShopConnection.objects.select_related("channel").order_by("code"))


def shop_webhooks(
    *, connection_id: int | None = None, status: str = "", query: str = ""
) -> QuerySet[ShopWebhook]:
    """Newest first; ``query`` is a shop order number (#9999, 727)."""
    rows = ShopWebhook.objects.select_related("connection", "order").defer("body").order_by("-id")
    if connection_id is not None:
        rows = rows.filter(connection_id=connection_id)
    if status:
        rows = rows.filter(status=status)
    if query:
        rows = rows.filter(external_id=query)
    return rows
