"""Asking for a return, and deciding on it: one service for the channel API, the customer's tracking
page and ops, with the channel's policy applied the same way for all three."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from oms.errors import Errors, ValidationFailed, merge_errors
from orders.models import Channel, Order, OrderLine, Product
from orders.services import Actor
from returns.models import CreditMethod, Return, ReturnLine, ReturnSource, ReturnStatus
from returns.services.exchanges import replacement_cancel, replacement_create
from returns.services.policy import (
    lines_paid,
    policy_for,
    reasons_for,
    recent_returns,
    return_location_choose,
    returnable,
    units_value,
)
from returns.services.states import emit, history, move, return_lock

MAX_RETURN_LINES = 200


@dataclass(frozen=True)
class ReturnLineInput:
    order_id: int
    line_number: int
    quantity: int
    reason: str
    note: str = ""
    exchange_sku: str = ""


def _lock_orders(order_ids: list[int], channel: Channel | None) -> dict[int, Order]:
    query = Order.objects.select_for_update(of=("self",)).select_related("channel", "shipping_address")
    if channel is not None:
        query = query.filter(channel=channel)
    return {order.pk: order for order in query.filter(pk__in=order_ids).order_by("pk")}


@transaction.atomic
def return_request(
    *,
    channel: Channel | None,
    source: str,
    actor: Actor,
    lines: list[ReturnLineInput],
    credit_method: str = CreditMethod.REFUND,
    extra_errors: Errors | None = None,
    now: datetime | None = None,
) -> Return:
    """Open a return for units of one customer's orders on one channel.

    ``channel``: the caller's channel (its own orders only; another channel's order is "no such order");
    None for ops, who act for every channel. Customers and channels may return only delivered units
    inside the policy's window; ops may also take back units that shipped and were never delivered (a
    refused parcel). No unit is asked back twice: the order lines are locked, so of two requests for the
    last unit one wins. The policy then decides whether a person must approve it.
    """
    now = now or timezone.now()
    errors: Errors = {}
    if source not in ReturnSource.values:
        raise ValueError(f"unknown source {source}")
    if credit_method not in CreditMethod.values:
        errors["credit_method"] = [f"Must be one of {', '.join(CreditMethod.values)}."]
    if not lines:
        errors["lines"] = ["Name at least one order line to return."]
    elif len(lines) > MAX_RETURN_LINES:
        errors["lines"] = [f"At most {MAX_RETURN_LINES} lines in one return."]
        lines = []
    orders = _lock_orders(sorted({line.order_id for line in lines}), channel)
    order_lines = {
        (line.order_id, line.line_number): line
        for line in OrderLine.objects.select_for_update()
        .filter(order_id__in=list(orders))
        .select_related("product")
        .order_by("pk")
    }
    ret_channel = channel if channel is not None else next((o.channel for o in orders.values()), None)
    reasons = {reason.code: reason for reason in reasons_for(ret_channel)} if ret_channel else {}
    policy = policy_for(ret_channel) if ret_channel else None
    facts = returnable(list(order_lines.values()), window_days=policy.window_days) if policy else {}
    undelivered_allowed = source == ReturnSource.OPS
    seen: dict[int, int] = {}
    wanted: list[tuple[ReturnLineInput, OrderLine]] = []
    exchange_products: dict[int, Product] = {}
    exchange_by_index: dict[int, Product] = {}
    out_of_window = []
    customers = {order.customer_id for order in orders.values()}
    channels = {order.channel_id for order in orders.values()}
    for i, item in enumerate(lines):
        path = f"lines.{i}"
        reason = reasons.get(item.reason)
        if reason is None:
            errors.setdefault(f"{path}.reason", []).append(
                f"Unknown reason '{item.reason}'; one of {', '.join(sorted(reasons))}."
            )
        elif reason.needs_note and not item.note.strip():
            errors.setdefault(f"{path}.note", []).append(f"Say why ('{reason.label}').")
        if item.quantity < 1:
            errors.setdefault(f"{path}.quantity", []).append("Must be at least 1.")
        if credit_method == CreditMethod.EXCHANGE and item.exchange_sku.strip():
            product = Product.objects.filter(sku=item.exchange_sku.strip().upper(), is_active=True).first()
            if product is None:
                errors.setdefault(f"{path}.exchange_sku", []).append(
                    f"No product {item.exchange_sku.strip()}."
                )
            else:
                exchange_by_index[i] = product
        elif item.exchange_sku.strip():
            errors.setdefault(f"{path}.exchange_sku", []).append("Only an exchange names a replacement.")
        order = orders.get(item.order_id)
        if order is None:
            errors.setdefault(f"{path}.order_id", []).append(f"No order {item.order_id}.")
            continue
        line = order_lines.get((item.order_id, item.line_number))
        if line is None:
            errors.setdefault(f"{path}.line_number", []).append(
                f"Order {order.number} has no line {item.line_number}."
            )
            continue
        if line.pk in seen:
            errors.setdefault(path, []).append(f"Line {item.line_number} of {order.number} is named twice.")
            continue
        seen[line.pk] = i
        fact = facts[line.pk]
        free = fact.free(undelivered=undelivered_allowed)
        if item.quantity > free:
            basis = f"{fact.shipped} shipped" if undelivered_allowed else f"{fact.delivered} delivered"
            errors.setdefault(f"{path}.quantity", []).append(
                f"{free} unit(s) of {line.sku} can be returned ({basis}, {fact.returned} returned, "
                f"{fact.requested} already asked back)."
            )
        if fact.delivered and not fact.in_window(now) and not undelivered_allowed:
            errors.setdefault(f"{path}.quantity", []).append(
                f"The return window for {line.sku} closed on {fact.window_closes:%Y-%m-%d}."
            )
        if fact.delivered and not fact.in_window(now):
            out_of_window.append(line.sku)
        if i in exchange_by_index:
            exchange_products[line.pk] = exchange_by_index[i]
        wanted.append((item, line))
    if len(customers) > 1 or len(channels) > 1:
        errors.setdefault("lines", []).append("A return holds the orders of one customer on one channel.")
    if len({order.currency for order in orders.values()}) > 1:
        errors.setdefault("lines", []).append("A return holds orders paid in one currency.")
    errors = merge_errors(extra_errors or {}, errors)
    if errors:
        raise ValidationFailed("The return request is invalid; nothing was saved.", details=errors)

    first_order = orders[wanted[0][0].order_id]
    ret = Return.objects.create(
        channel=first_order.channel,
        customer_id=first_order.customer_id,
        source=source,
        credit_method=credit_method,
    )
    ReturnLine.objects.bulk_create(
        [
            ReturnLine(
                ret=ret,
                order_line=line,
                quantity=item.quantity,
                reason=reasons[item.reason],
                note=item.note.strip(),
                exchange_product=exchange_products.get(line.pk),
            )
            for item, line in wanted
        ]
    )
    verdict = _verdict(ret, policy, orders, wanted, reasons, out_of_window, now)
    ret.policy_verdict = verdict
    ret.save(update_fields=["policy_verdict"])
    history(
        ret,
        actor,
        to_status=ReturnStatus.REQUESTED,
        note=f"asked for by {ReturnSource(source).label.lower()}",
        data=verdict,
    )
    emit("requested", ret, source=source)
    if verdict["auto_approve"]:
        _authorise(ret, Actor.system("return policy"), note="approved by the channel's policy")
    return ret


def _verdict(ret, policy, orders, wanted, reasons, out_of_window, now) -> dict:
    """What the policy says about a request, and why: kept on the return for ops to read."""
    value: dict[str, Decimal] = defaultdict(Decimal)
    by_order: dict[int, list[OrderLine]] = defaultdict(list)
    for line in OrderLine.objects.filter(order_id__in=list(orders)):
        by_order[line.order_id].append(line)
    paid = {}
    for order_id, order_lines in by_order.items():
        paid |= lines_paid(orders[order_id], order_lines)
    for item, line in wanted:
        currency = orders[line.order_id].currency
        value[currency] += units_value(paid[line.pk], line.quantity, 0, item.quantity, currency)
    recent = recent_returns(ret.customer_id, now, exclude_return_id=ret.pk)
    why = []
    if not policy.auto_approve:
        why.append("The channel's policy has every return approved by a person.")
    if out_of_window:
        why.append(f"Outside the return window: {', '.join(out_of_window)}.")
    if ret.source == ReturnSource.OPS and any(
        line.qty_delivered < item.quantity + line.qty_returned for item, line in wanted
    ):
        why.append("Some units were never delivered.")
    if policy.auto_approve_reasons:
        others = sorted({item.reason for item, _ in wanted} - set(policy.auto_approve_reasons))
        if others:
            why.append(f"Reason not approved automatically: {', '.join(others)}.")
    if policy.auto_approve_max_value is not None:
        if len(value) > 1:
            why.append("The orders are in several currencies.")
        elif any(amount > policy.auto_approve_max_value for amount in value.values()):
            why.append(f"Worth more than {policy.auto_approve_max_value.normalize():f}.")
    if recent > policy.auto_approve_max_recent_returns:
        why.append(
            f"{recent} returns by this customer in the last 90 days "
            f"(more than {policy.auto_approve_max_recent_returns})."
        )
    return {
        "auto_approve": not why,
        "why": why,
        "value": {currency: f"{amount:f}" for currency, amount in value.items()},
        "recent_returns": recent,
        "out_of_window": out_of_window,
        "merchant_fault": all(reasons[item.reason].merchant_fault for item, _ in wanted),
    }


def _authorise(ret: Return, actor: Actor, *, note: str = "") -> Return:
    lines = list(ret.lines.select_related("order_line__order__shipping_address"))
    address = lines[0].order_line.order.shipping_address
    policy = policy_for(ret.channel)
    ret.return_location = return_location_choose(
        policy=policy,
        product_ids={line.order_line.product_id for line in lines},
        latitude=float(address.latitude) if address.latitude is not None else None,
        longitude=float(address.longitude) if address.longitude is not None else None,
    )
    ret.decision_note = note[:300]
    move(ret, ReturnStatus.AUTHORISED, actor, note=note, fields=("return_location", "decision_note"))
    if ret.credit_method == CreditMethod.EXCHANGE and policy.instant_exchange:
        ret.replacement_order = replacement_create(
            ret=ret, actor=actor, units={line.pk: line.quantity for line in lines}
        )
        ret.save(update_fields=["replacement_order"])
        history(
            ret, actor, note=f"replacement {ret.replacement_order.number} reserved at once (instant exchange)"
        )
    return ret


@transaction.atomic
def return_authorise(*, return_id: int, actor: Actor, note: str = "") -> Return:
    """A person approves a request the policy left to them."""
    ret = return_lock(return_id)
    return _authorise(ret, actor, note=note.strip())


@transaction.atomic
def return_reject(*, return_id: int, actor: Actor, reason: str) -> Return:
    """Refuse a request; ``reason`` is what the customer is told."""
    if not reason.strip():
        raise ValidationFailed(
            "Say why the return is refused.", details={"reason": ["The customer is told this; write it."]}
        )
    ret = return_lock(return_id)
    ret.decision_note = reason.strip()[:300]
    return move(ret, ReturnStatus.REJECTED, actor, note=ret.decision_note, fields=("decision_note",))


@transaction.atomic
def return_cancel(
    *, return_id: int, actor: Actor, reason: str = "", channel: Channel | None = None
) -> Return:
    """Withdraw a return before it arrives; an instant exchange's replacement is cancelled with it when
    it has not left yet."""
    ret = return_lock(return_id, channel=channel)
    move(ret, ReturnStatus.CANCELLED, actor, note=reason.strip())
    if ret.replacement_order_id and not replacement_cancel(
        order=ret.replacement_order, actor=actor, reason=f"{ret.number} cancelled"
    ):
        history(
            ret,
            actor,
            note=f"replacement {ret.replacement_order.number} had already left: ops must recover it",
        )
    return ret
