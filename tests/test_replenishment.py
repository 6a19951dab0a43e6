"""Reorder evaluation on hand-built positions: exact quantities for each kind of rule, what counts as
on order and as backordered, the hub that carries a SKU's backorders, withdrawn needs, and never a
second open suggestion for a position, also under concurrent stock movements."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from inventory import services as stock
from inventory.models import StockPosition
from oms.errors import Conflict, IllegalTransition
from orders import services as orders
from orders.models import Product
from replenishment.evaluation import suggestions_evaluate
from replenishment.models import (
    ProductionOrder,
    ProductionSite,
    PurchaseOrder,
    PurchaseOrderLine,
    ReorderRule,
    Suggestion,
    Supplier,
)
from tests.factories import make_warehouse

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(products):
    dc = make_warehouse("DC")
    store = make_warehouse("STORE")
    supplier = Supplier.objects.create(code="acme", name="Acme", lead_time_days=7)
    return {"dc": dc, "store": store, "supplier": supplier, "sku": Product.objects.get(sku="CAP-NAVY")}


def position(warehouse, product, *, on_hand=0, allocated=0, in_transit=0) -> StockPosition:
    return StockPosition.objects.create(
        warehouse=warehouse, product=product, on_hand=on_hand, allocated=allocated, in_transit=in_transit
    )


def rule(product, warehouse, **values) -> ReorderRule:
    values.setdefault("source", "supplier")
    return ReorderRule.objects.create(product=product, warehouse=warehouse, **values)


def open_suggestions():
    return list(Suggestion.objects.filter(status="open").order_by("position__warehouse__code"))


def test_a_supplier_rule_orders_up_to_its_level_in_whole_packs_with_what_is_on_order(world):
    dc, sku = world["dc"], world["sku"]
    pos = position(dc, sku, on_hand=10, allocated=4, in_transit=3)
    rule(
        sku,
        dc,
        reorder_point=15,
        order_up_to=40,
        min_order_qty=10,
        order_multiple=6,
        supplier=world["supplier"],
    )
    po = PurchaseOrder.objects.create(supplier=world["supplier"], warehouse=dc, status="sent")
    PurchaseOrderLine.objects.create(purchase_order=po, product=sku, quantity=5, received_quantity=2)
    # a cancelled order and another warehouse's order are not on order here
    PurchaseOrderLine.objects.create(
        purchase_order=PurchaseOrder.objects.create(
            supplier=world["supplier"], warehouse=dc, status="cancelled"
        ),
        product=sku,
        quantity=50,
    )
    suggestions_evaluate()
    (suggestion,) = open_suggestions()
    # position 10 + 3 + 3 - 4 = 12 <= 15: need 40 - 12 = 28, in packs of 6: 30
    assert (suggestion.position_id, suggestion.kind, suggestion.quantity) == (pos.pk, "purchase", 30)
    assert suggestion.supplier_id == world["supplier"].pk
    explained = suggestion.explanation
    assert (explained["on_hand"], explained["in_transit"], explained["on_order"], explained["allocated"]) == (
        10,
        3,
        3,
        4,
    )
    assert (explained["inventory_position"], explained["need"], explained["rule_scope"]) == (
        12,
        28,
        "warehouse",
    )


def test_the_minimum_order_quantity_wins_over_a_small_need(world):
    dc, sku = world["dc"], world["sku"]
    position(dc, sku, on_hand=14)
    rule(
        sku,
        dc,
        reorder_point=15,
        order_up_to=16,
        min_order_qty=10,
        order_multiple=6,
        supplier=world["supplier"],
    )
    suggestions_evaluate()
    assert [s.quantity for s in open_suggestions()] == [12]  # need 2 -> minimum 10 -> two packs of 6


def test_the_skus_default_rule_covers_warehouses_without_their_own(world):
    dc, store, sku = world["dc"], world["store"], world["sku"]
    position(dc, sku, on_hand=5)
    position(store, sku, on_hand=5)
    rule(sku, None, reorder_point=10, order_up_to=20, supplier=world["supplier"])
    rule(sku, store, reorder_point=2, order_up_to=8, supplier=world["supplier"])
    suggestions_evaluate()
    assert [
        (s.position.warehouse.code, s.quantity, s.explanation["rule_scope"]) for s in open_suggestions()
    ] == [("DC", 15, "default")]


def test_a_transfer_takes_only_what_the_source_holds_above_its_own_level(world):
    dc, store, sku = world["dc"], world["store"], world["sku"]
    position(dc, sku, on_hand=100, allocated=10)
    rule(sku, dc, reorder_point=20, order_up_to=60, supplier=world["supplier"])
    position(store, sku, on_hand=0)
    rule(sku, store, reorder_point=10, order_up_to=45, source="transfer", source_warehouse=dc)
    suggestions_evaluate()
    (transfer,) = open_suggestions()
    # the store needs 45; the DC has 100 - 10 - 60 = 30 above its own level
    assert (transfer.kind, transfer.quantity, transfer.source_warehouse_id) == ("transfer", 30, dc.pk)
    assert transfer.explanation["surplus_at_source"] == 30
    StockPosition.objects.filter(warehouse=dc).update(allocated=40)  # nothing above its level now
    suggestions_evaluate()
    assert open_suggestions() == []
    assert Suggestion.objects.get().status == "withdrawn"


def test_the_rule_keeps_its_levels_on_top_of_the_positions_safety_stock(world):
    dc, store, sku = world["dc"], world["store"], world["sku"]
    position(dc, sku, on_hand=17)
    StockPosition.objects.filter(warehouse=dc).update(safety_stock=5)
    rule(sku, dc, reorder_point=15, order_up_to=30, supplier=world["supplier"])
    suggestions_evaluate()
    (suggestion,) = open_suggestions()
    # 17 is above the reorder point 15, but not above 15 + 5 kept back: order up to 30 + 5
    assert (suggestion.quantity, suggestion.explanation["safety_stock"]) == (18, 5)
    assert suggestion.explanation["need"] == 18
    # a transfer source keeps its own safety stock too: 60 - 30 (its level) - 5 (safety) = 25
    StockPosition.objects.filter(warehouse=dc).update(on_hand=60)
    position(store, sku, on_hand=0)
    rule(sku, store, reorder_point=10, order_up_to=40, source="transfer", source_warehouse=dc)
    suggestions_evaluate()
    (transfer,) = [s for s in open_suggestions() if s.kind == "transfer"]
    assert (transfer.quantity, transfer.explanation["surplus_at_source"]) == (25, 25)


def test_production_orders_are_on_order_and_a_production_rule_suggests_production(world):
    dc, sku = world["dc"], world["sku"]
    site = ProductionSite.objects.create(
        code="plant", name="Plant", warehouse=dc, lead_time_days=3, capacity_per_day=50
    )
    position(dc, sku, on_hand=5)
    rule(sku, dc, reorder_point=30, order_up_to=100, source="production", production_site=site)
    ProductionOrder.objects.create(
        site=site, product=sku, quantity=20, produced_quantity=5, status="scheduled"
    )
    ProductionOrder.objects.create(site=site, product=sku, quantity=99, status="done")
    suggestions_evaluate()
    (made,) = open_suggestions()
    assert (made.kind, made.quantity, made.production_site_id) == (
        "production",
        80,
        site.pk,
    )  # 100 - (5 + 15)


def test_the_hub_carries_the_skus_backorders(world, channel):
    dc, store, sku = world["dc"], world["store"], world["sku"]
    position(store, sku, on_hand=0)
    position(dc, sku, on_hand=0)
    rule(sku, store, reorder_point=0, order_up_to=5, supplier=world["supplier"])
    rule(sku, dc, reorder_point=0, order_up_to=5, supplier=world["supplier"], covers_backorders=True)
    order = orders.order_create(
        channel=channel,
        actor=orders.Actor.system("t"),
        data=orders.OrderInput(
            external_id="BO-1",
            customer=orders.CustomerInput(email="b@example.com"),
            shipping_address={
                "name": "B",
                "line1": "Odos 1",
                "city": "Athens",
                "postal_code": "10434",
                "country": "GR",
            },
            lines=[orders.LineInput(sku=sku.sku, quantity=7, unit_price=Decimal("5.00"))],
            currency="EUR",
        ),
    )
    stock.stock_allocate(order_id=order.pk, actor="t")
    order.refresh_from_db()
    assert order.status == "backordered"
    suggestions_evaluate()
    by_warehouse = {s.position.warehouse.code: s for s in open_suggestions()}
    assert by_warehouse["DC"].quantity == 12 and by_warehouse["DC"].explanation["backordered"] == 7
    assert by_warehouse["STORE"].quantity == 5 and by_warehouse["STORE"].explanation["backordered"] == 0
    # without a flag, the first warehouse (by id) that buys the SKU carries them
    ReorderRule.objects.update(covers_backorders=False)
    suggestions_evaluate()
    by_warehouse = {s.position.warehouse.code: s.explanation["backordered"] for s in open_suggestions()}
    assert by_warehouse == {"DC": 7, "STORE": 0}


def test_evaluating_again_updates_the_one_open_suggestion(world):
    dc, sku = world["dc"], world["sku"]
    pos = position(dc, sku, on_hand=2)
    rule(sku, dc, reorder_point=5, order_up_to=20, supplier=world["supplier"])
    assert suggestions_evaluate().upserted == 1
    written = Suggestion.objects.get().updated_at
    # the same figures again: the suggestion is left alone (no write, its time says when it changed)
    assert suggestions_evaluate(product_ids=[sku.pk]).upserted == 0
    assert suggestions_evaluate().upserted == 0
    assert Suggestion.objects.get().updated_at == written
    StockPosition.objects.filter(pk=pos.pk).update(on_hand=4)
    assert suggestions_evaluate(product_ids=[sku.pk]).upserted == 1
    (suggestion,) = Suggestion.objects.all()
    assert (suggestion.status, suggestion.quantity) == ("open", 16)
    assert suggestion.updated_at > written
    Suggestion.objects.update(status="rejected")  # ops said no: the next run proposes afresh
    suggestions_evaluate(product_ids=[sku.pk])
    assert sorted(Suggestion.objects.values_list("status", flat=True)) == ["open", "rejected"]


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_stock_movements_leave_one_open_suggestion(world):
    dc, sku = world["dc"], world["sku"]
    position(dc, sku, on_hand=0)
    rule(sku, dc, reorder_point=50, order_up_to=100, supplier=world["supplier"])
    start = threading.Barrier(20)
    errors = []

    def move(n: int) -> None:
        try:
            start.wait()
            stock.stock_receive(warehouse=dc, product=sku, quantity=1, actor=f"t{n}")
            suggestions_evaluate(product_ids=[sku.pk])
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=move, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    (suggestion,) = Suggestion.objects.filter(status="open")
    assert suggestion.quantity == 80  # every movement counted: 100 - 20
    assert Suggestion.objects.count() == 1


def test_stock_movements_ask_for_their_skus_evaluation_once_per_burst(world):
    from django.core.cache import cache

    from oms.events import outbox_publish_pending
    from replenishment.handlers import _due_key

    dc, sku = world["dc"], world["sku"]
    rule(sku, dc, reorder_point=10, order_up_to=30, supplier=world["supplier"])
    stock.stock_receive(warehouse=dc, product=sku, quantity=2, actor="t")
    outbox_publish_pending()  # stock.received -> the SKU's evaluation (in-process here)
    assert [s.quantity for s in open_suggestions()] == [28]
    # an evaluation already queued for the SKU covers the next movements of the burst
    cache.add(_due_key(sku.pk), 1, timeout=60)
    stock.stock_receive(warehouse=dc, product=sku, quantity=3, actor="t")
    outbox_publish_pending()
    assert [s.quantity for s in open_suggestions()] == [28]
    cache.delete(_due_key(sku.pk))  # that task ran
    stock.stock_receive(warehouse=dc, product=sku, quantity=1, actor="t")
    outbox_publish_pending()
    assert [s.quantity for s in open_suggestions()] == [24]


def test_approved_suggestions_become_orders_and_are_not_proposed_again(world, clock):
    from inventory.models import Transfer
    from replenishment import services as replenishment

    dc, store, sku = world["dc"], world["store"], world["sku"]
    hoodie = Product.objects.get(sku="HOODIE-GRY-L")
    site = ProductionSite.objects.create(
        code="plant", name="Plant", warehouse=dc, lead_time_days=3, capacity_per_day=50
    )
    position(dc, sku, on_hand=100)
    rule(sku, dc, reorder_point=20, order_up_to=60, supplier=world["supplier"], lead_time_days=10)
    position(store, sku, on_hand=0)
    rule(sku, store, reorder_point=5, order_up_to=25, source="transfer", source_warehouse=dc)
    position(dc, hoodie, on_hand=0)
    rule(hoodie, dc, reorder_point=5, order_up_to=40, source="production", production_site=site)
    position(store, hoodie, on_hand=1)
    rule(hoodie, store, reorder_point=5, order_up_to=12, supplier=world["supplier"])
    suggestions_evaluate()
    suggestions = {(s.position.warehouse.code, s.position.product.sku): s for s in open_suggestions()}
    assert {key: (s.kind, s.quantity) for key, s in suggestions.items()} == {
        ("STORE", "CAP-NAVY"): ("transfer", 25),
        ("DC", "HOODIE-GRY-L"): ("production", 40),
        ("STORE", "HOODIE-GRY-L"): ("purchase", 11),
    }
    for s in suggestions.values():
        replenishment.suggestion_decide(suggestion_id=s.pk, approve=True, actor="olga", quantity=s.quantity)
    suggestions_evaluate()  # approved ones count as on order: nothing new
    assert open_suggestions() == []
    made = replenishment.suggestions_order(suggestion_ids=[s.pk for s in suggestions.values()], actor="olga")
    (po,) = made.purchase_orders
    assert (po.status, po.supplier_id, po.warehouse.code) == ("draft", world["supplier"].pk, "STORE")
    assert po.expected_date == clock_today() + timedelta(days=7)  # the supplier's lead time
    assert list(po.lines.values_list("product__sku", "quantity")) == [("HOODIE-GRY-L", 11)]
    (transfer,) = made.transfers
    assert (transfer.status, transfer.quantity, transfer.from_warehouse.code) == ("planned", 25, "DC")
    (production,) = made.production_orders
    assert (production.quantity, production.due_date) == (40, clock_today() + timedelta(days=3))
    assert set(Suggestion.objects.values_list("status", flat=True)) == {"ordered"}
    suggestions_evaluate()  # the orders are on order now
    assert open_suggestions() == []
    assert Transfer.objects.count() == 1
    # ordering again, or ordering what is not approved, is refused whole
    with pytest.raises(Conflict) as refused:
        replenishment.suggestions_order(suggestion_ids=[s.pk for s in suggestions.values()], actor="olga")
    assert "Only approved suggestions" in str(refused.value)


def clock_today():
    from django.utils import timezone

    return timezone.localdate()


def test_a_purchase_order_received_in_parts_fills_backorders_and_closes(world, channel):
    from oms.errors import ValidationFailed
    from oms.events import outbox_publish_pending
    from orders.models import Order
    from replenishment import services as replenishment
    from replenishment.services import ReceiptLine

    dc, sku = world["dc"], world["sku"]
    order = orders.order_create(
        channel=channel,
        actor=orders.Actor.system("t"),
        data=orders.OrderInput(
            external_id="BO-2",
            customer=orders.CustomerInput(email="b@example.com"),
            shipping_address={
                "name": "B",
                "line1": "Odos 1",
                "city": "Athens",
                "postal_code": "10434",
                "country": "GR",
            },
            lines=[orders.LineInput(sku=sku.sku, quantity=4, unit_price=Decimal("5.00"))],
            currency="EUR",
        ),
    )
    stock.stock_allocate(order_id=order.pk, actor="t")
    po = PurchaseOrder.objects.create(supplier=world["supplier"], warehouse=dc)
    line = PurchaseOrderLine.objects.create(purchase_order=po, product=sku, quantity=10)
    with pytest.raises(IllegalTransition):  # a draft is not on its way yet
        replenishment.purchase_order_receive(
            purchase_order_id=po.pk, lines=[ReceiptLine(line.pk, 1)], actor="t"
        )
    replenishment.purchase_order_send(purchase_order_id=po.pk, actor="olga")
    with pytest.raises(ValidationFailed) as too_many:
        replenishment.purchase_order_receive(
            purchase_order_id=po.pk, lines=[ReceiptLine(line.pk, 11)], actor="t"
        )
    assert too_many.value.details == {"lines.0.quantity": ["CAP-NAVY: 10 still expected, not 11."]}
    replenishment.purchase_order_receive(
        purchase_order_id=po.pk, lines=[ReceiptLine(line.pk, 6)], actor="rita"
    )
    po.refresh_from_db()
    line.refresh_from_db()
    assert (po.status, line.received_quantity) == ("partially_received", 6)
    outbox_publish_pending()  # the receipt offers the units to the backorder
    assert Order.objects.get(pk=order.pk).status == "allocated"
    pos = StockPosition.objects.get(warehouse=dc, product=sku)
    assert (pos.on_hand, pos.allocated) == (6, 4)
    movement = pos.movements.get(kind="receipt")
    assert (movement.reference_type, movement.reference) == ("purchase_order", str(po.pk))
    replenishment.purchase_order_receive(
        purchase_order_id=po.pk, lines=[ReceiptLine(line.pk, 4)], actor="rita"
    )
    po.refresh_from_db()
    assert po.status == "received"
    assert StockPosition.objects.get(pk=pos.pk).on_hand == 10
    from inventory.selectors import stock_drifts

    assert stock_drifts() == []  # every figure is the sum of its ledger


def test_suggested_values_come_from_the_demand_history(world, settings):
    from django.utils import timezone

    from inventory.models import StockMovement
    from replenishment import services as replenishment
    from replenishment.demand import suggested_values

    dc, store, sku = world["dc"], world["store"], world["sku"]
    pos = position(dc, sku, on_hand=500)
    own = rule(sku, dc, reorder_point=1, order_up_to=2, supplier=world["supplier"], review_period_days=3)
    now = timezone.now()
    # 28 units over 28 days, shipped on two days (14 each): mean 1 a day, variance 392/28 - 1 = 13
    for days_ago, units in ((3, 14), (10, 10), (10, 4), (40, 99)):
        movement = StockMovement.objects.create(position=pos, kind="shipment", quantity=-units, actor="t")
        StockMovement.objects.filter(pk=movement.pk).update(created_at=now - timedelta(days=days_ago))
    StockMovement.objects.create(position=pos, kind="receipt", quantity=50, actor="t")  # not demand
    values = suggested_values([own], window_days=28, service_level=0.95, now=now)[own.pk]
    assert (values.mean_daily, values.sigma_daily, values.lead_time_days) == (1.0, 3.606, 7)
    # 1 x 7 + 1.645 x 3.606 x sqrt(7) = 22.69 -> 23; plus 1 x 3 review days -> 26
    assert (values.reorder_point, values.order_up_to) == (23, 26)
    # a default rule averages the positions it covers: the store without demand halves the figures
    position(store, sku, on_hand=0)
    default = rule(sku, None, reorder_point=0, order_up_to=0, supplier=world["supplier"], lead_time_days=4)
    store_only = suggested_values([default], window_days=28, now=now)[default.pk]
    assert (store_only.positions, store_only.mean_daily, store_only.reorder_point) == (1, 0.0, 0)
    own.delete()
    both = suggested_values([default], window_days=28, now=now)[default.pk]
    assert (both.positions, both.mean_daily, both.sigma_daily) == (2, 0.5, 1.803)
    # ops apply them in bulk
    settings.REPLENISHMENT_DEMAND_WINDOW_DAYS = 28
    (applied,) = replenishment.rules_apply_suggested(rule_ids=[default.pk], actor="olga")
    assert (applied.reorder_point, applied.order_up_to) == (both.reorder_point, both.order_up_to)


def test_admins_see_suggested_values_beside_the_rules_and_apply_them(world, client):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("root", password="pw-root-123"))
    dc, sku = world["dc"], world["sku"]
    position(dc, sku)
    own = rule(sku, dc, reorder_point=40, order_up_to=90, supplier=world["supplier"])
    page = client.get("/admin/replenishment/reorderrule/").content.decode()
    assert "0 / 0 (demand 0 ± 0 a day, 7 d lead)" in page  # no demand yet
    done = client.post(
        "/admin/replenishment/reorderrule/",
        {"action": "apply_suggested", "_selected_action": [own.pk]},
        follow=True,
    )
    assert "1 rule(s) now use their suggested values." in done.content.decode()
    own.refresh_from_db()
    assert (own.reorder_point, own.order_up_to) == (0, 0)


def test_a_backordered_line_shows_when_its_stock_is_expected(world, channel_key, api, ops_client, clock):
    from replenishment import services as replenishment

    dc, sku = world["dc"], world["sku"]

    def backorder(external_id: str, units: int) -> int:
        response = api.post(
            "/api/v1/orders/",
            {
                "external_id": external_id,
                "customer": {"email": "b@example.com"},
                "shipping_address": {
                    "name": "B",
                    "line1": "Odos 1",
                    "city": "Athens",
                    "postal_code": "10434",
                    "country": "GR",
                },
                "lines": [{"sku": sku.sku, "quantity": units, "unit_price": "5.00"}],
                "currency": "EUR",
            },
            format="json",
        )
        assert response.status_code == 201, response.json()
        stock.stock_allocate(order_id=response.json()["id"], actor="t")
        return response.json()["id"]

    first, second = backorder("E-1", 4), backorder("E-2", 5)
    assert api.get(f"/api/v1/orders/{first}/").json()["expected_stock"] == [
        {"line_number": 1, "sku": "CAP-NAVY", "waiting": 4, "expected_date": None, "supplies": []}
    ]
    assert api.get(f"/api/v1/orders/{first}/").json()["expected_stock_date"] is None
    assert "no date yet" in ops_client.get(f"/dashboard/orders/{first}/").content.decode()
    po = PurchaseOrder.objects.create(
        supplier=world["supplier"], warehouse=dc, expected_date=clock_today() + timedelta(days=6)
    )
    PurchaseOrderLine.objects.create(purchase_order=po, product=sku, quantity=6)
    replenishment.purchase_order_send(purchase_order_id=po.pk, actor="olga")
    later = PurchaseOrder.objects.create(
        supplier=world["supplier"], warehouse=dc, expected_date=clock_today() + timedelta(days=20)
    )
    PurchaseOrderLine.objects.create(purchase_order=later, product=sku, quantity=3)
    replenishment.purchase_order_send(purchase_order_id=later.pk, actor="olga")
    # the oldest order is served by the first delivery; the second needs the first's rest and the later one
    day6, day20 = (clock_today() + timedelta(days=d) for d in (6, 20))
    assert (
        api.get(f"/api/v1/orders/{first}/").json()["expected_stock"][0]["expected_date"] == day6.isoformat()
    )
    second_expected = api.get(f"/api/v1/orders/{second}/").json()["expected_stock"][0]
    assert (second_expected["expected_date"], second_expected["supplies"]) == (
        day20.isoformat(),
        [str(po), str(later)],
    )
    # the order's own promise: complete once its last waiting unit arrives
    assert api.get(f"/api/v1/orders/{first}/").json()["expected_stock_date"] == day6.isoformat()
    assert api.get(f"/api/v1/orders/{second}/").json()["expected_stock_date"] == day20.isoformat()
    page = ops_client.get(f"/dashboard/orders/{second}/").content.decode()
    assert "Waiting for stock" in page and day20.strftime("%-d %b %Y") in page
    assert f"All of its stock is expected by <strong>{day20.strftime('%a %-d %b %Y')}</strong>" in page


def test_ops_work_the_queue_and_the_purchase_orders_in_the_dashboard(world, ops_client):
    dc, sku = world["dc"], world["sku"]
    pos = position(dc, sku, on_hand=2)
    rule(sku, dc, reorder_point=5, order_up_to=20, supplier=world["supplier"])
    suggestions_evaluate()
    (suggestion,) = open_suggestions()
    page = ops_client.get("/dashboard/replenishment/").content.decode()
    assert 'data-queue="open">Open <b>1</b>' in page
    assert "position 2 = 2 on hand + 0 in transit + 0 on order" in page and "reorder at 5, up to 20" in page
    ops_client.post(
        "/dashboard/replenishment/decide/",
        {"suggestion": [suggestion.pk], "action": "approve", f"quantity-{suggestion.pk}": "24"},
    )
    suggestion.refresh_from_db()
    assert (suggestion.status, suggestion.quantity, suggestion.decided_by) == ("approved", 24, "olga")
    done = ops_client.post(
        "/dashboard/replenishment/decide/", {"suggestion": [suggestion.pk], "action": "order"}, follow=True
    )
    assert "Ordered: 1 purchase order(s) to send" in done.content.decode()
    po = PurchaseOrder.objects.get()
    listing = ops_client.get("/dashboard/replenishment/purchase-orders/").content.decode()
    assert f"{po} · Acme → DC" in listing and "Send to Acme" in listing
    ops_client.post(f"/dashboard/replenishment/purchase-orders/{po.pk}/send/")
    line = po.lines.get()
    too_many = ops_client.post(
        f"/dashboard/replenishment/purchase-orders/{po.pk}/receive/",
        {f"receive-{line.pk}": "25"},
        follow=True,
    )
    assert "24 still expected, not 25" in too_many.content.decode()
    ops_client.post(
        f"/dashboard/replenishment/purchase-orders/{po.pk}/receive/", {f"receive-{line.pk}": "10"}
    )
    po.refresh_from_db()
    assert po.status == "partially_received"
    assert StockPosition.objects.get(pk=pos.pk).on_hand == 12
    assert ops_client.get("/dashboard/replenishment/?status=nonsense").status_code == 200


def test_positions_that_run_out_before_an_order_could_arrive_are_listed(world, ops_client, settings):
    from django.utils import timezone

    from inventory.models import StockMovement
    from replenishment.evaluation import stockout_risk

    dc, store, sku = world["dc"], world["store"], world["sku"]
    fast = position(dc, sku, on_hand=20)  # sells 5 a day: 4 days of cover, 7 days' lead time
    rule(sku, dc, reorder_point=0, order_up_to=0, supplier=world["supplier"])
    slow = position(store, sku, on_hand=20)  # sells 1 a day: 20 days of cover
    rule(sku, store, reorder_point=0, order_up_to=0, supplier=world["supplier"])
    now = timezone.now()
    for pos, units in ((fast, 140), (slow, 28)):
        movement = StockMovement.objects.create(position=pos, kind="shipment", quantity=-units, actor="t")
        StockMovement.objects.filter(pk=movement.pk).update(created_at=now - timedelta(days=3))
    (at_risk,) = stockout_risk(window_days=28, now=now)
    assert (at_risk.warehouse, at_risk.daily_demand, at_risk.days_of_cover, at_risk.lead_time_days) == (
        "DC",
        5.0,
        4.0,
        7,
    )
    # stock on order lengthens the cover: 20 + 20 on order = 8 days, past the lead time
    po = PurchaseOrder.objects.create(supplier=world["supplier"], warehouse=dc, status="sent")
    PurchaseOrderLine.objects.create(purchase_order=po, product=sku, quantity=20)
    assert stockout_risk(window_days=28, now=now) == []
    PurchaseOrder.objects.filter(pk=po.pk).update(status="cancelled")
    settings.REPLENISHMENT_DEMAND_WINDOW_DAYS = 28
    page = ops_client.get("/dashboard/replenishment/").content.decode()
    assert "Will run out before a new order could arrive" in page and ">4.0<" in page


def test_crossing_the_reorder_point_raises_one_event_and_an_alert_on_the_dashboard(world, ops_client):
    from oms.models import DomainEvent

    dc, sku = world["dc"], world["sku"]
    pos = position(dc, sku, on_hand=30)
    rule(sku, dc, reorder_point=10, order_up_to=30, supplier=world["supplier"])
    assert suggestions_evaluate().crossed == 0
    StockPosition.objects.filter(pk=pos.pk).update(on_hand=8)
    assert suggestions_evaluate().crossed == 1
    (event,) = DomainEvent.objects.filter(name="stock.below_reorder_point")
    assert event.payload == {
        "position_id": pos.pk,
        "warehouse_id": dc.pk,
        "product_id": sku.pk,
        "inventory_position": 8,
        "reorder_point": 10,
        "safety_stock": 0,
    }
    # still below: the open suggestion is updated, no second alert
    StockPosition.objects.filter(pk=pos.pk).update(on_hand=5)
    assert suggestions_evaluate().crossed == 0
    assert DomainEvent.objects.filter(name="stock.below_reorder_point").count() == 1
    page = ops_client.get("/dashboard/replenishment/").content.decode()
    assert 'id="crossed"' in page and "CAP-NAVY</a></span> at DC: position 5, reorder point 10" in page
    # back above, then below again: a new crossing
    StockPosition.objects.filter(pk=pos.pk).update(on_hand=30)
    suggestions_evaluate()
    StockPosition.objects.filter(pk=pos.pk).update(on_hand=9)
    assert suggestions_evaluate().crossed == 1
    assert DomainEvent.objects.filter(name="stock.below_reorder_point").count() == 2


def test_a_rule_at_a_warehouse_that_never_held_the_sku_still_orders_it(world):
    dc, sku = world["dc"], world["sku"]
    rule(sku, dc, reorder_point=4, order_up_to=12, supplier=world["supplier"])
    assert not StockPosition.objects.filter(warehouse=dc, product=sku).exists()
    suggestions_evaluate(product_ids=[sku.pk])
    (suggestion,) = open_suggestions()
    assert (suggestion.position.warehouse_id, suggestion.quantity) == (dc.pk, 12)
    position_row = StockPosition.objects.get(warehouse=dc, product=sku)
    assert (position_row.on_hand, position_row.allocated, position_row.movements.count()) == (0, 0, 0)
