"""Reads of returns that the API, the dashboard and the tracking page share."""

from django.db.models import QuerySet

from returns.models import Return


def returns_with_lines() -> QuerySet[Return]:
    return Return.objects.select_related("channel", "return_location").prefetch_related(
        "lines__order_line__order", "lines__reason", "lines__exchange_product", "events"
    )


def return_detail(*, return_id: int, channel_id: int | None = None) -> Return | None:
    """One return; with ``channel_id``, only that channel's."""
    query = returns_with_lines().filter(pk=return_id)
    if channel_id is not None:
        query = query.filter(channel_id=channel_id)
    return query.first()
