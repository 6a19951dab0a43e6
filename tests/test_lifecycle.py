"""The order status table: every declared move works and is recorded, every other move is refused
and changes nothing."""

import pytest
from django.db import IntegrityError, connection, transaction

from oms.errors import IllegalTransition, ValidationFailed
from oms.models import DomainEvent
from orders import services
from orders.models import ORDER_TRANSITIONS, Order, OrderEvent, OrderStatus
from tests.factories import order_payload

pytestmark = pytest.mark.django_db

SYSTEM = services.Actor.system("test")


@pytest.fixture
def new_order(api, products):
    def make(external_id="WEB-1"):
        return Order.objects.get(
            pk=api.post("/api/v1/orders/", order_payload(external_id), format="json").json()["id"]
        )

    return make


def force_status(order: Order, status: str) -> None:
    """Put an order in a status for the test by the shortest legal path."""
    paths = {
        OrderStatus.RECEIVED: [],
        OrderStatus.ON_HOLD: ["hold"],
        OrderStatus.ALLOCATED: [OrderStatus.ALLOCATED],
        OrderStatus.PARTIALLY_ALLOCATED: [OrderStatus.PARTIALLY_ALLOCATED],
        OrderStatus.BACKORDERED: [OrderStatus.BACKORDERED],
        OrderStatus.IN_FULFILLMENT: [OrderStatus.ALLOCATED, OrderStatus.IN_FULFILLMENT],
        OrderStatus.PARTIALLY_SHIPPED: [
            OrderStatus.ALLOCATED,
            OrderStatus.IN_FULFILLMENT,
            OrderStatus.PARTIALLY_SHIPPED,
        ],
        OrderStatus.SHIPPED: [OrderStatus.ALLOCATED, OrderStatus.IN_FULFILLMENT, OrderStatus.SHIPPED],
        OrderStatus.DELIVERED: [
            OrderStatus.ALLOCATED,
            OrderStatus.IN_FULFILLMENT,
            OrderStatus.SHIPPED,
            OrderStatus.DELIVERED,
        ],
        OrderStatus.PARTIALLY_RETURNED: [
            OrderStatus.ALLOCATED,
            OrderStatus.IN_FULFILLMENT,
            OrderStatus.SHIPPED,
            OrderStatus.PARTIALLY_RETURNED,
        ],
        OrderStatus.RETURNED: [
            OrderStatus.ALLOCATED,
            OrderStatus.IN_FULFILLMENT,
            OrderStatus.SHIPPED,
            OrderStatus.RETURNED,
        ],
        OrderStatus.CANCELLED: ["cancel"],
    }
    for step in paths[status]:
        if step == "hold":
            services.order_hold(order_id=order.pk, reason="payment_pending", actor=SYSTEM)
        elif step == "cancel":
            services.order_cancel(order_id=order.pk, actor=SYSTEM)
        else:
            services.order_transition(order_id=order.pk, to_status=step, actor=SYSTEM)
    order.refresh_from_db()
    assert order.status == status


def move(order_id: int, to_status: str) -> None:
    if to_status == OrderStatus.ON_HOLD:
        services.order_hold(order_id=order_id, reason="fraud_review", actor=SYSTEM)
    elif to_status == OrderStatus.CANCELLED:
        services.order_cancel(order_id=order_id, actor=SYSTEM)
    elif to_status == OrderStatus.RECEIVED:
        services.order_release_hold(order_id=order_id, actor=SYSTEM)
    else:
        services.order_transition(order_id=order_id, to_status=to_status, actor=SYSTEM)


ALL_MOVES = [(a, b) for a in OrderStatus.values for b in OrderStatus.values if a != b]


@pytest.mark.parametrize(("from_status", "to_status"), ALL_MOVES)
def test_every_move_follows_the_table(new_order, from_status, to_status):
    order = new_order()
    force_status(order, from_status)
    events, domain_events = OrderEvent.objects.count(), DomainEvent.objects.count()
    snapshot = Order.objects.filter(pk=order.pk).values().get()
    if to_status in ORDER_TRANSITIONS[from_status]:
        move(order.pk, to_status)
        order.refresh_from_db()
        assert order.status == to_status
        last = OrderEvent.objects.filter(order=order).last()
        assert (last.kind, last.from_status, last.to_status, last.actor_label) == (
            "status_changed",
            from_status,
            to_status,
            "test",
        )
        assert DomainEvent.objects.count() == domain_events + 1
        event = DomainEvent.objects.order_by("id").last()
        assert event.name == f"order.{to_status}"
        assert event.payload["from_status"] == from_status
    else:
        with pytest.raises(IllegalTransition):
            move(order.pk, to_status)
        assert Order.objects.filter(pk=order.pk).values().get() == snapshot
        assert (OrderEvent.objects.count(), DomainEvent.objects.count()) == (events, domain_events)


def test_hold_needs_a_known_reason_and_a_note_when_manual(new_order):
    order = new_order()
    with pytest.raises(ValidationFailed):
        services.order_hold(order_id=order.pk, reason="bored", actor=SYSTEM)
    with pytest.raises(ValidationFailed):
        services.order_hold(order_id=order.pk, reason="manual", actor=SYSTEM, note="  ")
    order.refresh_from_db()
    assert order.status == "received"
    services.order_hold(order_id=order.pk, reason="manual", actor=SYSTEM, note="customer called")
    order.refresh_from_db()
    assert (order.status, order.hold_reason) == ("on_hold", "manual")
    services.order_release_hold(order_id=order.pk, actor=SYSTEM)
    order.refresh_from_db()
    assert (order.status, order.hold_reason) == ("received", "")


def test_history_is_append_only_in_the_database(new_order):
    order = new_order()
    with pytest.raises(RuntimeError):
        OrderEvent.objects.get(order=order).delete()
    # Even SQL that bypasses the model is refused by the database.
    with pytest.raises(Exception, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE orders_orderevent SET note = 'rewritten' WHERE order_id = %s", [order.pk])
    with pytest.raises(Exception, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM orders_orderevent WHERE order_id = %s", [order.pk])
    assert OrderEvent.objects.get(order=order).note == ""


def test_hold_reason_only_with_on_hold_is_a_database_rule(new_order):
    order = new_order()
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.filter(pk=order.pk).update(hold_reason="fraud_review")


def test_line_progress_is_cumulative_and_ordered(new_order):
    order = new_order()
    services.order_lines_record_progress(
        order_id=order.pk, quantities={1: {"qty_allocated": 2, "qty_picked": 1}}
    )
    line = order.lines.get(line_number=1)
    assert (line.qty_allocated, line.qty_picked, line.qty_shipped) == (2, 1, 0)
    with pytest.raises(ValidationFailed) as refused:
        services.order_lines_record_progress(
            order_id=order.pk,
            quantities={1: {"qty_shipped": 2}, 2: {"qty_allocated": 5}, 9: {"qty_allocated": 1}},
        )
    assert set(refused.value.details) == {"lines.1.qty_shipped", "lines.2.qty_allocated", "lines.9"}
    line.refresh_from_db()
    assert (line.qty_allocated, line.qty_picked, line.qty_shipped) == (2, 1, 0)
    assert order.lines.get(line_number=2).qty_allocated == 0


@pytest.mark.django_db
def test_a_fraud_hold_is_released_only_with_a_reason(api, products):
    order_id = api.post("/api/v1/orders/", order_payload("FRAUD-1"), format="json").json()["id"]
    services.order_hold(order_id=order_id, reason="fraud_review", actor=SYSTEM)
    with pytest.raises(ValidationFailed, match="fraud review"):
        services.order_release_hold(order_id=order_id, actor=SYSTEM, note=" ")
    assert Order.objects.get(pk=order_id).status == "on_hold"
    services.order_release_hold(order_id=order_id, actor=SYSTEM, note="card holder confirmed")
    assert Order.objects.get(pk=order_id).status == "received"
