"""Customer messages in the dashboard: every message sent (or waiting, failed, suppressed) with the
rendered text, the order page's message log, and the rates per template, channel and day. Thin views:
writes go through notifications.services."""

import csv
from datetime import timedelta

from django.contrib import messages as flash
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from notifications import selectors, services
from notifications.links import without_open_pixel
from notifications.models import Medium, Message, MessageStatus, Trigger
from notifications.rendering import sms_segments
from notifications.templatetags.notifications_tags import TONES
from oms.dashboard import ops_required, page_of
from oms.errors import DomainError
from orders.models import Channel

FILTERS = ("status", "trigger", "channel", "medium", "q")


def _filters(request: HttpRequest) -> dict[str, str]:
    values = {name: request.GET.get(name, "").strip()[:254] for name in FILTERS}
    for name, allowed in (
        ("status", MessageStatus.values),
        ("trigger", Trigger.values),
        ("medium", Medium.values),
    ):
        if values[name] not in allowed:
            values[name] = ""
    return values


def _rows(values: dict[str, str]):
    return selectors.messages_list(
        status=values["status"],
        trigger=values["trigger"],
        channel=values["channel"],
        medium=values["medium"],
        query=values["q"],
    )


@ops_required
def message_list(request: HttpRequest) -> HttpResponse:
    request.dashboard_section = "messages"
    values = _filters(request)
    page = page_of(request, _rows(values))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "notifications/list.html",
        {
            "page": page,
            "filters": values,
            "query": query.urlencode(),
            "counts": selectors.status_counts(),
            "cap": selectors.COUNT_CAP,
            "statuses": MessageStatus.choices,
            "triggers": Trigger.choices,
            "mediums": Medium.choices,
            "channels": list(Channel.objects.order_by("code").values_list("code", "name")),
            "tones": TONES,
        },
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


@ops_required
def message_export(request: HttpRequest) -> StreamingHttpResponse:
    values = _filters(request)
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(
            [
                "message",
                "created_at",
                "sent_at",
                "status",
                "trigger",
                "medium",
                "channel",
                "order",
                "recipient",
                "language",
                "subject",
                "attempts",
                "last_error",
                "delivered_at",
                "opened_at",
                "clicked_at",
                "bounced_at",
                "unsubscribed_at",
            ]
        )
        for m in _rows(values).iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    m.pk,
                    m.created_at.isoformat(),
                    m.sent_at.isoformat() if m.sent_at else "",
                    m.status,
                    m.trigger,
                    m.medium,
                    m.channel.code,
                    m.order.number,
                    m.recipient,
                    m.language,
                    m.subject,
                    m.attempts,
                    m.last_error,
                    *[
                        (getattr(m, f).isoformat() if getattr(m, f) else "")
                        for f in ("delivered_at", "opened_at", "clicked_at", "bounced_at", "unsubscribed_at")
                    ],
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="messages.csv"'
    return response


@ops_required
def message_detail(request: HttpRequest, message_id: int) -> HttpResponse:
    request.dashboard_section = "messages"
    message = get_object_or_404(
        Message.objects.select_related("order", "channel", "superseded_by"), pk=message_id
    )
    segments = sms_segments(message.body_text) if message.medium == Medium.SMS else None
    return render(
        request,
        "notifications/detail.html",
        {
            "message": message,
            "preview_html": without_open_pixel(message.body_html) if message.body_html else "",
            "events": message.events.order_by("at", "pk"),
            "segments": segments,
            "tone": TONES.get(message.status, "info"),
        },
    )


@ops_required
@require_POST
def message_resend(request: HttpRequest, message_id: int) -> HttpResponse:
    try:
        copy = services.message_resend(message_id=message_id, user=request.user)
    except DomainError as exc:
        flash.error(request, exc.message)
        return redirect("notifications:detail", message_id)
    flash.success(request, f"Sent again as message {copy.pk}.")
    return redirect("notifications:detail", copy.pk)


@ops_required
@require_POST
def message_bulk_resend(request: HttpRequest) -> HttpResponse:
    ids = [int(v) for v in request.POST.getlist("message") if v.isdigit()][:500]
    done, refused = 0, []
    for message_id in ids:
        try:
            services.message_resend(message_id=message_id, user=request.user)
            done += 1
        except DomainError as exc:
            refused.append(f"message {message_id}: {exc.message}")
    if done:
        flash.success(request, f"{done} message(s) queued again.")
    for line in refused[:20]:
        flash.warning(request, line)
    back = request.POST.get("back", "")
    return redirect(back if back.startswith("/dashboard/") else "notifications:list")


PERIODS = (7, 14, 30)


@ops_required
def message_rates(request: HttpRequest) -> HttpResponse:
    request.dashboard_section = "messages"
    try:
        days = int(request.GET.get("days", "14"))
    except ValueError:
        days = 14
    days = days if days in PERIODS else 14
    today = timezone.localdate()
    until = timezone.make_aware(
        timezone.datetime.combine(today + timedelta(days=1), timezone.datetime.min.time())
    )
    since = until - timedelta(days=days)
    rates = selectors.message_rates(since=since, until=until)
    peak = max((row.sent for row in rates.by_day), default=0) or 1
    return render(
        request,
        "notifications/rates.html",
        {"rates": rates, "days": days, "periods": PERIODS, "peak": peak},
    )


def messages_panel(order) -> tuple[str, dict] | None:
    """The order page's message log: what the customer was told, when, and what failed."""
    rows = selectors.messages_of_order(order.pk)
    return "notifications/_order_panel.html", {"messages_log": rows, "tones": TONES, "order": order}
