"""Outbound webhooks, from the outbox to the integrations' endpoints.

Fan-out: the domain events past a cursor become one ``WebhookDelivery`` per endpoint that wants them
(and may see them: a channel's key hears only of its own orders), in the fan-out's transaction, with
the body fixed then. The cursor passes only events older than ``SETTLE``, so an event committed after
a later id was seen is still fanned out; the unique (endpoint, event) makes a second look harmless.

Sending: a due delivery is claimed for ``LEASE`` by one UPDATE (a worker killed mid-send leaves it to
be tried again after the lease: at least once, with the event id in ``webhook-id`` for dedupe), sent
signed outside any transaction, and its outcome recorded. Of one order's events an endpoint gets the
next only after the earlier ones are delivered or given up. Failures back off exponentially with
jitter; after ``WEBHOOK_DISABLE_AFTER`` failures in a row the endpoint is disabled, with a banner for
ops. Nothing here runs in the request that changed the order: intake never waits for an endpoint."""

import json
import logging
import random
import time
from datetime import timedelta

import requests
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from integrations import signing
from integrations.addresses import NotPublic, check_public
from integrations.models import (
    WEBHOOK_TRANSITIONS,
    FanOutCursor,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookStatus,
    events_problem,
    new_secret,
)
from integrations.selectors import by_event
from oms.errors import Conflict, IllegalTransition, NotFound, ValidationFailed
from oms.events import event_emit
from oms.models import DomainEvent
from orders.api.serializers import order_json
from orders.models import ApiKey
from orders.selectors import orders_with_lines

log = logging.getLogger(__name__)

SETTLE = timedelta(minutes=2)
LEASE = timedelta(seconds=60)
TIMEOUT_SECONDS = 10
MAX_ENDPOINTS_PER_KEY = 20
MAX_URL_LENGTH = 500
# Events about the integrations themselves (another integration's endpoint was disabled) are for ops,
# never fanned out: they would tell one integration of another's URL.
PRIVATE_PREFIXES = ("webhook.",)


def _order_id(event: DomainEvent) -> int | None:
    if event.aggregate_type == "order":
        return int(event.aggregate_id) if str(event.aggregate_id).isdigit() else None
    value = event.payload.get("order_id") if isinstance(event.payload, dict) else None
    return value if isinstance(value, int) else None


def body_of(event: DomainEvent, order: dict | None = None) -> str:
    """The delivery's JSON: the event's id, type, time and data. An order's event (a shipment's too)
    carries the order as ``GET /api/v1/orders/{id}/`` shows it, as it stands when fanned out, so that
    a receiver needs no call back to act on it."""
    data = {"aggregate_type": event.aggregate_type, "aggregate_id": event.aggregate_id, **event.payload}
    if order is not None:
        data["order"] = order
    return json.dumps(
        {
            "id": f"evt_{event.pk}",
            "type": event.name,
            "timestamp": event.created_at.isoformat(),
            "data": data,
        },
        separators=(",", ":"),
        sort_keys=True,
        default=str,
    )


@transaction.atomic
def webhooks_fan_out(*, batch: int = 1000) -> int:
    """The next events past the cursor, into deliveries for the endpoints that want them."""
    now = timezone.now()
    FanOutCursor.objects.get_or_create(name="domain_events")
    cursor = FanOutCursor.objects.select_for_update().get(name="domain_events")
    events = list(DomainEvent.objects.filter(pk__gt=cursor.last_id).order_by("pk")[:batch])
    if not events:
        return 0
    endpoints = list(
        WebhookEndpoint.objects.filter(is_active=True, api_key__revoked_at__isnull=True).select_related(
            "api_key"
        )
    )
    wanted = [
        e
        for e in events
        if not e.name.startswith(PRIVATE_PREFIXES) and any(ep.wants(e.name) for ep in endpoints)
    ]
    order_ids = {order_id for event in wanted if (order_id := _order_id(event)) is not None}
    orders = {o.pk: o for o in orders_with_lines().filter(pk__in=order_ids)} if order_ids else {}
    channels = {pk: o.channel_id for pk, o in orders.items()}
    shapes: dict[int, dict] = {}
    deliveries = []
    for event in wanted:
        order_id = _order_id(event)
        body = None
        for endpoint in endpoints:
            if not endpoint.wants(event.name):
                continue
            own_channel = endpoint.api_key.channel_id
            if own_channel is not None and channels.get(order_id) != own_channel:
                continue  # a channel hears only of its own orders, and of nothing that is not an order's
            if body is None:
                if order_id in orders and order_id not in shapes:
                    shapes[order_id] = order_json(orders[order_id])
                body = body_of(event, shapes.get(order_id))
            deliveries.append(
                WebhookDelivery(
                    endpoint=endpoint,
                    event=event,
                    event_name=event.name,
                    sequence_key=f"order:{order_id}"
                    if order_id
                    else f"{event.aggregate_type}:{event.aggregate_id}",
                    body=body,
                    next_attempt_at=now,
                )
            )
    WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
    settled = [e.pk for e in events if e.created_at < now - SETTLE]
    if settled:
        FanOutCursor.objects.filter(pk=cursor.pk).update(last_id=max(settled), updated_at=now)
    return len(deliveries)


def _due(now, limit: int) -> list[int]:
    earlier_open = WebhookDelivery.objects.filter(
        endpoint_id=OuterRef("endpoint_id"),
        sequence_key=OuterRef("sequence_key"),
        status=WebhookStatus.PENDING,
        id__lt=OuterRef("id"),
    )
    return list(
        WebhookDelivery.objects.filter(
            status=WebhookStatus.PENDING, next_attempt_at__lte=now, endpoint__is_active=True
        )
        .exclude(Exists(earlier_open))
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )


def _claim(delivery_ids: list[int], now) -> list[WebhookDelivery]:
    """Take these deliveries for the lease, in one statement; returns those this worker got (another
    worker has the rest, or they are no longer due), with their endpoints, in the order asked."""
    if not delivery_ids:
        return []
    table = WebhookDelivery._meta.db_table
    marks = ", ".join(["%s"] * len(delivery_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET next_attempt_at = %s "
            f"WHERE id IN ({marks}) AND status = %s AND next_attempt_at <= %s RETURNING id",
            [now + LEASE, *delivery_ids, WebhookStatus.PENDING, now],
        )
        claimed = {row[0] for row in cursor.fetchall()}
    rows = WebhookDelivery.objects.select_related("endpoint").filter(pk__in=claimed)
    by_id = {delivery.pk: delivery for delivery in rows}
    return [by_id[pk] for pk in delivery_ids if pk in by_id]


def backoff(attempts: int, *, rng: random.Random | None = None) -> timedelta:
    """After the n-th failed try: 30 s, 1 min, 2 min ... up to 6 h, each between half and one and a
    half times that (jitter, so endpoints back from an outage are not hit all at once)."""
    base = min(30 * 2 ** (attempts - 1), 6 * 3600)
    return timedelta(seconds=base * (rng or random).uniform(0.5, 1.5))


def webhook_deliver(*, delivery_id: int, now=None) -> str:
    """Send one delivery if it is due and unclaimed: "delivered", "retry", "failed", or "" (not due)."""
    claimed = _claim([delivery_id], now or timezone.now())
    if not claimed:
        return ""
    with requests.Session() as session:
        outcome = _send(claimed[0], session)
    if outcome == "delivered":
        _record_successes(claimed)
    return outcome


def _send(delivery: WebhookDelivery, session: requests.Session) -> str:
    """One try of a claimed delivery, outside any transaction. A failure is recorded at once (it may
    disable the endpoint); a success is set on ``delivery`` for ``_record_successes``."""
    endpoint = delivery.endpoint
    body = delivery.body.encode()
    headers = signing.headers(endpoint.secret, f"evt_{delivery.event_id}", int(time.time()), body)
    try:
        if endpoint.public_only:
            check_public(endpoint.url)
        response = session.post(
            endpoint.url, data=body, headers=headers, timeout=TIMEOUT_SECONDS, allow_redirects=False
        )
        status, answer, error = response.status_code, response.text[:2000], ""
        if not 200 <= status < 300:
            error = f"answered {status}"
    except NotPublic as exc:
        status, answer, error = None, "", f"not sent: {exc}"[:300]
    except requests.RequestException as exc:
        status, answer, error = None, "", f"{type(exc).__name__}: {exc}"[:300]
    now = timezone.now()
    if not error:
        delivery.status, delivery.attempts = WebhookStatus.SUCCEEDED, delivery.attempts + 1
        delivery.last_attempt_at = delivery.delivered_at = now
        delivery.response_status, delivery.response_body, delivery.error = status, answer, ""
        delivery.request_headers = headers
        return "delivered"
    return _record_failure(delivery, status=status, answer=answer, error=error, headers=headers, now=now)


SUCCESS_FLUSH = 25  # successes recorded together: one UPDATE and one commit for so many sends


@transaction.atomic
def _record_successes(delivered: list[WebhookDelivery]) -> None:
    """Successful tries, recorded together: each delivery is this worker's for the lease, so nothing
    needs reading again. A worker killed before this runs leaves them pending, and they are sent
    again after the lease (at least once; the receiver dedupes on webhook-id). The endpoints' runs of
    failures, if they had one, end."""
    if not delivered:
        return
    assert WebhookStatus.SUCCEEDED in WEBHOOK_TRANSITIONS[WebhookStatus.PENDING]
    if connection.vendor == "postgresql":
        # one UPDATE ... FROM VALUES: Django's bulk_update builds a CASE per row and column, which
        # profiling showed to cost more than the sends themselves
        table = WebhookDelivery._meta.db_table
        rows = ", ".join(
            ["(CAST(%s AS bigint), CAST(%s AS timestamptz), CAST(%s AS integer), %s, CAST(%s AS jsonb))"]
            * len(delivered)
        )
        params: list = []
        for d in delivered:
            params += [
                d.pk,
                d.delivered_at,
                d.response_status,
                d.response_body,
                json.dumps(d.request_headers),
            ]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS t SET status = %s, attempts = t.attempts + 1, "
                "last_attempt_at = v.at, delivered_at = v.at, response_status = v.code, "
                "response_body = v.answer, error = '', request_headers = v.headers "
                f"FROM (VALUES {rows}) AS v (id, at, code, answer, headers) "
                "WHERE t.id = v.id AND t.status = %s",
                [WebhookStatus.SUCCEEDED, *params, WebhookStatus.PENDING],
            )
    else:
        WebhookDelivery.objects.bulk_update(
            delivered,
            [
                "status",
                "attempts",
                "last_attempt_at",
                "delivered_at",
                "response_status",
                "response_body",
                "error",
                "request_headers",
            ],
        )
    WebhookEndpoint.objects.filter(
        pk__in={d.endpoint_id for d in delivered}, consecutive_failures__gt=0
    ).update(consecutive_failures=0)


@transaction.atomic
def _record_failure(
    delivery: WebhookDelivery, *, status: int | None, answer: str, error: str, headers: dict, now
) -> str:
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
    delivery.attempts += 1
    delivery.last_attempt_at, delivery.response_status, delivery.response_body = now, status, answer
    delivery.error, delivery.request_headers = error, headers
    fields = [
        "request_headers",
        "attempts",
        "last_attempt_at",
        "response_status",
        "response_body",
        "error",
        "status",
        "next_attempt_at",
    ]
    outcome = "retry"
    if delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        _move(delivery, WebhookStatus.FAILED)
        outcome = "failed"
    else:
        delivery.next_attempt_at = now + backoff(delivery.attempts)
    delivery.save(update_fields=fields)
    endpoint.consecutive_failures += 1
    update = ["consecutive_failures"]
    if endpoint.is_active and endpoint.consecutive_failures >= settings.WEBHOOK_DISABLE_AFTER:
        endpoint.is_active, endpoint.disabled_at = False, now
        endpoint.disabled_reason = (
            f"{endpoint.consecutive_failures} failed tries in a row; the last: {error}"[:300]
        )
        update += ["is_active", "disabled_at", "disabled_reason"]
        log.warning("webhook endpoint %s disabled: %s", endpoint.url, endpoint.disabled_reason)
        event_emit(
            name="webhook.endpoint_disabled",
            aggregate_type="webhook_endpoint",
            aggregate_id=endpoint.pk,
            payload={"reason": endpoint.disabled_reason},
        )
    endpoint.save(update_fields=update)
    return outcome


def _move(delivery: WebhookDelivery, to: str) -> None:
    if to not in WEBHOOK_TRANSITIONS[delivery.status]:
        raise IllegalTransition(f"A {delivery.status} delivery cannot become {to}.")
    delivery.status = to


def webhooks_send_due(*, limit: int = 100) -> dict[str, int]:
    """The due deliveries, claimed together (so two workers never send the same one) and sent one
    after the other over kept-alive connections. An endpoint disabled while the batch is under way
    gets no more of it: the rest wait for it to be enabled again. Slow receivers (each try may take
    ``TIMEOUT_SECONDS``) must not outlast the lease, or another worker would send the same deliveries:
    what is left when most of the lease is used is handed back, due at once."""
    outcomes: dict[str, int] = {}
    now = timezone.now()
    disabled: set[int] = set()
    delivered: list[WebhookDelivery] = []
    with requests.Session() as session:
        for delivery in _claim(_due(now, limit), now):
            out_of_lease = timezone.now() - now > LEASE - timedelta(seconds=TIMEOUT_SECONDS * 2)
            if out_of_lease or delivery.endpoint_id in disabled:
                WebhookDelivery.objects.filter(pk=delivery.pk, status=WebhookStatus.PENDING).update(
                    next_attempt_at=now
                )
                continue
            outcome = _send(delivery, session)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            if outcome == "delivered":
                delivered.append(delivery)
                if len(delivered) >= SUCCESS_FLUSH:
                    _record_successes(delivered)
                    delivered = []
            elif not WebhookEndpoint.objects.filter(pk=delivery.endpoint_id, is_active=True).exists():
                disabled.add(delivery.endpoint_id)
    _record_successes(delivered)
    return outcomes


@transaction.atomic
def endpoint_enable(*, endpoint_id: int) -> WebhookEndpoint:
    """Back on after ops fixed the receiver: its failures forgotten, its pending deliveries due now."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
    endpoint.is_active, endpoint.consecutive_failures, endpoint.disabled_at, endpoint.disabled_reason = (
        True,
        0,
        None,
        "",
    )
    endpoint.save(update_fields=["is_active", "consecutive_failures", "disabled_at", "disabled_reason"])
    endpoint.deliveries.filter(status=WebhookStatus.PENDING).update(next_attempt_at=timezone.now())
    return endpoint


@transaction.atomic
def deliveries_replay(*, delivery_ids: list[int]) -> int:
    """Send these deliveries again (the same body and webhook-id: the receiver can dedupe)."""
    now = timezone.now()
    replayed = 0
    for delivery in (
        WebhookDelivery.objects.select_for_update()
        .filter(pk__in=delivery_ids)
        .exclude(status=WebhookStatus.PENDING)
    ):
        _move(delivery, WebhookStatus.PENDING)
        delivery.next_attempt_at = now
        delivery.save(update_fields=["status", "next_attempt_at"])
        replayed += 1
    return replayed


def deliveries_replay_range(
    *,
    start,
    end,
    endpoint_id: int | None = None,
    event: str = "",
    statuses: tuple[str, ...] = (WebhookStatus.FAILED,),
) -> int:
    """Send again every delivery of ``statuses`` created in [start, end), of one endpoint or all: after
    a receiver lost a day's events, or gave up on them while it was down. One UPDATE, so a range of a
    hundred thousand is as quick as one; the pending ones are on their way already and stay as they are."""
    statuses = tuple(s for s in statuses if s != WebhookStatus.PENDING)
    if any(WebhookStatus.PENDING not in WEBHOOK_TRANSITIONS[s] for s in statuses):
        raise IllegalTransition("Only delivered or given-up deliveries can be sent again.")
    query = WebhookDelivery.objects.filter(created_at__gte=start, created_at__lt=end, status__in=statuses)
    if endpoint_id is not None:
        query = query.filter(endpoint_id=endpoint_id)
    return by_event(query, event).update(status=WebhookStatus.PENDING, next_attempt_at=timezone.now())


def _endpoint_problems(*, url: object, events: object, public_only: bool) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    if not isinstance(url, str) or not url:
        problems["url"] = ["A URL is required."]
    elif len(url) > MAX_URL_LENGTH:
        problems["url"] = [f"At most {MAX_URL_LENGTH} characters."]
    else:
        try:
            check_public(url) if public_only else None
        except NotPublic as exc:
            problems["url"] = [str(exc)]
    if problem := events_problem(events):
        problems["events"] = [problem]
    return problems


def _own_endpoint(*, endpoint_id: int, api_key: ApiKey) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id, api_key=api_key).first()
    if endpoint is None:
        raise NotFound(f"Webhook endpoint {endpoint_id} does not exist.")
    return endpoint


@transaction.atomic
def endpoint_create(
    *, api_key: ApiKey, url: str, events: list[str], description: str = "", public_only: bool = True
) -> WebhookEndpoint:
    """A subscription of ``api_key``'s: it hears of what that key may see, from the next event on."""
    problems = _endpoint_problems(url=url, events=events, public_only=public_only)
    if problems:
        raise ValidationFailed("The endpoint is invalid; nothing was saved.", details=problems)
    # the key's row locked: two creations at once cannot both pass the limit
    ApiKey.objects.select_for_update().filter(pk=api_key.pk).first()
    if WebhookEndpoint.objects.filter(api_key=api_key).count() >= MAX_ENDPOINTS_PER_KEY:
        raise Conflict(
            f"A key has at most {MAX_ENDPOINTS_PER_KEY} endpoints; delete one first.",
            code="too_many_endpoints",
        )
    return WebhookEndpoint.objects.create(
        api_key=api_key, url=url, events=events, description=description, public_only=public_only
    )


@transaction.atomic
def endpoint_update(
    *,
    endpoint_id: int,
    api_key: ApiKey,
    url: str | None = None,
    events: list[str] | None = None,
    description: str | None = None,
    active: bool | None = None,
) -> WebhookEndpoint:
    """Change what is given; turning a disabled endpoint on sends what waited (as ``endpoint_enable``)."""
    endpoint = _own_endpoint(endpoint_id=endpoint_id, api_key=api_key)
    problems = _endpoint_problems(
        url=endpoint.url if url is None else url,
        events=endpoint.events if events is None else events,
        public_only=endpoint.public_only,
    )
    if problems:
        raise ValidationFailed("The endpoint is invalid; nothing was saved.", details=problems)
    fields = []
    for name, value in (("url", url), ("events", events), ("description", description)):
        if value is not None:
            setattr(endpoint, name, value)
            fields.append(name)
    if active is False and endpoint.is_active:
        endpoint.is_active, endpoint.disabled_at = False, None
        endpoint.disabled_reason = "turned off by its integration"
        fields += ["is_active", "disabled_at", "disabled_reason"]
    if fields:
        endpoint.save(update_fields=fields)
    if active and not endpoint.is_active:
        endpoint = endpoint_enable(endpoint_id=endpoint.pk)
    return endpoint


@transaction.atomic
def endpoint_delete(*, endpoint_id: int, api_key: ApiKey) -> None:
    """The subscription and its delivery log go; what was waiting for it is not sent."""
    _own_endpoint(endpoint_id=endpoint_id, api_key=api_key).delete()


@transaction.atomic
def endpoint_rotate_secret(*, endpoint_id: int, api_key: ApiKey) -> WebhookEndpoint:
    """A new secret at once (the old one may have leaked): deliveries from now on are signed with it."""
    endpoint = _own_endpoint(endpoint_id=endpoint_id, api_key=api_key)
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret"])
    return endpoint


def endpoint_disabled_email(*, endpoint_id: int) -> bool:
    """Tell ops (``WEBHOOK_ALERT_RECIPIENTS``) that an endpoint was disabled after failing. Sent when
    the outbox hands the event over: at least once (an ops e-mail twice beats none)."""
    from django.core.mail import EmailMessage
    from django.urls import reverse

    recipients = settings.WEBHOOK_ALERT_RECIPIENTS
    endpoint = WebhookEndpoint.objects.select_related("api_key").filter(pk=endpoint_id).first()
    if not recipients or endpoint is None or endpoint.is_active:
        return False  # nobody to tell, deleted since, or already enabled again
    subject = f"[OMS] Webhook endpoint disabled: {endpoint.url}"
    body = "\n".join(
        [
            f"The endpoint {endpoint.url} of the key '{endpoint.api_key.name}' was disabled at "
            f"{timezone.localtime(endpoint.disabled_at):%Y-%m-%d %H:%M %Z}.",
            f"Why: {endpoint.disabled_reason}",
            "Its deliveries wait. Once the receiver answers again, enable it on the webhooks page and "
            "they are sent, in order.",
            f"{settings.PUBLIC_BASE_URL}{reverse('integrations:webhooks')}",
        ]
    )
    EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=recipients).send()
    return True
