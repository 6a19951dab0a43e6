"""Turning a message's trigger, order and event data into its subject, HTML, text and SMS.

Templates are Django template language on engines of their own: HTML autoescaped, text and SMS not.
A variable a template names but the context lacks renders as a marker, so that a typo is refused when
the template is saved (``template_problems``) instead of reaching a customer as a blank.
"""

import functools
import re
import time
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.template import Context, Engine, TemplateSyntaxError
from django.utils import timezone

from notifications import links
from notifications.defaults import default_parts
from notifications.models import Category, ChannelMessaging, Medium, Message, MessageTemplate, Trigger

MISSING = "\x00missing:%s\x00"
_MISSING_RE = re.compile("\x00missing:(.*?)\x00")

HTML_ENGINE = Engine(autoescape=True, string_if_invalid=MISSING)
TEXT_ENGINE = Engine(autoescape=False, string_if_invalid=MISSING)

PARTS = ("subject", "html", "text", "sms")


class RenderFailed(Exception):
    """A template cannot be rendered (syntax, or a variable the context lacks)."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str
    sms: str


# What every message reads and admins rarely change (a channel's branding, its templates): each process
# keeps it this long; saving either in admin clears this process's copy at once (settings_changed).
SETTINGS_CACHE_SECONDS = 10.0
_settings_cache: dict[tuple, tuple[float, object]] = {}


def _cached(key: tuple, load):
    now = time.monotonic()
    hit = _settings_cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    value = load()
    _settings_cache[key] = (now + SETTINGS_CACHE_SECONDS, value)
    return value


def settings_changed() -> None:
    _settings_cache.clear()


def sources(trigger: str, language: str, channel_id: int | None) -> dict[str, str]:
    """The effective template of each part: the channel's, else every channel's, else the built-in."""
    return dict(
        _cached(("sources", trigger, language, channel_id), lambda: _sources(trigger, language, channel_id))
    )


def _sources(trigger: str, language: str, channel_id: int | None) -> dict[str, str]:
    parts = default_parts(trigger, language)
    rows = {
        t.channel_id: t
        for t in MessageTemplate.objects.filter(
            trigger=trigger, language=language, channel_id__in=[channel_id, None] if channel_id else [None]
        )
    }
    for row in (rows.get(None), rows.get(channel_id) if channel_id else None):
        if row is not None:
            parts.update({name: getattr(row, name) for name in PARTS if getattr(row, name).strip()})
    return parts


@functools.lru_cache(maxsize=512)
def _compiled(engine: Engine, source: str):
    # Parsing a template costs more than rendering it; sources repeat for every message of a trigger.
    return engine.from_string(source)


def _render(engine: Engine, source: str, context: dict, part: str) -> str:
    try:
        out = _compiled(engine, source).render(Context(context, autoescape=engine.autoescape))
    except TemplateSyntaxError as exc:
        raise RenderFailed(f"{part}: {exc}") from exc
    except Exception as exc:  # a filter that fails on the data (a bad date format) is the template's fault
        raise RenderFailed(f"{part}: {type(exc).__name__}: {exc}") from exc
    missing = _MISSING_RE.findall(out)
    if missing:
        names = ", ".join(sorted({m or "?" for m in missing}))
        raise RenderFailed(f"{part}: unknown variable {names}")
    # Django marks a rendered template safe; a message is data wherever it is shown next (a page puts
    # it in an attribute or a <pre>), so it leaves here as a plain string, to be escaped there.
    return str.__str__(out)


def render_parts(parts: dict[str, str], context: dict) -> Rendered:
    return Rendered(
        subject=" ".join(_render(TEXT_ENGINE, parts["subject"], context, "subject").split())[:300],
        html=_render(HTML_ENGINE, parts["html"], context, "html"),
        text=_render(TEXT_ENGINE, parts["text"], context, "text"),
        sms=" ".join(_render(TEXT_ENGINE, parts["sms"], context, "sms").split()),
    )


def brand_of(channel) -> dict:
    return _cached(("brand", channel.pk), lambda: _brand(channel))


def _brand(channel) -> dict:
    messaging = ChannelMessaging.objects.filter(channel=channel).first()
    name = (messaging.brand_name if messaging else "") or channel.name
    return {
        "name": name,
        "logo_url": messaging.logo_url if messaging else "",
        "colour": messaging.colour if messaging else "#1f4e79",
        "sender_email": (messaging.sender_email if messaging else "") or settings.DEFAULT_FROM_EMAIL,
        "sender_name": (messaging.sender_name if messaging else "") or name,
        "reply_to": messaging.reply_to if messaging else "",
        "sms_sender": (messaging.sms_sender if messaging else "") or settings.SMS_DEFAULT_SENDER,
    }


def _day(value) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime | date):
        return value if not isinstance(value, datetime) else timezone.localdate(value)
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def message_context(message: Message) -> dict:
    """What a message's templates may use, as plain values (no model instances reach a template)."""
    from returns.models import Credit, Return
    from shipments.models import Shipment
    from tracking.models import TrackingLink, TrackingState

    order = message.order
    data = message.data or {}
    try:
        link = order.tracking_link  # selected with the message when it is sent
    except TrackingLink.DoesNotExist:
        link = None
    tracking_url = f"{settings.PUBLIC_BASE_URL}/track/{link.token}/" if link else ""
    context: dict = {
        "brand": brand_of(message.channel),
        "customer": {
            "first_name": order.contact_first_name,
            "name": " ".join(p for p in (order.contact_first_name, order.contact_last_name) if p),
        },
        "order": {
            "reference": order.external_id,
            "number": order.number,
            "placed_at": order.placed_at,
            # the batch sender reads every order's lines in one query and hands them over
            "lines": getattr(order, "message_lines", None)
            or list(order.lines.order_by("line_number").values("name", "sku", "quantity")[:20]),
        },
        "tracking_url": tracking_url,
        "shipment": {"carrier": "", "tracking_number": ""},
        "estimate": None,
        "expected_date": _day(data.get("expected_date")),
        "reason": data.get("reason", ""),
        "ret": {"number": "", "url": "", "label_url": "", "amount": "", "currency": ""},
        "unsubscribe_url": "",
    }
    shipment_id = data.get("shipment_id")
    if shipment_id:
        shipment = (
            Shipment.objects.select_related("service__carrier", "tracking").filter(pk=shipment_id).first()
        )
        if shipment is not None:
            numbers = [p.tracking_number for p in shipment.packages.all() if p.tracking_number]
            try:
                state = shipment.tracking
            except TrackingState.DoesNotExist:
                state = None
            context["shipment"] = {
                "carrier": shipment.service.carrier.name,
                "tracking_number": numbers[0] if numbers else "",
            }
            context["estimate"] = _day(
                (state.predicted_date or state.carrier_estimate) if state else shipment.estimated_delivery
            )
    return_id = data.get("return_id")
    if return_id:
        ret = Return.objects.filter(pk=return_id).first()
        if ret is not None:
            base = f"{settings.PUBLIC_BASE_URL}/track/{link.token}/returns/{ret.pk}/" if link else ""
            credit = Credit.objects.filter(ret=ret).first()
            context["ret"] = {
                "number": ret.number,
                "url": base,
                "label_url": f"{base}label/" if base and ret.shipment_id else "",
                "amount": _amount(credit.amount) if credit else "",
                "currency": credit.currency if credit else "",
            }
            if message.trigger == Trigger.RETURN_REJECTED and ret.decision_note:
                context["reason"] = ret.decision_note
    if message.category == Category.DELIVERY and message.pk:
        context["unsubscribe_url"] = links.unsubscribe_url(message)
    return context


def _amount(value: Decimal) -> str:
    return f"{value:.2f}" if value == value.quantize(Decimal("0.01")) else str(value)


def message_render(message: Message) -> Rendered:
    parts = sources(message.trigger, message.language, message.channel_id)
    rendered = render_parts(parts, message_context(message))
    if message.medium == Medium.EMAIL and message.pk:
        rendered = Rendered(
            subject=rendered.subject,
            html=links.track_html(rendered.html, message),
            text=rendered.text,
            sms=rendered.sms,
        )
    return rendered


def sample_context(trigger: str, channel=None) -> dict:
    """A context with every variable filled, for checking templates at save time."""
    today = timezone.localdate()
    return {
        "brand": {
            "name": channel.name if channel else "Shop",
            "logo_url": "https://shop.example/logo.png",
            "colour": "#1f4e79",
            "sender_email": "shop@example.com",
            "sender_name": "Shop",
            "reply_to": "",
            "sms_sender": "Shop",
        },
        "customer": {"first_name": "Maria", "name": "Maria Papadopoulou"},
        "order": {
            "reference": "1001",
            "number": "OMS-0001",
            "placed_at": timezone.now(),
            "lines": [{"name": "T-shirt", "sku": "TSHIRT", "quantity": 2}],
        },
        "tracking_url": "https://shop.example/track/sample/",
        "shipment": {"carrier": "ACS", "tracking_number": "1234567890"},
        "estimate": today,
        "expected_date": today,
        "reason": "sample reason",
        "ret": {
            "number": "R-1",
            "url": "https://shop.example/track/sample/returns/1/",
            "label_url": "https://shop.example/track/sample/returns/1/label/",
            "amount": "19.90",
            "currency": "EUR",
        },
        "unsubscribe_url": "https://shop.example/n/u/sample/",
    }


def template_problems(parts: dict[str, str], trigger: str) -> dict[str, str]:
    """Each part that cannot be rendered, with why (checked on a context with every variable set)."""
    problems = {}
    context = sample_context(trigger)
    for name in PARTS:
        engine = HTML_ENGINE if name == "html" else TEXT_ENGINE
        try:
            _render(engine, parts[name], context, name)
        except RenderFailed as exc:
            problems[name] = str(exc).split(": ", 1)[1]
    return problems


# GSM 03.38: the characters one 7-bit SMS unit carries, and those that take two (escape + char).
GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = set("^{}\\[~]|€\f")


def sms_segments(text: str) -> tuple[int, int, str]:
    """(length in units, segments, encoding) of an SMS: GSM-7 carries 160 units in one segment and 153
    per segment when split; any other character (lower-case Greek, emoji) makes it UCS-2, 70 and 67."""
    if all(ch in GSM_BASIC or ch in GSM_EXTENDED for ch in text):
        units = sum(2 if ch in GSM_EXTENDED else 1 for ch in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)  # UTF-16 code units
        single, multi, encoding = 70, 67, "UCS-2"
    if units == 0:
        return 0, 0, encoding
    return units, 1 if units <= single else -(-units // multi), encoding
