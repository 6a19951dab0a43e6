from django.http import HttpRequest
from django.urls import reverse

from integrations.models import WebhookEndpoint


def disabled_endpoints_banner(request: HttpRequest) -> tuple[str, str] | None:
    """While an integration's endpoint is disabled after failing, every dashboard page says so."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return None
    count = WebhookEndpoint.objects.filter(is_active=False, disabled_at__isnull=False).count()
    if not count:
        return None
    plural = "s" if count != 1 else ""
    return (
        f"{count} webhook endpoint{plural} disabled after failing: see the delivery log",
        reverse("admin:integrations_webhookendpoint_changelist") + "?is_active__exact=0",
    )
