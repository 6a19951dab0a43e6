"""An order's life after capture: locks, status changes along the declared table, cancel, hold,
edits, line progress and notes."""

from collections import defaultdict
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from oms.errors import Conflict, IllegalTransition, NotFound, ValidationFailed, merge_errors
from oms.events import event_emit, events_emit
from oms.sql import insert_rows, update_rows
from orders.geocoding import address_locate
from orders.models import (
    EDITABLE_STATUSES,
    ORDER_TRANSITIONS,
    Address,
    Channel,
    HoldReason,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderLine,
    OrderStatus,
)
from orders.services.actors import Actor, _history, _history_entry
from orders.services.intake import ADDRESS_FIELDS, _line_total
from orders.validation import (
    Errors,
    address_clean,
)


def _locked_order(order_id: int, channel: Channel | None = None) -> Order:
    query = Order.objects.select_for_update(of=("self",)).select_related("channel")
    if channel is not None:
        query = query.filter(channel=channel)
    order = query.filter(pk=order_id).first()
    if order is None:
        raise NotFound(f"Order {order_id} does not exist.")
    return order


def order_lock(order_id: int, channel: Channel | None = None) -> Order:
    """Lock an order row for the caller's transaction; other apps lock the order before their own rows.
    With ``channel``, only that channel's order (another channel's is not found)."""
    return _locked_order(order_id, channel)


def orders_lock(order_ids: list[int]) -> list[Order]:
    """Lock several orders in id order (every path that locks more than one order takes them in that
    order, so two of them queue instead of deadlocking); those that do not exist are left out."""
    return list(
        Order.objects.select_for_update(of=("self",))
        .select_related("channel")
        .filter(pk__in=order_ids)
        .order_by("pk")
    )


def order_ensure_editable(order: Order) -> None:
    """Refuse (409) to edit an order whose picking has started: its units are on their way to a box."""
    if order.status not in EDITABLE_STATUSES:
        raise Conflict(
            f"Order {order.number} can no longer be edited: it is {OrderStatus(order.status).label.lower()}.",
            code="order_not_editable",
            details={"status": order.status},
        )


# Editing an order that stock is promised to must give back and re-plan stock in the same transaction:
# routing, the floor that sees stock and the rules, registers the editor that does (it depends on this
# app, so this app cannot import it). Without one, an edit changes the order only.
ORDER_EDITORS: list[Callable[..., Order]] = []


def order_edit(
    *,
    order_id: int,
    actor: Actor,
    shipping_address: Mapping[str, Any] | None = None,
    line_quantities: Mapping[int, int] | None = None,
    channel: Channel | None = None,
    extra_errors: Errors | None = None,
) -> Order:
    """Change the address and / or line quantities of an order not yet picked, and re-plan its stock."""
    editor = ORDER_EDITORS[0] if ORDER_EDITORS else order_update
    return editor(
        order_id=order_id,
        actor=actor,
        shipping_address=shipping_address,
        line_quantities=line_quantities,
        channel=channel,
        extra_errors=extra_errors,
    )


def _transition(
    order: Order, *, to_status: str, actor: Actor, hold_reason: str = "", note: str = ""
) -> Order:
    from_status = order.status
    if to_status not in ORDER_TRANSITIONS.get(from_status, frozenset()):
        raise IllegalTransition(
            f"Order {order.number} cannot go from {OrderStatus(from_status).label.lower()} "
            f"to {OrderStatus(to_status).label.lower()}.",
            details={"from_status": from_status, "to_status": to_status},
        )
    order.status = to_status
    order.hold_reason = hold_reason if to_status == OrderStatus.ON_HOLD else ""
    order.save(update_fields=["status", "hold_reason", "updated_at"])
    _history(
        order,
        actor,
        OrderEventKind.STATUS_CHANGED,
        from_status=from_status,
        to_status=to_status,
        after={"hold_reason": order.hold_reason} if order.hold_reason else None,
        note=note,
    )
    event_emit(
        name=f"order.{to_status}",
        aggregate_type="order",
        aggregate_id=order.pk,
        payload={
            "order_id": order.pk,
            "from_status": from_status,
            "to_status": to_status,
            "hold_reason": order.hold_reason,
        },
    )
    return order


def order_transition(
    *,
    order_id: int,
    to_status: str,
    actor: Actor,
    note: str = "",
    channel: Channel | None = None,
    locked: Order | None = None,
) -> Order:
    """Move an order along the declared status table (routing, fulfilment and tracking call this).

    ``locked``: the order as the caller already locked it in this transaction (saves a second lock).
    """
    if to_status in (OrderStatus.ON_HOLD, OrderStatus.CANCELLED):
        raise ValueError("Use order_hold or order_cancel: they record a reason.")
    # Inside a caller's transaction that already holds the order, no savepoint is needed: a failure
    # here fails the caller's whole operation anyway.
    with transaction.atomic(savepoint=locked is None):
        order = locked if locked is not None and locked.pk == order_id else _locked_order(order_id, channel)
        return _transition(order, to_status=to_status, actor=actor, note=note)


@transaction.atomic
def order_cancel(*, order_id: int, actor: Actor, reason: str = "", channel: Channel | None = None) -> Order:
    """Cancel every open unit of every line. An order that has not shipped is cancelled; one that has
    shipped some units (partially shipped, or held after that) keeps them and becomes shipped: what was
    not shipped yet is cancelled (``order.remainder_cancelled`` gives its stock and pick lines back)."""
    order = _locked_order(order_id, channel)
    lines = list(order.lines.select_for_update())
    shipped_some = any(line.qty_shipped for line in lines)
    if shipped_some and order.status not in (OrderStatus.PARTIALLY_SHIPPED, OrderStatus.ON_HOLD):
        raise IllegalTransition(
            f"Order {order.number} is {OrderStatus(order.status).label.lower()}: nothing is left to cancel.",
            details={"from_status": order.status, "to_status": OrderStatus.CANCELLED},
        )
    open_units = {line.line_number: line.quantity - line.qty_shipped - line.qty_cancelled for line in lines}
    note = reason or ("units not shipped cancelled" if shipped_some else "")
    _transition(
        order,
        to_status=OrderStatus.SHIPPED if shipped_some else OrderStatus.CANCELLED,
        actor=actor,
        note=note,
    )
    for line in lines:
        line.qty_cancelled = line.quantity - line.qty_shipped
    OrderLine.objects.bulk_update(lines, ["qty_cancelled"])
    if shipped_some:
        event_emit(
            name="order.remainder_cancelled",
            aggregate_type="order",
            aggregate_id=order.pk,
            payload={"order_id": order.pk, "lines": {n: units for n, units in open_units.items() if units}},
        )
    return order


@transaction.atomic
def order_hold(
    *, order_id: int, reason: str, actor: Actor, note: str = "", channel: Channel | None = None
) -> Order:
    if reason not in HoldReason.values:
        raise ValidationFailed(
            "Unknown hold reason.", details={"reason": [f"Choose one of {', '.join(HoldReason.values)}."]}
        )
    if reason == HoldReason.MANUAL and not note.strip():
        raise ValidationFailed(
            "Say why the order is held.", details={"note": ["A manual hold needs a note."]}
        )
    return _transition(
        _locked_order(order_id, channel),
        to_status=OrderStatus.ON_HOLD,
        actor=actor,
        hold_reason=reason,
        note=note,
    )


@transaction.atomic
def order_release_hold(
    *, order_id: int, actor: Actor, note: str = "", channel: Channel | None = None
) -> Order:
    """Release a hold: the order goes back to received, so routing takes it up again; one that had
    shipped some units goes back to shipping the rest (partially shipped)."""
    order = _locked_order(order_id, channel)
    if (
        order.status == OrderStatus.ON_HOLD
        and order.hold_reason == HoldReason.FRAUD_REVIEW
        and not note.strip()
    ):
        # Lifting a fraud hold is a decision someone must stand behind: it is recorded with its reason.
        raise ValidationFailed(
            "Say why the fraud review is over.", details={"note": ["A fraud hold needs a reason to release."]}
        )
    shipped_some = order.lines.filter(qty_shipped__gt=0).exists()
    target = OrderStatus.PARTIALLY_SHIPPED if shipped_some else OrderStatus.RECEIVED
    return _transition(order, to_status=target, actor=actor, note=note)


def _address_snapshot(address: Address) -> dict[str, Any]:
    return {
        name: (str(value) if value is not None else None)
        for name in sorted(ADDRESS_FIELDS)
        if (value := getattr(address, name)) not in ("", None)
    }


@transaction.atomic
def order_update(
    *,
    order_id: int,
    actor: Actor,
    shipping_address: Mapping[str, Any] | None = None,
    line_quantities: Mapping[int, int] | None = None,
    channel: Channel | None = None,
    extra_errors: Errors | None = None,
) -> Order:
    """Change the shipping address and / or line quantities of an order not yet in fulfilment.

    Each change is recorded with its before and after. Totals are recomputed; a line's discount
    shrinks in proportion to its quantity. A line may not go below what it holds in stock: the
    caller gives that back first (``order_edit``). ``extra_errors``: problems found in the request's
    shapes, answered with this check's own.
    """
    order = _locked_order(order_id, channel)
    order_ensure_editable(order)
    errors: Errors = {}
    new_address = None
    if shipping_address is not None:
        new_address, errors = address_clean(dict(shipping_address), prefix="shipping_address.")
    lines = {line.line_number: line for line in order.lines.select_for_update()}
    changed_lines = []
    for line_number, quantity in (line_quantities or {}).items():
        line = lines.get(line_number)
        path = f"lines.{line_number}.quantity"
        if line is None:
            errors[f"lines.{line_number}"] = [f"Order {order.number} has no line {line_number}."]
        elif quantity < 0:
            errors[path] = ["Must be zero or more."]
        elif quantity < line.qty_allocated:
            errors[path] = [
                f"{line.qty_allocated} units are already allocated; release them before going lower."
            ]
        elif quantity != line.quantity:
            changed_lines.append((line, quantity))
    if (
        lines
        and changed_lines
        and all(
            (dict((ln.line_number, q) for ln, q in changed_lines).get(n, ln.quantity)) == 0
            for n, ln in lines.items()
        )
    ):
        errors["lines"] = ["An order needs at least one unit; cancel it instead."]
    if errors or extra_errors:
        raise ValidationFailed(
            "The change is invalid; nothing was saved.", details=merge_errors(extra_errors or {}, errors)
        )

    if new_address is not None:
        before = _address_snapshot(order.shipping_address)
        order.shipping_address = Address.objects.create(
            **{k: v for k, v in address_locate(new_address).items() if k in ADDRESS_FIELDS}
        )
        after = _address_snapshot(order.shipping_address)
        if before != after:
            _history(order, actor, OrderEventKind.ADDRESS_CHANGED, before=before, after=after)
    for line, quantity in changed_lines:
        before = {
            "line_number": line.line_number,
            "sku": line.sku,
            "quantity": line.quantity,
            "discount": str(line.discount),
        }
        if line.quantity:
            line.discount = (line.discount * quantity / line.quantity).quantize(
                line.discount, rounding=ROUND_HALF_UP
            )
        line.quantity = quantity
        line.total = _line_total(quantity, line.unit_price, line.discount)
        _history(
            order,
            actor,
            OrderEventKind.LINE_CHANGED,
            before=before,
            after={
                "line_number": line.line_number,
                "sku": line.sku,
                "quantity": quantity,
                "discount": str(line.discount),
            },
        )
    if changed_lines:
        OrderLine.objects.bulk_update([line for line, _ in changed_lines], ["quantity", "discount", "total"])
        all_lines = lines.values()
        order.subtotal = sum((ln.quantity * ln.unit_price for ln in all_lines), Decimal(0))
        line_discounts = sum((ln.discount for ln in all_lines), Decimal(0))
        order.discount_total = line_discounts + order.order_discount
        order.total = max(
            order.subtotal - order.discount_total + order.shipping_total + order.tax_total, Decimal(0)
        )
    order.save(update_fields=["shipping_address", "subtotal", "discount_total", "total", "updated_at"])
    if new_address is not None or changed_lines:
        event_emit(
            name="order.edited",
            aggregate_type="order",
            aggregate_id=order.pk,
            payload={
                "order_id": order.pk,
                "address_changed": new_address is not None,
                "lines": {ln.line_number: q for ln, q in changed_lines},
            },
        )
    return order


PROGRESS_STAGES = ("qty_allocated", "qty_picked", "qty_shipped", "qty_delivered", "qty_returned")


def order_lines_record_progress(
    *,
    order_id: int,
    quantities: Mapping[int, Mapping[str, int]],
    locked: Order | None = None,
    locked_lines: list[OrderLine] | None = None,
) -> list[OrderLine]:
    with transaction.atomic(savepoint=locked is None):
        return _order_lines_record_progress(
            order_id=order_id, quantities=quantities, locked=locked, locked_lines=locked_lines
        )


def _order_lines_record_progress(
    *,
    order_id: int,
    quantities: Mapping[int, Mapping[str, int]],
    locked: Order | None,
    locked_lines: list[OrderLine] | None,
) -> list[OrderLine]:
    """Set lines' cumulative progress counters, as stock, fulfilment and tracking record them.

    ``quantities`` maps a line number to new values of ``PROGRESS_STAGES`` fields. A counter never
    exceeds the open quantity, and each stage never exceeds the one before it (a unit is picked only
    after it was allocated, shipped only after it was picked, and so on). ``locked`` and
    ``locked_lines``: the order and its lines as the caller already locked them in this transaction
    (they are updated in place).
    """
    if locked is None or locked.pk != order_id:
        _locked_order(order_id)
    if locked_lines is not None and all(line.order_id == order_id for line in locked_lines):
        lines = {line.line_number: line for line in locked_lines}
    else:
        lines = {
            line.line_number: line for line in OrderLine.objects.select_for_update().filter(order_id=order_id)
        }
    errors: Errors = {}
    for line_number, values in quantities.items():
        line = lines.get(line_number)
        if line is None:
            errors[f"lines.{line_number}"] = ["No such line."]
            continue
        unknown = set(values) - set(PROGRESS_STAGES)
        if unknown:
            errors[f"lines.{line_number}"] = [f"Unknown counter {', '.join(sorted(unknown))}."]
            continue
        for name, value in values.items():
            setattr(line, name, value)
        errors.update(_progress_errors(line))
    if errors:
        raise ValidationFailed("The line progress is inconsistent; nothing was saved.", details=errors)
    changed = [lines[n] for n in quantities]
    OrderLine.objects.bulk_update(changed, list(PROGRESS_STAGES))
    return changed


def _progress_errors(line: OrderLine) -> Errors:
    errors: Errors = {}
    ceiling = line.quantity
    for name in PROGRESS_STAGES[:4]:
        value = getattr(line, name)
        if not 0 <= value <= ceiling:
            errors[f"lines.{line.line_number}.{name}"] = [f"Must be between 0 and {ceiling}."]
        ceiling = value
    if not 0 <= line.qty_returned <= line.qty_shipped:
        errors[f"lines.{line.line_number}.qty_returned"] = [f"Must be between 0 and {line.qty_shipped}."]
    return errors


def order_lines_save_progress(*, lines: list[OrderLine]) -> None:
    """Save lines of many orders whose counters the caller moved in memory (stock reserving for a
    batch of orders it has locked), checked as ``order_lines_record_progress`` checks them, in one
    statement."""
    errors: Errors = {}
    for line in lines:
        errors.update({f"orders.{line.order_id}.{k}": v for k, v in _progress_errors(line).items()})
    if errors:
        raise ValidationFailed("The line progress is inconsistent; nothing was saved.", details=errors)
    update_rows(sorted(lines, key=lambda line: line.pk), PROGRESS_STAGES)


def orders_transition(*, moves: list[tuple[Order, str]], actor: Actor, note: str = "") -> None:
    """Move many orders, each locked by the caller, along the declared status table, as
    ``order_transition`` would one by one: a history row and an ``order.<status>`` event each,
    written in a few statements (one update per target status)."""
    now = timezone.now()
    targets: dict[str, list[int]] = defaultdict(list)
    history: list[OrderEvent] = []
    events: dict[str, list[tuple[object, dict]]] = defaultdict(list)
    for order, to_status in moves:
        if to_status in (OrderStatus.ON_HOLD, OrderStatus.CANCELLED):
            raise ValueError("Use order_hold or order_cancel: they record a reason.")
        from_status = order.status
        if to_status not in ORDER_TRANSITIONS.get(from_status, frozenset()):
            raise IllegalTransition(
                f"Order {order.number} cannot go from {OrderStatus(from_status).label.lower()} "
                f"to {OrderStatus(to_status).label.lower()}.",
                details={"from_status": from_status, "to_status": to_status},
            )
        order.status, order.hold_reason, order.updated_at = to_status, "", now
        targets[to_status].append(order.pk)
        history.append(
            _history_entry(
                order,
                actor,
                OrderEventKind.STATUS_CHANGED,
                from_status=from_status,
                to_status=to_status,
                note=note,
            )
        )
        events[f"order.{to_status}"].append(
            (
                order.pk,
                {"order_id": order.pk, "from_status": from_status, "to_status": to_status, "hold_reason": ""},
            )
        )
    for to_status, ids in targets.items():
        Order.objects.filter(pk__in=ids).update(status=to_status, hold_reason="", updated_at=now)
    if history:
        insert_rows(history, deferrable=True)
    for name, items in events.items():
        events_emit(name=name, aggregate_type="order", items=items)


@transaction.atomic
def order_note_add(*, order_id: int, actor: Actor, note: str) -> OrderEvent:
    if not note.strip():
        raise ValidationFailed("The note is empty.", details={"note": ["Write something."]})
    order = _locked_order(order_id)
    return _history(order, actor, OrderEventKind.NOTE, note=note.strip())
