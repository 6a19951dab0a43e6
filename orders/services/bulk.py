"""Acting on many orders at once (the dashboard's bulk actions): each order in its own transaction, so
that one refusal (an order that moved on) does not undo the others, and every refusal is reported."""

from collections.abc import Callable, Iterable

from oms.errors import DomainError
from orders.models import HoldReason, Order
from orders.services.actors import Actor
from orders.services.lifecycle import order_cancel, order_hold, order_release_hold


def orders_act(order_ids: Iterable[int], act: Callable[[int], object]) -> tuple[int, list[str]]:
    """Run ``act`` on each order; returns how many succeeded and, for the others, "SO-...: why"."""
    done, refused = 0, []
    for order_id in sorted(Order.objects.filter(pk__in=list(order_ids)).values_list("pk", flat=True)):
        try:
            act(order_id)
        except DomainError as exc:
            refused.append(f"{Order(pk=order_id).number}: {exc.message}")
        else:
            done += 1
    return done, refused


def orders_hold(*, order_ids: Iterable[int], actor: Actor, note: str) -> tuple[int, list[str]]:
    return orders_act(
        order_ids, lambda pk: order_hold(order_id=pk, reason=HoldReason.MANUAL, actor=actor, note=note)
    )


def orders_release(*, order_ids: Iterable[int], actor: Actor, note: str) -> tuple[int, list[str]]:
    return orders_act(order_ids, lambda pk: order_release_hold(order_id=pk, actor=actor, note=note))


def orders_cancel(*, order_ids: Iterable[int], actor: Actor, note: str) -> tuple[int, list[str]]:
    return orders_act(order_ids, lambda pk: order_cancel(order_id=pk, actor=actor, reason=note))
