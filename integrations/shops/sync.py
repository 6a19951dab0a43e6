"""The status sync back to the shops, through their REST APIs: a shipment handed over becomes the
shop's fulfilment with carrier and tracking number, a cancellation here cancels the shop's order.

Each thing to tell is a ``ShopSync`` row written by the event's handler (once per shipment, once per
order's cancellation: a redelivered event finds it there), then sent outside any transaction and
retried with backoff until the shop's API takes it. A call made in several steps remembers the steps
that succeeded, so a retry does not repeat them. Every row shows on the order page with the last
request and answer.

Shopify (Admin REST API): the order's fulfilment orders are read, then one fulfilment names the
shipped units of their line items, with ``tracking_info``; cancelling is ``POST orders/{id}/cancel``.
WooCommerce (REST API v3, basic auth with the consumer key and secret): a customer note with the
carrier and tracking number per shipment, and the order ``completed`` once every unit has shipped;
cancelling sets the order ``cancelled``."""

import json
import logging
from datetime import timedelta
from decimal import Decimal

import requests
from django.db import transaction
from django.utils import timezone

from integrations.models import (
    SHOP_SYNC_TRANSITIONS,
    Platform,
    ShopOrderLink,
    ShopSync,
    ShopSyncKind,
    ShopSyncStatus,
)
from integrations.services import backoff
from oms.errors import IllegalTransition
from orders.models import Order, OrderStatus
from shipments.selectors import shipment_contents

log = logging.getLogger(__name__)

SHOPIFY_API_VERSION = "2024-10"
MAX_ATTEMPTS = 12
LEASE = timedelta(seconds=90)
TIMEOUT_SECONDS = 15
FULLY_SHIPPED = (OrderStatus.SHIPPED, OrderStatus.DELIVERED)


class ShopRefused(Exception):
    def __init__(self, status: int | None, body: str, message: str):
        super().__init__(message)
        self.status, self.body, self.message = status, body, message


def _record(*, link: ShopOrderLink, kind: str, reference: str, shipment_id: int | None = None) -> ShopSync:
    sync, _ = ShopSync.objects.get_or_create(
        link=link,
        kind=kind,
        reference=reference,
        defaults={"shipment_id": shipment_id, "next_attempt_at": timezone.now()},
    )
    return sync


def sync_fulfilment_record(*, shipment_id: int, order_id: int) -> ShopSync | None:
    """A shipment of a shop's order was handed over: the shop is to hear of it."""
    link = ShopOrderLink.objects.select_related("connection").filter(order_id=order_id).first()
    if link is None or not link.connection.is_active:
        return None  # most orders come from no connected shop: nothing more to read
    contents = shipment_contents(shipment_id=shipment_id)
    if contents is None:
        return None
    sync = _record(
        link=link, kind=ShopSyncKind.FULFILMENT, reference=contents.reference, shipment_id=shipment_id
    )
    transaction.on_commit(lambda: shop_sync_send(sync_id=sync.pk), robust=True)
    return sync


def sync_cancellation_record(*, order_id: int) -> ShopSync | None:
    """A shop's order was cancelled here (by ops, by the channel's API): the shop is to hear of it,
    unless the cancellation came from the shop (its row is then already there, with nothing to tell)."""
    link = ShopOrderLink.objects.select_related("connection").filter(order_id=order_id).first()
    if link is None or not link.connection.is_active:
        return None
    sync = _record(link=link, kind=ShopSyncKind.CANCELLATION, reference="order")
    if sync.status == ShopSyncStatus.PENDING:
        transaction.on_commit(lambda: shop_sync_send(sync_id=sync.pk), robust=True)
    return sync


def sync_refund_record(*, credit_id: int) -> list[ShopSync]:
    """A return credited as money back: each shop order in it is to be refunded by its shop, which
    holds the payment. Store credit and exchanges stay ours: the shop has nothing to pay out."""
    from returns.models import Credit, CreditMethod

    credit = Credit.objects.filter(pk=credit_id).first()
    if credit is None or credit.method != CreditMethod.REFUND:
        return []
    order_ids = set(credit.lines.values_list("order_line__order_id", flat=True))
    rows = []
    for link in ShopOrderLink.objects.select_related("connection").filter(order_id__in=order_ids):
        if link.connection.is_active:
            rows.append(_record(link=link, kind=ShopSyncKind.REFUND, reference=f"credit:{credit_id}"))
    for row in rows:
        transaction.on_commit(lambda pk=row.pk: shop_sync_send(sync_id=pk), robust=True)
    return rows


def _claim(sync_id: int, now) -> bool:
    return bool(
        ShopSync.objects.filter(pk=sync_id, status=ShopSyncStatus.PENDING, next_attempt_at__lte=now).update(
            next_attempt_at=now + LEASE
        )
    )


class ShopApi:
    """One shop's REST API (``link`` has its ``connection``), with the last request kept for the
    sync's record."""

    def __init__(self, link, session: requests.Session):
        self.connection, self.session = link.connection, session
        self.last: dict = {}
        self.answer: tuple[int | None, str] = (None, "")

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        base = self.connection.shop_url.rstrip("/")
        if self.connection.platform == Platform.SHOPIFY:
            url = f"{base}/admin/api/{SHOPIFY_API_VERSION}/{path}"
            auth, headers = None, {"X-Shopify-Access-Token": self.connection.api_secret}
        else:
            url = f"{base}/wp-json/wc/v3/{path}"
            auth, headers = (self.connection.api_user, self.connection.api_secret), {}
        self.last = {"method": method, "path": path, "body": body}
        try:
            response = self.session.request(
                method,
                url,
                json=body,
                auth=auth,
                headers=headers,
                timeout=TIMEOUT_SECONDS,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise ShopRefused(None, "", f"{type(exc).__name__}: {exc}"[:300]) from exc
        if not 200 <= response.status_code < 300:
            raise ShopRefused(response.status_code, response.text[:2000], f"answered {response.status_code}")
        self.answer = (response.status_code, response.text[:2000])
        return response.json() if response.content else {}


def _shopify_fulfilment(sync: ShopSync, client: ShopApi) -> None:
    link = sync.link
    contents = shipment_contents(shipment_id=sync.shipment_id)
    wanted: dict[str, int] = {}
    for line_number, units in contents.units.items():
        line_item = link.line_ids.get(str(line_number))
        if line_item:
            wanted[str(line_item)] = wanted.get(str(line_item), 0) + units
    orders = client.call("GET", f"orders/{link.platform_order_id}/fulfillment_orders.json")
    by_order = []
    for fulfilment_order in orders.get("fulfillment_orders", []):
        if fulfilment_order.get("status") not in ("open", "in_progress"):
            continue
        items = []
        for item in fulfilment_order.get("line_items", []):
            left = wanted.get(str(item.get("line_item_id")), 0)
            quantity = min(left, int(item.get("fulfillable_quantity") or 0))
            if quantity > 0:
                items.append({"id": item["id"], "quantity": quantity})
                wanted[str(item["line_item_id"])] = left - quantity
        if items:
            by_order.append(
                {"fulfillment_order_id": fulfilment_order["id"], "fulfillment_order_line_items": items}
            )
    if not by_order:
        raise ShopRefused(
            None, json.dumps(orders)[:2000], "the shop has nothing of this shipment left to fulfil"
        )
    tracking = (
        {"company": contents.carrier, "number": contents.tracking_numbers[0]}
        if contents.tracking_numbers
        else {}
    )
    if len(contents.tracking_numbers) > 1:
        tracking = {"company": contents.carrier, "numbers": contents.tracking_numbers}
    client.call(
        "POST",
        "fulfillments.json",
        {
            "fulfillment": {
                "line_items_by_fulfillment_order": by_order,
                "tracking_info": tracking,
                # our own shipping e-mail tells the customer; the shop's would be a second one
                "notify_customer": False,
            }
        },
    )


def _woo_fulfilment(sync: ShopSync, client: ShopApi) -> None:
    link = sync.link
    contents = shipment_contents(shipment_id=sync.shipment_id)
    if "note" not in sync.steps_done:
        numbers = ", ".join(contents.tracking_numbers) or "no tracking number"
        client.call(
            "POST",
            f"orders/{link.platform_order_id}/notes",
            {
                "note": f"Shipped with {contents.carrier} ({contents.service}): {numbers}.",
                "customer_note": True,
            },
        )
        _step_done(sync, "note")
    if Order.objects.filter(pk=link.order_id, status__in=FULLY_SHIPPED).exists():
        client.call("PUT", f"orders/{link.platform_order_id}", {"status": "completed"})


def _shopify_cancellation(sync: ShopSync, client: ShopApi) -> None:
    # the customer heard of it from us already
    client.call(
        "POST", f"orders/{sync.link.platform_order_id}/cancel.json", {"reason": "other", "email": False}
    )


def _woo_cancellation(sync: ShopSync, client: ShopApi) -> None:
    client.call("PUT", f"orders/{sync.link.platform_order_id}", {"status": "cancelled"})


def _refund_parts(sync: ShopSync) -> tuple[object, list[tuple[str, int, Decimal]], Decimal, Decimal]:
    """This order's share of the credit: (credit, [(shop line item, units, amount)], shipping, total).
    The return's shipping and label fee go with its first order."""
    from returns.models import Credit

    credit = Credit.objects.select_related("ret").get(pk=int(sync.reference.split(":", 1)[1]))
    link = sync.link
    lines, goods = [], Decimal(0)
    credit_lines = list(credit.lines.select_related("order_line"))
    for cl in credit_lines:
        if cl.order_line.order_id != link.order_id:
            continue
        amount = cl.amount - cl.restocking_fee
        goods += amount
        lines.append((str(link.line_ids.get(str(cl.order_line.line_number), "")), cl.units, amount))
    first = min(cl.order_line.order_id for cl in credit_lines) == link.order_id
    shipping = credit.shipping - credit.label_fee if first else Decimal(0)
    return (
        credit,
        lines,
        max(shipping, Decimal(0)),
        goods + (credit.shipping - credit.label_fee if first else 0),
    )


def _marker(sync: ShopSync) -> str:
    """Written into the shop's refund: a retry after a lost answer finds it there and does not pay
    the customer twice."""
    return f"[oms {sync.reference}]"


def _shopify_refund(sync: ShopSync, client: ShopApi) -> None:
    credit, lines, shipping, total = _refund_parts(sync)
    order_id = sync.link.platform_order_id
    existing = client.call("GET", f"orders/{order_id}/refunds.json")
    if any(_marker(sync) in (r.get("note") or "") for r in existing.get("refunds", [])):
        return  # the last try's refund went through; its answer was lost
    items = [
        {
            "line_item_id": int(item) if item.isdigit() else item,
            "quantity": units,
            "restock_type": "no_restock",
        }
        for item, units, _ in lines
        if item
    ]
    money = f"{shipping:.2f}"
    calculated = client.call(
        "POST",
        f"orders/{order_id}/refunds/calculate.json",
        {"refund": {"shipping": {"amount": money}, "refund_line_items": items}},
    )
    suggested = (calculated.get("refund") or {}).get("transactions") or []
    if not suggested:
        raise ShopRefused(None, json.dumps(calculated)[:2000], "the shop has no payment left to refund")
    parent = suggested[0]
    client.call(
        "POST",
        f"orders/{order_id}/refunds.json",
        {
            "refund": {
                "currency": credit.currency,
                "notify": False,  # our own message told the customer
                "note": f"Return {credit.ret.number} {_marker(sync)}",
                "shipping": {"amount": money},
                "refund_line_items": items,
                "transactions": [
                    {
                        "parent_id": parent.get("parent_id"),
                        "amount": f"{total:.2f}",
                        "kind": "refund",
                        "gateway": parent.get("gateway"),
                    }
                ],
            }
        },
    )


def _woo_refund(sync: ShopSync, client: ShopApi) -> None:
    credit, lines, _, total = _refund_parts(sync)
    order_id = sync.link.platform_order_id
    existing = client.call("GET", f"orders/{order_id}/refunds")
    if any(_marker(sync) in (r.get("reason") or "") for r in existing if isinstance(r, dict)):
        return
    client.call(
        "POST",
        f"orders/{order_id}/refunds",
        {
            "amount": f"{total:.2f}",
            "reason": f"Return {credit.ret.number} {_marker(sync)}",
            "api_refund": True,  # through the shop's payment gateway: the customer gets the money
            "line_items": [
                {
                    "id": int(item) if item.isdigit() else item,
                    "quantity": units,
                    "refund_total": f"{amount:.2f}",
                }
                for item, units, amount in lines
                if item
            ],
        },
    )


SENDERS = {
    (Platform.SHOPIFY, ShopSyncKind.FULFILMENT): _shopify_fulfilment,
    (Platform.WOOCOMMERCE, ShopSyncKind.FULFILMENT): _woo_fulfilment,
    (Platform.SHOPIFY, ShopSyncKind.CANCELLATION): _shopify_cancellation,
    (Platform.WOOCOMMERCE, ShopSyncKind.CANCELLATION): _woo_cancellation,
    (Platform.SHOPIFY, ShopSyncKind.REFUND): _shopify_refund,
    (Platform.WOOCOMMERCE, ShopSyncKind.REFUND): _woo_refund,
}


def _step_done(sync: ShopSync, step: str) -> None:
    sync.steps_done = [*sync.steps_done, step]
    ShopSync.objects.filter(pk=sync.pk).update(steps_done=sync.steps_done)


def _move(sync: ShopSync, to: str) -> None:
    if to not in SHOP_SYNC_TRANSITIONS[sync.status]:
        raise IllegalTransition(f"A {sync.status} shop sync cannot become {to}.")
    sync.status = to


def shop_sync_send(*, sync_id: int, session: requests.Session | None = None) -> str:
    """One try, if the sync is due and no other worker has it: "sent", "retry", "failed" or ""."""
    now = timezone.now()
    if not _claim(sync_id, now):
        return ""
    sync = ShopSync.objects.select_related("link__connection").get(pk=sync_id)
    client = ShopApi(sync.link, session or requests.Session())
    sender = SENDERS[(sync.link.connection.platform, sync.kind)]
    try:
        sender(sync, client)
    except ShopRefused as exc:
        return _failed(sync, client, exc)
    with transaction.atomic():
        sync = ShopSync.objects.select_for_update().get(pk=sync_id)
        _move(sync, ShopSyncStatus.SUCCEEDED)
        sync.attempts += 1
        sync.last_request = client.last
        sync.response_status, sync.response_body = client.answer
        sync.error, sync.done_at = "", timezone.now()
        sync.save(
            update_fields=[
                "status",
                "attempts",
                "last_request",
                "response_status",
                "response_body",
                "error",
                "done_at",
            ]
        )
    return "sent"


def _failed(sync: ShopSync, client: ShopApi, exc: ShopRefused) -> str:
    with transaction.atomic():
        sync = ShopSync.objects.select_for_update().get(pk=sync.pk)
        sync.attempts += 1
        sync.last_request = client.last
        sync.response_status, sync.response_body, sync.error = exc.status, exc.body, exc.message[:300]
        outcome = "retry"
        if sync.attempts >= MAX_ATTEMPTS or exc.status in (401, 403, 404):
            # the shop's key is wrong or the order is gone there: retrying will not help, ops must look
            _move(sync, ShopSyncStatus.FAILED)
            outcome = "failed"
        else:
            sync.next_attempt_at = timezone.now() + backoff(sync.attempts)
        sync.save(
            update_fields=[
                "status",
                "attempts",
                "last_request",
                "response_status",
                "response_body",
                "error",
                "next_attempt_at",
            ]
        )
    log.warning("shop sync %s (%s) %s: %s", sync.pk, sync.kind, outcome, exc.message)
    return outcome


def shop_syncs_send_due(*, limit: int = 50) -> dict[str, int]:
    """Every due sync (the beat's sweep: retries, and any whose first try never ran)."""
    outcomes: dict[str, int] = {}
    due = ShopSync.objects.filter(status=ShopSyncStatus.PENDING, next_attempt_at__lte=timezone.now())
    with requests.Session() as session:
        for sync_id in due.order_by("next_attempt_at", "id").values_list("pk", flat=True)[:limit]:
            outcome = shop_sync_send(sync_id=sync_id, session=session)
            if outcome:
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


@transaction.atomic
def shop_sync_retry(*, sync_id: int) -> ShopSync:
    """Send again one that was given up (after the shop's key was fixed)."""
    sync = ShopSync.objects.select_for_update().get(pk=sync_id)
    _move(sync, ShopSyncStatus.PENDING)
    sync.attempts, sync.next_attempt_at = 0, timezone.now()
    sync.save(update_fields=["status", "attempts", "next_attempt_at"])
    return sync


def order_syncs(order_id: int) -> list[ShopSync]:
    """The order page's panel: what the shop was told, or is to be."""
    return list(
        ShopSync.objects.filter(link__order_id=order_id)
        .select_related("link__connection")
        .order_by("created_at", "id")
    )
