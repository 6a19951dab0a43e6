from django import template
from django.utils.html import format_html

from returns.models import ReturnStatus

register = template.Library()

TONES = {
    ReturnStatus.REQUESTED: "warn",
    ReturnStatus.AUTHORISED: "info",
    ReturnStatus.REJECTED: "muted",
    ReturnStatus.LABEL_ISSUED: "info",
    ReturnStatus.IN_TRANSIT: "progress",
    ReturnStatus.RECEIVED: "warn",
    ReturnStatus.INSPECTED: "progress",
    ReturnStatus.CLOSED: "ok",
    ReturnStatus.CANCELLED: "muted",
}


@register.simple_tag
def return_badge(status: str) -> str:
    label = ReturnStatus(status).label if status in ReturnStatus.values else status
    return format_html(
        '<span class="badge {}" data-status="{}">{}</span>', TONES.get(status, "info"), status, label
    )


@register.filter
def percent(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.1f} %"


@register.filter
def bar_width(share: float | None, peak: float | None = None) -> str:
    """A bar's width in percent of its track, against the largest bar (or of the whole)."""
    if not share:
        return "0"
    return f"{min(share / peak, 1) * 100:.1f}" if peak else f"{min(share, 1) * 100:.1f}"
