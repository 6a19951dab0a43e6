from django import template
from django.utils.html import format_html

from notifications.models import MessageStatus

register = template.Library()

TONES = {
    MessageStatus.SCHEDULED: "info",
    MessageStatus.SENT: "ok",
    MessageStatus.FAILED: "warn",
    MessageStatus.SUPPRESSED: "muted",
    MessageStatus.SUPERSEDED: "muted",
}


@register.simple_tag
def message_badge(status: str) -> str:
    label = MessageStatus(status).label if status in MessageStatus.values else status
    return format_html(
        '<span class="badge {}" data-status="{}">{}</span>', TONES.get(status, "info"), status, label
    )


@register.filter
def percent(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.1f} %"
