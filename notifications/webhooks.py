"""Providers telling us what became of a message: e-mail tracking webhooks through django-anymail
(which verifies the provider's signature and normalises the payload) and Twilio's SMS status
callbacks (verified with Twilio's request signature). Both only call notifications.services."""

import base64
import contextlib
import hashlib
import hmac
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseNotFound
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from notifications import services
from notifications.models import MessageEventKind
from oms.errors import DomainError

log = logging.getLogger(__name__)

# anymail's normalised event types that say something about the message or the address.
ANYMAIL_KINDS = {
    "delivered": MessageEventKind.DELIVERED,
    "bounced": MessageEventKind.BOUNCED,
    "rejected": MessageEventKind.BOUNCED,  # the provider will not send to the address
    "complained": MessageEventKind.COMPLAINED,
    "opened": MessageEventKind.OPENED,
    "clicked": MessageEventKind.CLICKED,
}


def anymail_tracking(sender, event, esp_name, **kwargs) -> None:
    """Receiver of anymail's ``tracking`` signal: anymail's published way to hand over a verified,
    normalised webhook event. It calls one service; no domain flow hangs off the signal."""
    if event.event_type == "unsubscribed":
        message_id = _our_id(event)
        if message_id:
            from notifications.models import Category

            with contextlib.suppress(DomainError):  # a message deleted since: nothing to record
                services.unsubscribe(message_id=message_id, category=Category.DELIVERY)
        return
    kind = ANYMAIL_KINDS.get(event.event_type)
    if kind is None:
        return
    detail = " ".join(
        str(part)
        for part in (event.reject_reason or "", event.description or "", event.mta_response or "")
        if part
    )
    services.provider_event(
        kind=kind,
        message_id=_our_id(event),
        provider_id=str(event.message_id or ""),
        recipient=str(event.recipient or ""),
        detail=f"{esp_name}: {detail}".strip()[:300],
        at=event.timestamp,
    )


def _our_id(event) -> int | None:
    value = (event.metadata or {}).get("oms_message_id")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


@csrf_exempt
def mailgun_tracking(request: HttpRequest) -> HttpResponse:
    """Mailgun's tracking webhook (configure it at /n/anymail/mailgun/tracking/). Without a signing key
    the OMS cannot tell Mailgun from anyone, so the endpoint does not exist."""
    if not settings.ANYMAIL.get("MAILGUN_WEBHOOK_SIGNING_KEY"):
        return HttpResponseNotFound("Mailgun webhooks are not configured.")
    from anymail.webhooks.mailgun import MailgunTrackingWebhookView

    return MailgunTrackingWebhookView.as_view()(request)


# Twilio error codes that say the number itself cannot take messages (blocked, unknown, a landline,
# the person replied STOP); other failures (30003 unreachable, 30008 unknown error) may pass later.
TWILIO_DEAD_NUMBER = {"30004", "30005", "30006", "21610"}


def twilio_signature(url: str, params: dict[str, str], token: str) -> str:
    """Twilio's X-Twilio-Signature: HMAC-SHA1 of the URL followed by each POST parameter's name and
    value in name order, base64-encoded."""
    payload = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    digest = hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    """Twilio's status callback for a sent SMS (TWILIO_STATUS_CALLBACK points here)."""
    token = settings.TWILIO_AUTH_TOKEN
    if not token or not settings.TWILIO_STATUS_CALLBACK:
        return HttpResponseNotFound("SMS status callbacks are not configured.")
    params = {name: request.POST.get(name, "") for name in request.POST}
    expected = twilio_signature(settings.TWILIO_STATUS_CALLBACK, params, token)
    if not hmac.compare_digest(expected, request.headers.get("X-Twilio-Signature", "")):
        return HttpResponseBadRequest("Bad signature.")
    status = params.get("MessageStatus", "")
    code = params.get("ErrorCode", "")
    kind = None
    if status == "delivered":
        kind = MessageEventKind.DELIVERED
    elif status in ("undelivered", "failed") and code in TWILIO_DEAD_NUMBER:
        kind = MessageEventKind.BOUNCED
    if kind is not None:
        services.provider_event(
            kind=kind,
            message_id=None,
            provider_id=params.get("MessageSid", ""),
            recipient=params.get("To", ""),
            detail=f"twilio: {params.get('MessageStatus')}{f' error {code}' if code else ''}",
            at=None,
        )
    return HttpResponse(status=204)
