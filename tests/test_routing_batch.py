"""Routing a batch of received orders in one transaction (a sale's backlog): every decision as
routing the orders one by one in order of arrival would make it, and two batches at once neither
oversell nor deadlock."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from inventory import services as stock
from inventory.models import Allocation, Lot, StockMovement, StockPosition, WarehouseDayLoad
from oms.models import DomainEvent
from orders.models import Order, OrderEvent, Product
from routing import services as routing
from routing.models import RoutingDecision, RuleSet, RuleSetWarehouse
from tests.factories import make_warehouse as warehouse
from tests.factories import order_payload

TSHIRT, HOODIE, CAP = "TSHIRT-BLK-M", "HOODIE-GRY-L", "CAP-NAVY"


@pytest.fixture
def network(products):
    """Scarce stock: the batch's orders compete for it, and the later ones get less."""
    today = timezone.localdate()
    houses = {
        "ATH": warehouse("ATH", "37.98", "23.72", capacity_per_day=2),  # next to the customers
        "SKG": warehouse("SKG", "40.64", "22.94"),
        "PAT": warehouse("PAT", "38.25", "21.73"),
    }
    by_sku = {p.sku: p for p in Product.objects.all()}
    Product.objects.filter(sku=HOODIE).update(lot_tracked=True)
    by_sku[HOODIE].refresh_from_db()
    for code, sku, units in (
        ("ATH", TSHIRT, 5),
        ("SKG", TSHIRT, 4),
        ("ATH", CAP, 6),
        ("PAT", CAP, 2),
    ):
        stock.stock_receive(warehouse=houses[code], product=by_sku[sku], quantity=units, actor="t")
    # hoodies in lots: one expired yesterday (never promised), two good ones, the earlier first
    for code, lot, units, days in (
        ("ATH", "H-OLD", 5, -1),
        ("ATH", "H-LATE", 3, 90),
        ("ATH", "H-SOON", 2, 30),
        ("SKG", "H-SKG", 2, 60),
    ):
        stock.stock_receive(
            warehouse=houses[code],
            product=by_sku[HOODIE],
            quantity=units,
            actor="t",
            lot_code=lot,
            expiry_date=today + timedelta(days=days),
        )
    return houses


def post_orders(api, count: int) -> list[int]:
    ids = []
    for n in range(count):
        lines = [
            {"sku": TSHIRT, "quantity": 2, "unit_price": "19.90"},
            {"sku": HOODIE, "quantity": 1 + n % 2, "unit_price": "49.00"},
            {"sku": CAP, "quantity": 2, "unit_price": "15.00"},
        ]
        response = api.post("/api/v1/orders/", order_payload(f"B-{n}", lines=lines), format="json")
        assert response.status_code == 201, response.json()
        ids.append(response.json()["id"])
    return ids


def rows(query) -> list[tuple]:
    """The rows in a fixed order (no lot sorts before any lot)."""
    return sorted(query, key=lambda row: tuple("" if value is None else value for value in row))


def outcome(order_ids: list[int]) -> dict:
    """Everything routing decides and writes, without ids and timings."""
    decisions = {
        d.order_id: (
            d.outcome,
            d.attempts,
            d.plan,
            d.reserved,
            d.backordered,
            d.trace,
            d.alerts,
            d.rule_set_id,
        )
        for d in RoutingDecision.objects.filter(order_id__in=order_ids)
    }
    return {
        "orders": {o.pk: (o.status, o.hold_reason) for o in Order.objects.filter(pk__in=order_ids)},
        "decisions": decisions,
        "allocations": rows(
            Allocation.objects.filter(order_line__order_id__in=order_ids).values_list(
                "order_line__order_id",
                "order_line__line_number",
                "position__warehouse__code",
                "lot__code",
                "quantity",
            )
        ),
        "positions": sorted(
            StockPosition.objects.values_list("warehouse__code", "product__sku", "on_hand", "allocated")
        ),
        "lots": sorted(Lot.objects.values_list("code", "on_hand", "allocated")),
        "lines": sorted(
            Order.objects.filter(pk__in=order_ids).values_list(
                "pk", "lines__line_number", "lines__qty_allocated"
            )
        ),
        "history": sorted(
            OrderEvent.objects.filter(order_id__in=order_ids, kind="status_changed").values_list(
                "order_id", "from_status", "to_status", "actor_label"
            )
        ),
        "events": sorted(
            DomainEvent.objects.filter(aggregate_type="order", aggregate_id__in=map(str, order_ids))
            .exclude(name="order.received")
            .values_list("aggregate_id", "name")
        ),
        "day_loads": sorted(WarehouseDayLoad.objects.values_list("warehouse__code", "orders")),
        "ledger": rows(
            StockMovement.objects.filter(kind="allocation").values_list(
                "position__warehouse__code", "lot__code", "allocated_delta", "reference"
            )
        ),
    }


@pytest.mark.django_db
def test_a_batch_decides_and_writes_exactly_as_routing_one_by_one(api, network):
    order_ids = post_orders(api, 6)
    now = timezone.now()
    with transaction.atomic():
        decisions = routing.orders_route(order_ids=list(reversed(order_ids)), now=now)
        together = outcome(order_ids)
        transaction.set_rollback(True)
    assert [d.order_id for d in decisions] == order_ids  # in order of arrival, whatever the list's order
    for order_id in order_ids:
        routing.route_order(order_id=order_id, now=now)
    one_by_one = outcome(order_ids)
    for order_id in order_ids:
        assert together["decisions"][order_id] == one_by_one["decisions"][order_id], order_id
    assert together == one_by_one
    # and what that is: the first orders allocated, the later ones partly, the last backordered...
    statuses = [together["orders"][i][0] for i in order_ids]
    assert statuses[0] == "allocated" and "partially_allocated" in statuses
    assert statuses[-1] in ("partially_allocated", "backordered")
    # ...never from the expired lot, first expiry first, and Athens counted only up to its capacity
    lots = dict((code, allocated) for code, _, allocated in together["lots"])
    assert lots["H-OLD"] == 0 and lots["H-SOON"] == 2
    assert dict(together["day_loads"])["ATH"] == 2
    # no position promises more than it holds
    assert all(allocated <= on_hand for _, _, on_hand, allocated in together["positions"])


@pytest.mark.django_db
def test_a_batch_holds_what_its_rules_hold_and_leaves_others_to_the_one_by_one_path(api, network, channel):
    store = warehouse("ATH-ST", "37.97", "23.73", kind="store")
    stock.stock_receive(warehouse=store, product=Product.objects.get(sku=CAP), quantity=1, actor="t")
    rule_set = RuleSet.objects.create(name="PAT only", when_unroutable="hold")
    RuleSetWarehouse.objects.create(rule_set=rule_set, warehouse=network["PAT"])
    routing.rule_set_publish(rule_set_id=rule_set.pk, user=None)
    nothing_at_pat = api.post(
        "/api/v1/orders/",
        order_payload("HOLD-1", lines=[{"sku": TSHIRT, "quantity": 1, "unit_price": "19.90"}]),
        format="json",
    ).json()["id"]
    pickup = api.post(
        "/api/v1/orders/",
        order_payload(
            "PICK-1",
            lines=[{"sku": CAP, "quantity": 1, "unit_price": "15.00"}],
            service_level="pickup",
            pickup_store="ATH-ST",
        ),
        format="json",
    ).json()["id"]
    routing.orders_route(order_ids=[pickup, nothing_at_pat])
    held = Order.objects.get(pk=nothing_at_pat)
    assert (held.status, held.hold_reason) == ("on_hold", "unroutable")
    assert RoutingDecision.objects.get(order_id=nothing_at_pat).outcome == "held"
    assert Order.objects.get(pk=pickup).status == "allocated"
    assert Allocation.objects.get(order_line__order_id=pickup).position.warehouse.code == "ATH-ST"


@pytest.mark.django_db(transaction=True)
def test_two_batches_at_once_neither_oversell_nor_deadlock(api, products):
    """Two workers route overlapping batches on their own connections at the same instant: each
    locks its stock up front in key order, so one waits for the other, and the scarce units go
    to exactly as many orders as they cover."""
    houses = [warehouse("ATH", "37.98", "23.72"), warehouse("SKG", "40.64", "22.94")]
    cap, tshirt = Product.objects.get(sku=CAP), Product.objects.get(sku=TSHIRT)
    for house in houses:
        for product in (cap, tshirt):
            stock.stock_receive(warehouse=house, product=product, quantity=5, actor="t")
    ids = []
    for n in range(12):
        # the two batches name the SKUs in opposite orders
        lines = [
            {"sku": CAP, "quantity": 1, "unit_price": "15.00"},
            {"sku": TSHIRT, "quantity": 1, "unit_price": "9"},
        ]
        body = order_payload(f"C-{n}", lines=lines if n % 2 else list(reversed(lines)))
        ids.append(api.post("/api/v1/orders/", body, format="json").json()["id"])
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def route(batch: list[int]) -> None:
        try:
            start.wait()
            routing.orders_route(order_ids=batch)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=route, args=(ids[k::2],)) for k in (0, 1)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert RoutingDecision.objects.filter(order_id__in=ids).count() == 12
    for position in StockPosition.objects.all():
        assert position.allocated <= position.on_hand
        ledger = sum(
            StockMovement.objects.filter(position=position).values_list("allocated_delta", flat=True)
        )
        assert position.allocated == ledger
    # 10 of each SKU over the two warehouses for 12 orders: 10 units of each allocated, no more
    for product in (cap, tshirt):
        assert sum(StockPosition.objects.filter(product=product).values_list("allocated", flat=True)) == 10
