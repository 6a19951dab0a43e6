"""Reads of customer messaging: the message list and its queue counts, an order's messages, and the
rates per template, channel and day counted from the message history."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate

from notifications.models import Message, MessageStatus

COUNT_CAP = 10_000


def status_counts() -> list[tuple[str, str, int]]:
    """(status, label, count) for each status, each count bounded (no COUNT(*) over the table)."""
    return [
        (status, label, Message.objects.filter(status=status)[: COUNT_CAP + 1].count())
        for status, label in MessageStatus.choices
    ]


def messages_list(
    *, status: str = "", trigger: str = "", channel: str = "", medium: str = "", query: str = ""
) -> QuerySet[Message]:
    rows = Message.objects.select_related("order", "channel").order_by("-id")
    if status:
        rows = rows.filter(status=status)
    if trigger:
        rows = rows.filter(trigger=trigger)
    if channel:
        rows = rows.filter(channel__code=channel)
    if medium:
        rows = rows.filter(medium=medium)
    query = query.strip()
    if query:
        if "@" in query or query.startswith("+"):
            rows = rows.filter(recipient=query.lower() if "@" in query else query)
        else:
            from orders.models import order_pk_from_number

            order_id = order_pk_from_number(query)
            match = Q(order__external_id=query)
            rows = rows.filter(match | Q(order_id=order_id) if order_id else match)
    return rows


def messages_of_order(order_id: int) -> list[Message]:
    return list(Message.objects.filter(order_id=order_id).order_by("-id")[:50])


@dataclass
class RateRow:
    key: str
    label: str
    sent: int = 0
    delivered: int = 0
    bounced: int = 0
    opened: int = 0
    clicked: int = 0
    unsubscribed: int = 0

    def add(self, row: dict) -> None:
        for name in ("sent", "delivered", "bounced", "opened", "clicked", "unsubscribed"):
            setattr(self, name, getattr(self, name) + row[name])

    def _rate(self, value: int) -> float | None:
        return value / self.sent if self.sent else None

    @property
    def delivered_rate(self) -> float | None:
        return self._rate(self.delivered)

    @property
    def bounced_rate(self) -> float | None:
        return self._rate(self.bounced)

    @property
    def opened_rate(self) -> float | None:
        return self._rate(self.opened)

    @property
    def clicked_rate(self) -> float | None:
        return self._rate(self.clicked)

    @property
    def unsubscribed_rate(self) -> float | None:
        return self._rate(self.unsubscribed)


@dataclass
class MessageRates:
    since: datetime
    total: RateRow
    by_day: list[RateRow]
    by_trigger: list[RateRow]
    by_channel: list[RateRow]


def message_rates(*, since: datetime, until: datetime) -> MessageRates:
    """Of the messages sent in a period, how many were delivered, bounced, opened, clicked and led to
    an unsubscribe: per day sent, per template (trigger) and per channel. Each message counts once
    (its first open, its first click), so no rate passes 100 %. One grouped query over the period's
    range of the sent_at index."""
    from notifications.models import Trigger
    from orders.models import Channel

    rows = (
        Message.objects.filter(sent_at__gte=since, sent_at__lt=until)
        .values("trigger", "channel_id", day=TruncDate("sent_at"))
        .annotate(
            sent=Count("pk"),
            delivered=Count("pk", filter=Q(delivered_at__isnull=False)),
            bounced=Count("pk", filter=Q(bounced_at__isnull=False)),
            opened=Count("pk", filter=Q(opened_at__isnull=False)),
            clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
            unsubscribed=Count("pk", filter=Q(unsubscribed_at__isnull=False)),
        )
        .order_by()
    )
    names = dict(Channel.objects.values_list("pk", "name"))
    codes = dict(Channel.objects.values_list("pk", "code"))
    total = RateRow("", "All messages")
    days: dict[date, RateRow] = {}
    triggers: dict[str, RateRow] = {}
    channels: dict[int, RateRow] = {}
    for row in rows:
        total.add(row)
        days.setdefault(row["day"], RateRow(row["day"].isoformat(), f"{row['day']:%d %b}")).add(row)
        triggers.setdefault(row["trigger"], RateRow(row["trigger"], Trigger(row["trigger"]).label)).add(row)
        channels.setdefault(
            row["channel_id"], RateRow(codes.get(row["channel_id"], ""), names.get(row["channel_id"], "?"))
        ).add(row)
    first, last = since.date(), (until - timedelta(microseconds=1)).date()
    by_day = []
    day = first
    while day <= last:
        by_day.append(days.get(day) or RateRow(day.isoformat(), f"{day:%d %b}"))
        day += timedelta(days=1)
    return MessageRates(
        since=since,
        total=total,
        by_day=by_day,
        by_trigger=sorted(triggers.values(), key=lambda r: -r.sent),
        by_channel=sorted(channels.values(), key=lambda r: -r.sent),
    )
