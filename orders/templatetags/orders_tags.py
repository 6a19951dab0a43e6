from decimal import Decimal

from django import template

from orders.models import HoldReason, OrderStatus
from orders.validation import currency_precision

register = template.Library()

STATUS_TONES = {
    OrderStatus.RECEIVED: "info",
    OrderStatus.ON_HOLD: "warn",
    OrderStatus.BACKORDERED: "warn",
    OrderStatus.PARTIALLY_ALLOCATED: "info",
    OrderStatus.ALLOCATED: "info",
    OrderStatus.IN_FULFILLMENT: "progress",
    OrderStatus.PARTIALLY_SHIPPED: "progress",
    OrderStatus.SHIPPED: "progress",
    OrderStatus.DELIVERED: "ok",
    OrderStatus.PARTIALLY_RETURNED: "muted",
    OrderStatus.RETURNED: "muted",
    OrderStatus.CANCELLED: "muted",
}


@register.filter
def money(amount: Decimal | None, currency: str) -> str:
    if amount is None:
        return ""
    places = currency_precision(currency) or 0
    return f"{amount:,.{places}f} {currency}"


@register.inclusion_tag("dashboard/_status.html")
def status_badge(order) -> dict:
    return {
        "label": order.get_status_display(),
        "tone": STATUS_TONES.get(order.status, "info"),
        "status": order.status,
        "hold_reason": order.get_hold_reason_display() if order.hold_reason else "",
    }


@register.filter
def status_label(status: str) -> str:
    return OrderStatus(status).label if status in OrderStatus.values else status


@register.filter
def hold_reason_label(reason: str) -> str:
    return HoldReason(reason).label if reason in HoldReason.values else reason


@register.filter
def duration_words(seconds: float | None) -> str:
    """A duration as people say it: 4.2 s, 12 min, 3.5 h, 2.1 days."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


@register.filter
def capped(count: int, cap: int) -> str:
    """A bounded count as read: "1,234", or "10,000+" when counting stopped at the cap."""
    from django.contrib.humanize.templatetags.humanize import intcomma

    return f"{intcomma(cap)}+" if count > cap else intcomma(count)


@register.filter
def get_item(mapping: dict, key: str):
    return mapping.get(key, "") if mapping else ""
