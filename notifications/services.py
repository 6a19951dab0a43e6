"""Every write of customer messaging: deciding a message (with its debounce and quiet hours), sending
it exactly once, and recording what happened to it afterwards (opens, clicks, bounces, unsubscribes).
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from email.utils import formataddr
from zoneinfo import ZoneInfo

from babel.core import get_global
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from notifications.backends import DeliveryFailed, send_email, sms_backend
from notifications.links import unsubscribe_url
from notifications.models import (
    MESSAGE_TRANSITIONS,
    Category,
    ChannelMessaging,
    Medium,
    Message,
    MessageEvent,
    MessageEventKind,
    MessageStatus,
    Suppression,
    SuppressionReason,
    Trigger,
    default_email_triggers,
    default_sms_triggers,
)
from notifications.rendering import RenderFailed, message_render
from oms.errors import Conflict, IllegalTransition, NotFound
from oms.models import DomainEvent
from oms.sql import deferred_inserts, insert_rows, unsaved
from orders.models import Order, OrderLine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rule:
    category: str
    urgent: bool  # goes out during quiet hours
    group: str  # a scheduled message of the same group and order is replaced by a later one


RULES: dict[str, Rule] = {
    Trigger.ORDER_CONFIRMED: Rule(Category.TRANSACTIONAL, False, "order"),
    Trigger.ORDER_BACKORDERED: Rule(Category.TRANSACTIONAL, False, "order"),
    Trigger.ORDER_CANCELLED: Rule(Category.TRANSACTIONAL, True, "order"),
    Trigger.SHIPPED: Rule(Category.DELIVERY, False, "delivery"),
    Trigger.OUT_FOR_DELIVERY: Rule(Category.DELIVERY, True, "delivery"),
    Trigger.DELIVERY_ATTEMPTED: Rule(Category.DELIVERY, True, "delivery"),
    Trigger.DELIVERED: Rule(Category.DELIVERY, False, "delivery"),
    Trigger.DELAYED: Rule(Category.DELIVERY, False, "delivery"),
    Trigger.EXCEPTION: Rule(Category.DELIVERY, True, "delivery"),
    Trigger.RETURN_AUTHORISED: Rule(Category.TRANSACTIONAL, False, "return"),
    Trigger.RETURN_REJECTED: Rule(Category.TRANSACTIONAL, False, "return"),
    Trigger.RETURN_RECEIVED: Rule(Category.DELIVERY, False, "return"),
    Trigger.RETURN_CREDITED: Rule(Category.TRANSACTIONAL, False, "return"),
}
GROUP_TRIGGERS = {
    group: [t for t, rule in RULES.items() if rule.group == group]
    for group in {r.group for r in RULES.values()}
}
# Sent once per order whatever re-routing does (a later re-allocation is not a second confirmation).
ONCE_PER_ORDER = {Trigger.ORDER_CONFIRMED}


def _settings_of(channel_id: int) -> ChannelMessaging:
    return ChannelMessaging.objects.filter(channel_id=channel_id).first() or ChannelMessaging(
        channel_id=channel_id, email_triggers=default_email_triggers(), sms_triggers=default_sms_triggers()
    )


def customer_zone(order: Order) -> ZoneInfo:
    """The customer's time zone, from the delivery country (its main zone where it has several)."""
    zones = get_global("territory_zones").get(order.shipping_address.country.upper()) or []
    for name in zones:
        try:
            return ZoneInfo(name)
        except (KeyError, ValueError):
            continue
    return ZoneInfo(settings.TIME_ZONE)


def quiet_hours_end(now: datetime, zone: ZoneInfo, start: time, end: time) -> datetime | None:
    """When quiet hours that hold ``now`` end (in UTC), or None when it is not quiet there."""
    local = now.astimezone(zone)
    t = local.time()
    quiet = (start <= t or t < end) if start > end else (start <= t < end)
    if not quiet or start == end:
        return None
    release = datetime.combine(local.date(), end, tzinfo=zone)
    if release <= local:
        release = datetime.combine(local.date() + timedelta(days=1), end, tzinfo=zone)
    return release.astimezone(UTC)


def _language(order: Order, messaging: ChannelMessaging) -> str:
    from notifications.models import Language

    return order.language if order.language in Language.values else messaging.language


def _event(message: Message, kind: str, at: datetime, detail: str = "") -> None:
    # Inside message_send the history row travels with the message's UPDATE (one round trip).
    insert_rows(
        [unsaved(MessageEvent, message_id=message.pk, kind=kind, at=at, detail=detail[:300])], deferrable=True
    )


def _move(message: Message, to_status: str) -> None:
    if to_status not in MESSAGE_TRANSITIONS[message.status]:
        raise IllegalTransition(f"A {message.status} message cannot become {to_status}.")
    message.status = to_status


@transaction.atomic
def notify(
    *, trigger: str, order_id: int, event: DomainEvent | None, data: dict | None = None
) -> list[Message]:
    """Decide the messages a trigger sends for an order (one per medium the channel has on and the
    customer can be reached by), recorded in this transaction; the send task delivers them after the
    debounce, or when the customer's quiet hours end. A scheduled message of the same order and group
    is replaced (the customer gets the latest state, not a burst)."""
    rule = RULES[trigger]
    order = Order.objects.select_for_update().select_related("shipping_address").get(pk=order_id)
    messaging = _settings_of(order.channel_id)
    now = timezone.now()
    due = now + timedelta(seconds=settings.NOTIFICATION_DEBOUNCE_SECONDS)
    if not rule.urgent:
        released = quiet_hours_end(due, customer_zone(order), messaging.quiet_start, messaging.quiet_end)
        due = released or due
    targets = []
    if trigger in messaging.email_triggers and order.contact_email:
        targets.append((Medium.EMAIL, order.contact_email))
    if trigger in messaging.sms_triggers and order.contact_phone:
        targets.append((Medium.SMS, order.contact_phone))
    created = []
    for medium, recipient in targets:
        if (
            trigger in ONCE_PER_ORDER
            and Message.objects.filter(order=order, trigger=trigger, medium=medium).exists()
        ):
            continue
        message = unsaved(
            Message,
            event=event,
            order=order,
            channel_id=order.channel_id,
            trigger=trigger,
            category=rule.category,
            medium=medium,
            recipient=recipient,
            language=_language(order, messaging),
            urgent=rule.urgent,
            data=data or {},
            send_after=due,
        )
        if not insert_rows([message], skip_conflicts=True):
            # a redelivered event, decided already, or the same decision committed meanwhile (unique
            # per event, trigger, medium and recipient)
            continue
        earlier = (
            Message.objects.select_for_update()
            .filter(
                order=order,
                medium=medium,
                status=MessageStatus.SCHEDULED,
                trigger__in=GROUP_TRIGGERS[rule.group],
            )
            .exclude(pk=message.pk)
        )
        if rule.group == "return":
            earlier = earlier.filter(data__return_id=(data or {}).get("return_id"))
        if connection.vendor == "postgresql":
            # one a batch is sending right now has gone out already: it stays as it is
            earlier = earlier.extra(where=[_sending_lock_sql("notifications_message.id")])
        for old in earlier:
            _move(old, MessageStatus.SUPERSEDED)
            old.superseded_by = message
            old.save(update_fields=["status", "superseded_by"])
            _event(old, MessageEventKind.SUPERSEDED, now, f"replaced by {message.get_trigger_display()}")
        created.append(message)
    if created:
        transaction.on_commit(lambda: _enqueue([m.pk for m in created], due), robust=True)
    return created


# A message due further ahead than this is left to the periodic sweep (a broker holds delayed
# messages badly for hours).
ENQUEUE_AHEAD = timedelta(minutes=5)


def _enqueue(message_ids: list[int], due: datetime) -> None:
    from notifications.tasks import send_message

    wait = max((due - timezone.now()).total_seconds(), 0.0)
    if wait > ENQUEUE_AHEAD.total_seconds():
        return
    for message_id in message_ids:
        try:
            send_message.apply_async((message_id,), countdown=wait + 0.2 if wait else None, retry=False)
        except Exception:
            if send_message.app.conf.task_always_eager:
                raise
            log.warning("the broker refused a message; the sweep sends it when due", exc_info=True)
            return


def retry_delay(attempts: int) -> timedelta:
    """Exponential back-off: the configured first wait, doubling per attempt, at most six hours."""
    return timedelta(seconds=min(settings.NOTIFICATION_RETRY_SECONDS * 2 ** max(attempts - 1, 0), 6 * 3600))


@dataclass(frozen=True)
class SendOutcome:
    result: str  # sent | failed | suppressed | deferred | not_due | done | busy
    retry_in: float | None = None


def _suppressed(message: Message) -> Suppression | None:
    """Why the address must not get this message: it bounced, complained or was refused (every
    message), or it unsubscribed from this category (receipts still go)."""
    categories = ["", message.category] if message.category == Category.DELIVERY else [""]
    return (
        Suppression.objects.filter(address=message.recipient.lower(), category__in=categories)
        .order_by("category")
        .first()
    )


# Advisory lock class of a message being sent (PostgreSQL's two-key form, apart from the one-key locks
# of idempotency): the batch sender holds it for the session, message_send and the debounce for their
# transaction. Ids beyond 2^31 wrap; two messages sharing a key only wait for each other.
SENDING_LOCK = 0x4D534700


def _sending_lock_sql(column: str, scope: str = "xact") -> str:
    function = "pg_try_advisory_xact_lock" if scope == "xact" else "pg_try_advisory_lock"
    return f"{function}({SENDING_LOCK}, ({column} %% 2147483647)::int)"


def _suppressed_for(message_ref: str = "recipient"):
    return Suppression.objects.filter(address=OuterRef(message_ref)).filter(
        Q(category="") | Q(category=OuterRef("category"))
    )


def message_send(*, message_id: int) -> SendOutcome:
    """Send a scheduled message that is due, exactly once.

    The message row stays locked while the backend takes the message and the outcome is recorded in
    the same transaction, so two workers never send it both. A worker killed before the backend
    accepted leaves it scheduled (its transaction rolls back) and it is sent later; killed after the
    backend accepted and before the commit, it is sent twice: that window is one round trip to the
    database (docs/adr/0016-customer-messages.md).
    """
    with transaction.atomic(), deferred_inserts():
        # One statement: the row (locked), its order, channel and tracking link, and whether the address
        # is suppressed for it (a bounce or complaint: every category; an unsubscribe: its own).
        rows = (
            Message.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("order__tracking_link", "channel")
            .annotate(blocked=Exists(_suppressed_for()))
            .filter(pk=message_id)
        )
        if connection.vendor == "postgresql":
            rows = rows.extra(where=[_sending_lock_sql("notifications_message.id")])  # a batch has it
        message = next(iter(rows), None)
        if message is None:
            return SendOutcome("busy")
        if message.status != MessageStatus.SCHEDULED:
            return SendOutcome("done")
        now = timezone.now()
        if message.send_after > now:
            return SendOutcome("not_due", retry_in=(message.send_after - now).total_seconds())
        outcome = _prepare(message, now)
        if outcome is not None:
            return outcome
        try:
            message.provider_id = _deliver(message)
        except DeliveryFailed as exc:
            return _after_failure(message, now, exc)
        _move(message, MessageStatus.SENT)
        message.sent_at = now
        message.last_error = ""
        message.save(update_fields=SENT_FIELDS)
        _event(message, MessageEventKind.SENT, now)
        return SendOutcome("sent")


SENT_FIELDS = [
    "status",
    "sent_at",
    "attempts",
    "provider_id",
    "last_error",
    "subject",
    "body_html",
    "body_text",
]


def _prepare(message: Message, now: datetime) -> SendOutcome | None:
    """Everything before the send: the suppression check and the rendering (both recorded when they
    stop the message). None: the message is rendered and ready to go."""
    block = _suppressed(message) if message.blocked else None
    if block is not None:
        _move(message, MessageStatus.SUPPRESSED)
        message.last_error = f"{block.address}: {block.get_reason_display().lower()}"
        message.save(update_fields=["status", "last_error"])
        _event(message, MessageEventKind.SUPPRESSED, now, message.last_error)
        return SendOutcome("suppressed")
    try:
        rendered = message_render(message)
    except RenderFailed as exc:
        return _failed(message, now, f"template: {exc}")
    message.subject = rendered.subject
    message.body_html = rendered.html if message.medium == Medium.EMAIL else ""
    message.body_text = rendered.text if message.medium == Medium.EMAIL else rendered.sms
    message.attempts += 1
    return None


def _after_failure(message: Message, now: datetime, exc: DeliveryFailed) -> SendOutcome:
    """The backend refused: for good (failed, and a bad address suppressed), or for now (tried again
    after the back-off, until the last attempt)."""
    if exc.permanent:
        if exc.bad_address:
            _suppress(message.recipient, "", SuppressionReason.REFUSED, message)
        return _failed(message, now, exc.reason)
    if message.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS:
        return _failed(message, now, f"gave up after {message.attempts} attempts: {exc.reason}")
    delay = retry_delay(message.attempts)
    message.send_after = now + delay
    message.last_error = exc.reason
    message.save(update_fields=["send_after", "attempts", "last_error", "subject", "body_html", "body_text"])
    _event(message, MessageEventKind.DEFERRED, now, exc.reason)
    return SendOutcome("deferred", retry_in=delay.total_seconds())


RECORD_SENT_SQL = (
    "WITH sent AS (UPDATE notifications_message SET status = %s, sent_at = %s, attempts = %s, "
    "provider_id = %s, last_error = '', subject = %s, body_html = %s, body_text = %s "
    "WHERE id = %s AND status = %s RETURNING id) "
    "INSERT INTO notifications_messageevent (message_id, kind, at, detail) SELECT id, %s, %s, '' FROM sent"
)


def messages_send_batch(*, message_ids: list[int]) -> dict[str, int]:
    """Send a backlog's due messages (the sweep's batches), each exactly once, with the database work
    shared: one statement claims them, two read them with their orders and lines, and each accepted
    message is recorded by one statement of its own that commits at once.

    The claim is a session-level advisory lock per message (not a row lock: row locks end with the
    transaction, and each record must commit before the next send). message_send and the debounce
    skip a message under that lock, a worker killed mid-batch releases them all, and every message is
    recorded the moment the backend took it, so the window for a duplicate stays one message wide
    (ADR 0016). Not on SQLite (no advisory locks; the embedded mode sends one by one)."""
    counts: dict[str, int] = {}
    if connection.vendor != "postgresql":
        for message_id in message_ids:
            result = message_send(message_id=message_id).result
            counts[result] = counts.get(result, 0) + 1
        return counts
    now = timezone.now()
    due = list(
        Message.objects.filter(pk__in=message_ids, status=MessageStatus.SCHEDULED, send_after__lte=now)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not due:
        return counts
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM unnest(%s::bigint[]) AS claim(id) WHERE {_sending_lock_sql('id', 'session')}",
            [due],
        )
        claimed = [row[0] for row in cursor.fetchall()]
    try:
        messages = list(
            Message.objects.select_related("order__tracking_link", "channel")
            .annotate(blocked=Exists(_suppressed_for()))
            .filter(pk__in=claimed, status=MessageStatus.SCHEDULED, send_after__lte=now)
            .order_by("pk")
        )
        lines: dict[int, list[dict]] = {}
        for line in (
            OrderLine.objects.filter(order_id__in={m.order_id for m in messages})
            .order_by("order_id", "line_number")
            .values("order_id", "name", "sku", "quantity")
        ):
            lines.setdefault(line.pop("order_id"), []).append(line)
        for message in messages:
            message.order.message_lines = lines.get(message.order_id, [])[:20]
            result = _send_claimed(message, timezone.now())
            counts[result] = counts.get(result, 0) + 1
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT pg_advisory_unlock({SENDING_LOCK}, (id %% 2147483647)::int) "
                "FROM unnest(%s::bigint[]) AS claim(id)",
                [claimed],
            )
    return counts


def _send_claimed(message: Message, now: datetime) -> str:
    with transaction.atomic(), deferred_inserts():
        outcome = _prepare(message, now)
    if outcome is not None:
        return outcome.result
    try:
        provider_id = _deliver(message)
    except DeliveryFailed as exc:
        with transaction.atomic(), deferred_inserts():
            return _after_failure(message, now, exc).result
    with connection.cursor() as cursor:
        cursor.execute(
            RECORD_SENT_SQL,
            [
                MessageStatus.SENT,
                now,
                message.attempts,
                provider_id,
                message.subject,
                message.body_html,
                message.body_text,
                message.pk,
                MessageStatus.SCHEDULED,
                MessageEventKind.SENT,
                now,
            ],
        )
    return "sent"


def _failed(message: Message, now: datetime, reason: str) -> SendOutcome:
    _move(message, MessageStatus.FAILED)
    message.last_error = reason[:300]
    message.save(update_fields=["status", "attempts", "last_error", "subject", "body_html", "body_text"])
    _event(message, MessageEventKind.FAILED, now, reason)
    return SendOutcome("failed")


def _deliver(message: Message) -> str:
    from notifications.rendering import brand_of

    brand = brand_of(message.channel)
    if message.medium == Medium.SMS:
        return sms_backend().send(to=message.recipient, body=message.body_text, sender=brand["sms_sender"])
    headers = {"X-OMS-Message": str(message.pk)}
    if message.category == Category.DELIVERY:
        # RFC 8058 one-click unsubscribe: mail clients POST "List-Unsubscribe=One-Click" to the URL.
        headers["List-Unsubscribe"] = f"<{unsubscribe_url(message)}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    sender = formataddr((brand["sender_name"], brand["sender_email"]))
    return send_email(
        message_id=message.pk,
        sender=sender,
        recipient=message.recipient,
        subject=message.subject,
        text=message.body_text,
        html=message.body_html,
        reply_to=brand["reply_to"],
        headers=headers,
    )


def messages_due(*, overdue_by: timedelta = timedelta(0), limit: int = 1000) -> list[int]:
    """Scheduled messages whose time has come (and passed by ``overdue_by``), oldest first."""
    cutoff = timezone.now() - overdue_by
    return list(
        Message.objects.filter(status=MessageStatus.SCHEDULED, send_after__lte=cutoff)
        .order_by("send_after")
        .values_list("pk", flat=True)[:limit]
    )


def _suppress(address: str, category: str, reason: str, message: Message | None) -> Suppression:
    suppression, _ = Suppression.objects.get_or_create(
        address=address.lower(), category=category, defaults={"reason": reason, "message": message}
    )
    return suppression


@transaction.atomic
def unsubscribe(*, message_id: int, category: str) -> Message:
    """The customer's one click: no more messages of this category to this address (transactional ones
    still go). Repeating it changes nothing."""
    message = Message.objects.select_for_update().filter(pk=message_id).first()
    if message is None:
        raise NotFound("This message no longer exists.")
    if category != Category.DELIVERY:
        raise IllegalTransition("Order and return receipts cannot be turned off.")
    _suppress(message.recipient, category, SuppressionReason.UNSUBSCRIBED, message)
    if message.unsubscribed_at is None:
        now = timezone.now()
        message.unsubscribed_at = now
        message.save(update_fields=["unsubscribed_at"])
        _event(message, MessageEventKind.UNSUBSCRIBED, now)
    return message


FIRST_SEEN = {
    MessageEventKind.OPENED: "opened_at",
    MessageEventKind.CLICKED: "clicked_at",
    MessageEventKind.DELIVERED: "delivered_at",
    MessageEventKind.BOUNCED: "bounced_at",
}


@transaction.atomic
def message_record(
    *, message_id: int, kind: str, detail: str = "", at: datetime | None = None
) -> Message | None:
    """Something the customer or the provider did with a sent message (opened, clicked, delivered,
    bounced, complained). The first of each kind is stamped on the message; every one is in its
    history. A bounce or complaint stops all further messages to the address."""
    message = Message.objects.select_for_update().filter(pk=message_id).first()
    if message is None:
        return None
    now = at or timezone.now()
    field = FIRST_SEEN.get(kind)
    if field and getattr(message, field) is None:
        setattr(message, field, now)
        message.save(update_fields=[field])
    if kind == MessageEventKind.CLICKED and message.opened_at is None:
        message.opened_at = now  # images blocked: a click proves the message was opened
        message.save(update_fields=["opened_at"])
    _event(message, kind, now, detail)
    if kind == MessageEventKind.BOUNCED:
        _suppress(message.recipient, "", SuppressionReason.BOUNCED, message)
    elif kind == MessageEventKind.COMPLAINED:
        _suppress(message.recipient, "", SuppressionReason.COMPLAINED, message)
    return message


def provider_event(
    *, kind: str, message_id: int | None, provider_id: str, recipient: str, detail: str, at: datetime | None
) -> Message | None:
    """A provider's webhook about a message, found by our id (metadata) or the provider's."""
    message = None
    if message_id:
        message = Message.objects.filter(pk=message_id).first()
    if message is None and provider_id:
        message = Message.objects.filter(provider_id=provider_id).first()
    if message is None:
        if kind in (MessageEventKind.BOUNCED, MessageEventKind.COMPLAINED) and recipient:
            reason = (
                SuppressionReason.BOUNCED
                if kind == MessageEventKind.BOUNCED
                else SuppressionReason.COMPLAINED
            )
            with transaction.atomic():
                _suppress(recipient, "", reason, None)
        return None
    return message_record(message_id=message.pk, kind=kind, detail=detail, at=at)


RESENDABLE = {MessageStatus.FAILED, MessageStatus.SENT}


@transaction.atomic
def message_resend(*, message_id: int, user=None) -> Message:
    """Ops send a failed (or lost) message again: a new message with the same trigger, order and
    recipient, rendered afresh and sent now; the original stays as it was, in the log."""
    original = Message.objects.select_for_update().filter(pk=message_id).first()
    if original is None:
        raise NotFound("No such message.")
    if original.status not in RESENDABLE:
        raise Conflict(
            f"A {original.get_status_display().lower()} message cannot be sent again"
            + (
                ": lift the address's suppression in admin first."
                if original.status == MessageStatus.SUPPRESSED
                else "."
            )
        )
    copy = Message.objects.create(
        order_id=original.order_id,
        channel_id=original.channel_id,
        trigger=original.trigger,
        category=original.category,
        medium=original.medium,
        recipient=original.recipient,
        language=original.language,
        urgent=True,
        data=original.data,
        send_after=timezone.now(),
    )
    who = getattr(user, "username", "") or "ops"
    _event(copy, MessageEventKind.RESENT, timezone.now(), f"sent again by {who} (message {original.pk})")
    transaction.on_commit(lambda: _enqueue([copy.pk], copy.send_after), robust=True)
    return copy
