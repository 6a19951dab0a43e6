"""Production planning: orders scheduled into each site's daily capacity earliest due first, the days
an order in progress keeps, what is made booked through the ledger and serving backorders, the load
page, and which waiting order lines each production or purchase order will serve."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.models import StockMovement, StockPosition
from oms.errors import IllegalTransition, ValidationFailed
from oms.events import outbox_publish_pending
from orders.models import OrderLine, Product
from replenishment import services as replenishment
from replenishment.models import (
    ProductionOrder,
    ProductionSite,
    ProductionSlot,
    PurchaseOrder,
    PurchaseOrderLine,
    Supplier,
)
from replenishment.selectors import supplies_serve
from tests.factories import make_warehouse, waiting_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def plant(products):
    dc = make_warehouse("DC")
    return ProductionSite.objects.create(
        code="plant", name="Plant", warehouse=dc, lead_time_days=5, capacity_per_day=100
    )


def today():
    return timezone.localdate()


def mo(site, quantity, due_in_days, sku="CAP-NAVY") -> ProductionOrder:
    return ProductionOrder.objects.create(
        site=site,
        product=Product.objects.get(sku=sku),
        quantity=quantity,
        due_date=today() + timedelta(days=due_in_days),
    )


def slots(order) -> list[tuple[int, int]]:
    """(days from today, units) of an order's slots."""
    return [
        ((s.day - today()).days, s.units)
        for s in ProductionSlot.objects.filter(production_order=order).order_by("day")
    ]


def test_orders_fill_each_days_capacity_earliest_due_first(plant):
    late = mo(plant, 150, due_in_days=10)
    urgent = mo(plant, 80, due_in_days=2)
    replenishment.production_schedule(site_id=plant.pk)
    # the urgent order first, then the other takes the 20 left of day 0, all of day 1, 30 of day 2
    assert slots(urgent) == [(0, 80)]
    assert slots(late) == [(0, 20), (1, 100), (2, 30)]
    urgent.refresh_from_db()
    late.refresh_from_db()
    assert (urgent.status, urgent.scheduled_date) == ("scheduled", today())
    assert (late.status, late.scheduled_date) == ("scheduled", today() + timedelta(days=2))
    assert not late.is_late
    # a new order due sooner than both goes in front, and pushes the others back
    first = mo(plant, 100, due_in_days=1)
    replenishment.production_schedule(site_id=plant.pk)
    assert slots(first) == [(0, 100)]
    assert slots(urgent) == [(1, 80)]
    assert slots(late) == [(1, 20), (2, 100), (3, 30)]
    # the schedule never books a day past its capacity
    per_day = {}
    for slot in ProductionSlot.objects.filter(site=plant):
        per_day[slot.day] = per_day.get(slot.day, 0) + slot.units
    assert max(per_day.values()) == 100


def test_an_order_in_progress_keeps_its_days_and_its_units_are_booked_into_stock(plant, channel):
    started = mo(plant, 150, due_in_days=5)
    replenishment.production_schedule(site_id=plant.pk)
    replenishment.production_order_start(production_order_id=started.pk, actor="line-1")
    newer = mo(plant, 60, due_in_days=1)  # due sooner, but the running order keeps its days
    replenishment.production_schedule(site_id=plant.pk)
    assert slots(started) == [(0, 100), (1, 50)]
    assert slots(newer) == [(1, 50), (2, 10)]
    # a customer waits for 30 caps; production's receipt serves them
    order = waiting_order(channel, "MO-WAIT", "CAP-NAVY", 30)
    with pytest.raises(ValidationFailed) as too_many:
        replenishment.production_order_report(production_order_id=started.pk, quantity=151, actor="line-1")
    assert too_many.value.details == {"quantity": ["From 1 to 150 (CAP-NAVY still to make)."]}
    replenishment.production_order_report(production_order_id=started.pk, quantity=100, actor="line-1")
    outbox_publish_pending()  # the receipt offers the units to the backorder
    position = StockPosition.objects.get(warehouse=plant.warehouse, product__sku="CAP-NAVY")
    assert (position.on_hand, position.allocated) == (100, 30)
    assert OrderLine.objects.get(order=order).qty_allocated == 30
    movement = StockMovement.objects.get(reference_type="production_order")
    assert (movement.quantity, movement.reference) == (100, str(started.pk))
    done = replenishment.production_order_report(production_order_id=started.pk, quantity=50, actor="line-1")
    assert (done.status, done.produced_quantity) == ("done", 150)
    # its day 1 went back to the site: the newer order moves up
    assert slots(newer) == [(1, 60)]
    with pytest.raises(IllegalTransition):
        replenishment.production_order_report(production_order_id=started.pk, quantity=1, actor="line-1")


def test_what_does_not_fit_within_a_year_stays_planned_and_late_orders_are_flagged(plant):
    ProductionSite.objects.filter(pk=plant.pk).update(capacity_per_day=1)
    late = mo(plant, 3, due_in_days=1)
    huge = mo(plant, 400, due_in_days=2)
    replenishment.production_schedule(site_id=plant.pk)
    late.refresh_from_db()
    huge.refresh_from_db()
    assert (late.status, late.scheduled_date, late.is_late) == (
        "scheduled",
        today() + timedelta(days=2),
        True,
    )
    assert (huge.status, huge.scheduled_date) == ("planned", None)
    assert slots(huge) == []


def test_each_supply_names_the_backorders_it_will_serve(plant, channel):
    cap = Product.objects.get(sku="CAP-NAVY")
    supplier = Supplier.objects.create(code="acme", name="Acme", lead_time_days=7)
    po = PurchaseOrder.objects.create(
        supplier=supplier, warehouse=plant.warehouse, status="sent", expected_date=today() + timedelta(days=1)
    )
    PurchaseOrderLine.objects.create(purchase_order=po, product=cap, quantity=5)
    made = mo(plant, 250, due_in_days=9)
    replenishment.production_schedule(site_id=plant.pk)  # ready in two days, after the purchase order
    waiting = []
    for n, units in enumerate((4, 6), start=1):
        order = waiting_order(channel, f"BO-{n}", "CAP-NAVY", units)
        waiting.append(order)
    served = supplies_serve([cap.pk])
    # the purchase order arrives first: 4 units to the oldest order, 1 to the next; production the rest
    assert [(s.order_number, s.units) for s in served[str(po)]] == [
        (waiting[0].number, 4),
        (waiting[1].number, 1),
    ]
    assert [(s.order_number, s.units) for s in served[str(made)]] == [(waiting[1].number, 5)]


def test_the_production_page_shows_the_load_and_the_orders(plant, ops_client):
    order = mo(plant, 150, due_in_days=3)
    replenishment.production_schedule(site_id=plant.pk)
    page = ops_client.get("/dashboard/replenishment/production/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-day="{today():%Y-%m-%d}" data-units="100"' in html
    assert f'data-day="{today() + timedelta(days=1):%Y-%m-%d}" data-units="50"' in html
    assert f'id="mo-{order.pk}"' in html
    started = ops_client.post(f"/dashboard/replenishment/production/orders/{order.pk}/", {"action": "start"})
    assert started.status_code == 302
    assert ProductionOrder.objects.get(pk=order.pk).status == "in_progress"
    refused = ops_client.post(
        f"/dashboard/replenishment/production/orders/{order.pk}/",
        {"action": "report", "quantity": "x"},
        follow=True,
    )
    assert "Say how many units were made" in refused.content.decode()
    ops_client.post(
        f"/dashboard/replenishment/production/orders/{order.pk}/", {"action": "report", "quantity": "150"}
    )
    assert ProductionOrder.objects.get(pk=order.pk).status == "done"
    assert (
        ops_client.post(f"/dashboard/replenishment/production/sites/{plant.pk}/schedule/").status_code == 302
    )


def test_orders_not_started_on_their_day_are_planned_again_from_today(plant, clock):
    from replenishment.tasks import schedule_production

    order = mo(plant, 150, due_in_days=5)
    replenishment.production_schedule(site_id=plant.pk)
    first_day = today()
    clock.move_to(timezone.now() + timedelta(days=3))
    assert schedule_production() == 1  # the hourly beat job
    assert today() == first_day + timedelta(days=3)
    assert slots(order) == [(0, 100), (1, 50)]
    order.refresh_from_db()
    assert order.scheduled_date == today() + timedelta(days=1)


def test_the_production_and_purchase_order_pages_have_a_query_budget(
    plant, ops_client, channel, django_assert_max_num_queries
):
    supplier = Supplier.objects.create(code="acme", name="Acme", lead_time_days=7)
    for n, sku in enumerate(("CAP-NAVY", "TSHIRT-BLK-M", "HOODIE-GRY-L")):
        mo(plant, 40 + n, due_in_days=n + 1, sku=sku)
        po = PurchaseOrder.objects.create(supplier=supplier, warehouse=plant.warehouse, status="sent")
        PurchaseOrderLine.objects.create(purchase_order=po, product=Product.objects.get(sku=sku), quantity=5)
    ProductionSite.objects.create(
        code="second", name="Second", warehouse=plant.warehouse, lead_time_days=2, capacity_per_day=10
    )
    replenishment.production_schedule(site_id=plant.pk)
    ops_client.get("/dashboard/replenishment/production/")  # the session and the menu warm up
    # each page's reads, and every page's four banners (open KPI alerts, disabled webhook
    # endpoints, shop orders that could not be taken, carrier calls waiting)
    with django_assert_max_num_queries(11):
        assert ops_client.get("/dashboard/replenishment/production/").status_code == 200
    with django_assert_max_num_queries(12):
        assert ops_client.get("/dashboard/replenishment/purchase-orders/").status_code == 200
