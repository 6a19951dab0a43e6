"""Editing an order before it is picked, with its stock re-planned in the same transaction: a line
lowered gives back what it no longer needs, a line raised is reserved or backordered by the rules, and
a new address moves the order to other warehouses when the rules now prefer them."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from inventory import selectors as inventory_selectors
from inventory import services as stock
from oms.errors import Errors
from orders import services as order_services
from orders.models import Channel, Order, OrderLine, OrderStatus, ServiceLevel
from routing import engine
from routing.services.routing import ACTOR, route_order, routing_enabled
from routing.services.rule_sets import rule_set_in_force, rules_of
from routing.services.snapshot import snapshot

# Orders that hold or may hold stock under a plan; a received one is routed when its event is handled,
# a held one when it is released.
PLANNED = frozenset({OrderStatus.ALLOCATED, OrderStatus.PARTIALLY_ALLOCATED, OrderStatus.BACKORDERED})


@transaction.atomic
def order_edit(
    *,
    order_id: int,
    actor: order_services.Actor,
    shipping_address: Mapping[str, Any] | None = None,
    line_quantities: Mapping[int, int] | None = None,
    channel: Channel | None = None,
    extra_errors: Errors | None = None,
    now: datetime | None = None,
) -> Order:
    """Edit the order (``orders.services.order_update`` checks and records it) and re-plan its stock.
    Refused with 409 once picking has started."""
    order = order_services.order_lock(order_id, channel)
    order_services.order_ensure_editable(order)
    lines = {line.line_number: line for line in OrderLine.objects.filter(order=order)}
    # What a lowered line no longer needs goes back first: a line never holds more than it orders.
    surplus = {
        lines[number].pk: lines[number].qty_allocated - quantity
        for number, quantity in (line_quantities or {}).items()
        if number in lines and 0 <= quantity < lines[number].qty_allocated
    }
    if surplus and not extra_errors:
        stock.stock_release_units(
            order_id=order.pk, units_by_line=surplus, actor=ACTOR, reason="order edited"
        )
    order = order_services.order_update(
        order_id=order.pk,
        actor=actor,
        shipping_address=shipping_address,
        line_quantities=line_quantities,
        channel=channel,
        extra_errors=extra_errors,
    )
    if order.status in PLANNED:
        _replan(order, address_changed=shipping_address is not None, now=now or timezone.now())
    return order


def _replan(order: Order, *, address_changed: bool, now: datetime) -> None:
    if address_changed and routing_enabled() and order.service_level != ServiceLevel.PICKUP:
        held = _held(order)
        if held and held != _best_plan(order, now):
            stock.stock_release(order_id=order.pk, actor=ACTOR, reason="shipping address changed")
    order = order_services.order_lock(order.pk)
    open_units = any(
        line.quantity - line.qty_cancelled > line.qty_allocated
        for line in OrderLine.objects.filter(order=order)
    )
    if not open_units:
        # Lowered to what it holds: nothing to route, the status says so.
        stock.stock_allocate(order_id=order.pk, actor=ACTOR, plan=[], locked=order)
        return
    if order.status == OrderStatus.ALLOCATED:
        order_services.order_transition(
            order_id=order.pk,
            to_status=OrderStatus.PARTIALLY_ALLOCATED,
            actor=order_services.Actor.system(ACTOR),
            note="order edited: more units to reserve",
            locked=order,
        )
    if routing_enabled():
        route_order(order_id=order.pk, now=now)


def _held(order: Order) -> set[tuple[int, int, int]]:
    """(line, warehouse, units) the order holds now."""
    return {
        (held["line_id"], held["warehouse_id"], held["quantity"])
        for held in inventory_selectors.active_allocations(order.pk)
    }


def _best_plan(order: Order, now: datetime) -> set[tuple[int, int, int]]:
    """(line, warehouse, units) the rules would choose for the whole order now, counting what it holds
    as free: the same as ``_held`` when the new address changes nothing."""
    rule_set = rule_set_in_force(channel_id=order.channel_id, service_level=order.service_level)
    lines, destination, candidates = snapshot(order, rule_set, now, whole=True)
    plan = engine.plan_order(
        lines=lines, destination=destination, candidates=candidates, rules=rules_of(rule_set)
    )
    return {(pick.line_id, pick.warehouse_id, pick.quantity) for pick in plan.picks}
