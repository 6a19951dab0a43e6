"""Orders from the shops' own webhooks. A verified call is stored (the inbox) before it is
acknowledged, then applied in the background: an order created through the same order service and
checks as one posted to our API (the same dedupe by the shop's order number), cancelled, or given
its new address. A call that cannot be applied (a SKU we do not sell) waits in the ops queue with
the problem by field; once the SKU is mapped, ops try it again. Nothing in this is lost: a call
stored and never applied (a worker killed) is picked up again by the sweep."""

import json
import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import serializers

from integrations.models import (
    SHOP_WEBHOOK_TRANSITIONS,
    ShopConnection,
    ShopOrderLink,
    ShopSync,
    ShopSyncKind,
    ShopSyncStatus,
    ShopWebhook,
    ShopWebhookStatus,
    SkuMapping,
)
from integrations.shops import platforms
from oms.errors import DomainError, IllegalTransition, NotAuthenticated, NotFound, ValidationFailed
from orders import services as orders
from orders.api.serializers import OrderCreateIn
from orders.models import Order, OrderStatus
from orders.validation import normalize_sku

log = logging.getLogger(__name__)

ACTOR = "shop webhook"
STUCK_AFTER = timedelta(minutes=2)


def shop_webhook_receive(*, code: str, headers, body: bytes) -> tuple[ShopWebhook | None, bool]:
    """Verify a shop's call over its raw body and store it. Returns the stored call (None for one
    that needs nothing: WooCommerce's ping, a topic we do not act on) and whether it is new (a retry
    of the same delivery gets the first back)."""
    connection = ShopConnection.objects.filter(code=code, is_active=True).first()
    if connection is None:
        raise NotFound(f"No shop '{code}' sends webhooks here.")
    try:
        call = platforms.verify(connection.platform, connection.webhook_secret, headers, body)
    except platforms.Rejected as exc:
        raise NotAuthenticated(exc.message, code=f"webhook_{exc.code}") from exc
    if call.ping or not call.action:
        return None, False
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ValidationFailed("The signed body is not JSON.", code="webhook_unreadable") from exc
    if not isinstance(payload, dict):
        raise ValidationFailed("The signed body is not an order.", code="webhook_unreadable")
    existing = ShopWebhook.objects.filter(connection=connection, webhook_id=call.webhook_id).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            stored = ShopWebhook.objects.create(
                connection=connection,
                webhook_id=call.webhook_id,
                topic=call.topic[:40],
                external_id=platforms.order_reference(connection.platform, payload),
                body=body.decode("utf-8", errors="replace"),
            )
    except IntegrityError:
        # the platform's retry raced its first call, stored a moment ago
        return ShopWebhook.objects.get(connection=connection, webhook_id=call.webhook_id), False
    return stored, True


def _sku_map(connection: ShopConnection):
    mapped = dict(SkuMapping.objects.filter(connection=connection).values_list("channel_sku", "sku"))

    def map_sku(key: str) -> str:
        return mapped.get(key, key)

    return map_sku


def _finish(
    hook: ShopWebhook, status: str, *, outcome: str, order_id: int | None = None, errors=None
) -> None:
    if status not in SHOP_WEBHOOK_TRANSITIONS[hook.status]:
        raise IllegalTransition(f"A {hook.status} shop webhook cannot become {status}.")
    ShopWebhook.objects.filter(pk=hook.pk, status=hook.status).update(
        status=status,
        outcome=outcome[:2000],
        errors=errors or {},
        order_id=order_id if order_id is not None else hook.order_id,
        processed_at=timezone.now(),
        attempts=hook.attempts + 1,
    )


def shop_webhook_process(*, webhook_id: int) -> str:
    """Apply a stored call; idempotent (an applied call is not applied again). Returns its status."""
    with transaction.atomic():
        hook = (
            ShopWebhook.objects.select_for_update().select_related("connection__channel").get(pk=webhook_id)
        )
        if hook.status != ShopWebhookStatus.PENDING:
            return hook.status
        try:
            with transaction.atomic():  # a refused apply leaves nothing of itself behind
                status, outcome, order_id, errors = _apply(hook)
        except DomainError as exc:
            status, outcome, order_id, errors = ShopWebhookStatus.FAILED, exc.message, None, exc.details or {}
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            status, outcome, order_id, errors = (
                ShopWebhookStatus.FAILED,
                f"The shop's order could not be read: {exc}",
                None,
                {},
            )
        if not isinstance(errors, dict):
            errors = {"": [str(errors)]}
        _finish(hook, status, outcome=outcome, order_id=order_id, errors=errors)
    if status == ShopWebhookStatus.FAILED:
        log.warning("shop webhook %s of %s not applied: %s", hook.pk, hook.connection.code, outcome)
    return status


def _apply(hook: ShopWebhook) -> tuple[str, str, int | None, dict]:
    """What the call asks, done in the caller's transaction; a DomainError undoes all of it."""
    connection = hook.connection
    channel = connection.channel
    payload = json.loads(hook.body)
    call_action = {**platforms.SHOPIFY_TOPICS, **platforms.WOO_TOPICS}.get(hook.topic, "")
    actor = orders.Actor.system(f"{ACTOR} {connection.code}")
    existing = Order.objects.filter(channel=channel, external_id=hook.external_id).first()
    if call_action == platforms.CANCEL and (connection.platform == "woocommerce" or existing is not None):
        if existing is None:
            return ShopWebhookStatus.IGNORED, "No such order here: nothing to cancel.", None, {}
        return _cancel(existing, actor, "deleted in the shop" if connection.platform == "woocommerce" else "")
    shop_order = platforms.READERS[connection.platform](payload, _sku_map(connection))
    notes = " ".join(shop_order.notes)
    if existing is None:
        if call_action == platforms.CANCEL or shop_order.cancelled:
            return ShopWebhookStatus.IGNORED, "Cancelled in the shop before we had it: not taken.", None, {}
        if not shop_order.body["lines"]:
            return ShopWebhookStatus.IGNORED, f"Nothing in it to ship. {notes}".strip(), None, {}
        order = _create(channel, actor, shop_order.body)
        ShopOrderLink.objects.create(
            connection=connection,
            order=order,
            platform_order_id=shop_order.platform_id,
            line_ids={str(n): ref for n, ref in enumerate(shop_order.line_refs, start=1)},
            shop_updated_at=shop_order.changed_at.isoformat() if shop_order.changed_at else "",
        )
        return ShopWebhookStatus.PROCESSED, f"Order {order.number} created. {notes}".strip(), order.pk, {}
    if shop_order.cancelled or call_action == platforms.CANCEL:
        return _cancel(existing, actor, shop_order.cancel_reason)
    if call_action == platforms.CREATE:
        return ShopWebhookStatus.PROCESSED, f"Order {existing.number} was already here.", existing.pk, {}
    link = ShopOrderLink.objects.select_for_update().filter(order=existing).first()
    if link is not None and shop_order.changed_at is not None:
        # the shops do not promise the order of their webhooks: an older version arriving late
        # must not put back the address a newer one changed
        last = platforms.moment(link.shop_updated_at) if link.shop_updated_at else None
        if last is not None and shop_order.changed_at < last:
            return (
                ShopWebhookStatus.IGNORED,
                f"Order {existing.number}: an older version of the order than the one applied; left alone.",
                existing.pk,
                {},
            )
        ShopOrderLink.objects.filter(pk=link.pk).update(shop_updated_at=shop_order.changed_at.isoformat())
    return _update(existing, actor, shop_order.body)


def _create(channel, actor, body: dict) -> Order:
    shape = OrderCreateIn(data=body)
    if not shape.is_valid():
        from oms.api.exceptions import flatten_errors

        raise ValidationFailed(
            "The shop's order breaks our order rules; nothing was created.",
            details=flatten_errors(shape.errors),
        )
    return orders.order_create(
        channel=channel, actor=actor, data=OrderCreateIn.to_order_input(shape.validated_data, {})
    )


def _cancel(order: Order, actor, reason: str) -> tuple[str, str, int | None, dict]:
    if order.status == OrderStatus.CANCELLED:
        return ShopWebhookStatus.PROCESSED, f"Order {order.number} was already cancelled.", order.pk, {}
    # the shop cancelled it: the status sync back has nothing to tell it
    link = ShopOrderLink.objects.filter(order=order).first()
    if link is not None:
        ShopSync.objects.get_or_create(
            link=link,
            kind=ShopSyncKind.CANCELLATION,
            reference="order",
            defaults={
                "status": ShopSyncStatus.SKIPPED,
                "next_attempt_at": timezone.now(),
                "error": "cancelled in the shop",
            },
        )
    orders.order_cancel(order_id=order.pk, actor=actor, reason=reason or "cancelled in the shop")
    return ShopWebhookStatus.PROCESSED, f"Order {order.number} cancelled.", order.pk, {}


ADDRESS_FIELDS = ("name", "company", "line1", "line2", "city", "region", "postal_code", "country")


def _lines_note(order: Order, body: dict) -> str:
    """Lines or quantities changed in the shop are not applied here (a shop's edit cannot unpick a
    box): the call says so, for ops to edit the order on its page."""
    ours = sorted((line.sku, line.quantity) for line in order.lines.all())
    theirs = sorted(
        (normalize_sku(str(line.get("sku", ""))), int(line.get("quantity") or 0)) for line in body["lines"]
    )
    return (
        ""
        if ours == theirs
        else " Its lines changed in the shop and were not changed here: edit the order if need be."
    )


def _update(order: Order, actor, body: dict) -> tuple[str, str, int | None, dict]:
    """An edited order: a new shipping address is taken while we can still send it elsewhere."""
    address = order.shipping_address
    wanted = body["shipping_address"]
    lines = _lines_note(order, body)
    if all(str(getattr(address, name) or "") == str(wanted.get(name) or "") for name in ADDRESS_FIELDS):
        said = "no change to its address." if lines else "nothing we keep has changed."
        return ShopWebhookStatus.PROCESSED, f"Order {order.number}: {said}{lines}", order.pk, {}
    shape = OrderCreateIn().fields["shipping_address"]
    try:
        clean = shape.run_validation(wanted)
    except serializers.ValidationError as exc:
        raise ValidationFailed(
            "The shop's new address is not usable.", details={"shipping_address": [str(exc)]}
        ) from exc
    try:
        with transaction.atomic():
            orders.order_edit(order_id=order.pk, actor=actor, shipping_address=clean)
    except IllegalTransition as exc:
        return (
            ShopWebhookStatus.PROCESSED,
            f"Order {order.number}: the new address came too late ({exc.message}): tell the customer."
            + lines,
            order.pk,
            {},
        )
    return (
        ShopWebhookStatus.PROCESSED,
        f"Order {order.number}: shipping address changed.{lines}",
        order.pk,
        {},
    )


def shop_webhook_retry(*, webhook_id: int) -> ShopWebhook:
    """Ops fixed what it lacked (a SKU mapping, a product): the call is applied again."""
    with transaction.atomic():
        hook = ShopWebhook.objects.select_for_update().get(pk=webhook_id)
        if ShopWebhookStatus.PENDING not in SHOP_WEBHOOK_TRANSITIONS[hook.status]:
            raise IllegalTransition(
                f"A shop webhook that is {hook.get_status_display().lower()} is not retried."
            )
        ShopWebhook.objects.filter(pk=hook.pk).update(status=ShopWebhookStatus.PENDING)
    shop_webhook_process(webhook_id=webhook_id)
    return ShopWebhook.objects.get(pk=webhook_id)


def shop_webhooks_sweep(*, now=None, limit: int = 200) -> int:
    """Calls stored but never applied (the worker that had them died, the broker was down), oldest
    first. Returns how many were applied now."""
    now = now or timezone.now()
    stuck = list(
        ShopWebhook.objects.filter(status=ShopWebhookStatus.PENDING, received_at__lt=now - STUCK_AFTER)
        .order_by("received_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    for webhook_id in stuck:
        shop_webhook_process(webhook_id=webhook_id)
    return len(stuck)


def sku_mapping_set(*, connection: ShopConnection, channel_sku: str, sku: str) -> SkuMapping:
    """The shop's item is our ``sku`` (upper-cased, as every SKU of ours)."""
    mapping, _ = SkuMapping.objects.update_or_create(
        connection=connection, channel_sku=channel_sku.strip(), defaults={"sku": normalize_sku(sku)}
    )
    return mapping
