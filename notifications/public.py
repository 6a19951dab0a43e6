"""The customer's side of a message: the open pixel, click-through redirects and one-click
unsubscribe. Every link is signed (notifications.links); a forged or altered one is refused with a
plain page, never followed. None of these pages shows anyone's personal data."""

import base64

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from notifications import links, services
from notifications.models import Category, Message, MessageEventKind

# A transparent 1x1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response


def _invalid(request: HttpRequest) -> HttpResponse:
    return _no_store(render(request, "notifications/link_invalid.html", status=400))


def opened(request: HttpRequest, token: str) -> HttpResponse:
    message_id = links.read(token, links.OPEN_SALT)
    if isinstance(message_id, int):
        services.message_record(message_id=message_id, kind=MessageEventKind.OPENED)
    # The image answers whatever the token: a mail client shows nothing broken.
    return _no_store(HttpResponse(PIXEL, content_type="image/gif"))


def clicked(request: HttpRequest, token: str) -> HttpResponse:
    data = links.read(token, links.CLICK_SALT)
    if not isinstance(data, dict) or not isinstance(data.get("m"), int) or not isinstance(data.get("u"), str):
        return _invalid(request)
    target = data["u"]
    if not target.startswith(("https://", "http://")):
        return _invalid(request)
    services.message_record(message_id=data["m"], kind=MessageEventKind.CLICKED, detail=target[:300])
    return _no_store(HttpResponseRedirect(target))


@csrf_exempt  # RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click" with no cookie or token
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button (link scanners open links, and must not unsubscribe anyone); POST, from that
    button or from the mail client's one-click, unsubscribes at once."""
    data = links.read(token, links.UNSUBSCRIBE_SALT)
    if not isinstance(data, dict) or not isinstance(data.get("m"), int) or data.get("c") != Category.DELIVERY:
        return _invalid(request)
    message = Message.objects.select_related("channel").filter(pk=data["m"]).first()
    if message is None:
        return _invalid(request)
    done = message.unsubscribed_at is not None
    if request.method == "POST":
        services.unsubscribe(message_id=message.pk, category=data["c"])
        done = True
    from notifications.rendering import brand_of

    context = {
        "brand": brand_of(message.channel)["name"],
        "done": done,
        "category": Category(data["c"]).label,
    }
    return _no_store(render(request, "notifications/unsubscribe.html", context))
