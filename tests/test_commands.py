"""Management commands: channel and key creation print a working key; the demo loads once."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from orders.models import ApiKey, Channel, Order
from tests.conftest import api_client_for
from tests.factories import order_payload

pytestmark = pytest.mark.django_db


def run(*args) -> list[str]:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip().splitlines()


def test_create_channel_prints_a_working_key_last(products):
    lines = run("create_channel", "shop-gr", "--kind", "web", "--name", "Greek web shop")
    key = lines[-1]
    assert key.startswith("oms_") and " " not in key
    channel = Channel.objects.get(code="shop-gr")
    assert (channel.kind, channel.name) == ("web", "Greek web shop")
    response = api_client_for(key).post("/api/v1/orders/", order_payload(), format="json")
    assert response.status_code == 201
    assert response.json()["channel"] == "shop-gr"
    # only the hash is stored
    assert not ApiKey.objects.filter(key_hash=key).exists()


def test_create_channel_refuses_duplicates_and_bad_kinds():
    run("create_channel", "shop-gr", "--kind", "web")
    with pytest.raises(CommandError, match="already exists"):
        run("create_channel", "shop-gr", "--kind", "web")
    with pytest.raises(CommandError):
        run("create_channel", "other", "--kind", "fax")


def test_create_api_key_with_scopes_can_upsert_products():
    key = run("create_api_key", "ERP sync", "--scopes", "catalog", "inventory")[-1]
    client = api_client_for(key)
    body = {
        "products": [
            {"sku": " new-1 ", "name": "New one", "weight_grams": 100},
            {"sku": "NEW-2", "name": "New two"},
        ]
    }
    response = client.post("/api/v1/products/bulk/", body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json() == {"created": 2, "updated": 0}
    body["products"][1]["name"] = "New two, renamed"
    assert client.post("/api/v1/products/bulk/", body, format="json").json() == {"created": 0, "updated": 2}
    listing = client.get("/api/v1/products/").json()["results"]
    assert [(p["sku"], p["name"]) for p in listing] == [("NEW-1", "New one"), ("NEW-2", "New two, renamed")]
    # an integration key is not a channel
    assert client.post("/api/v1/orders/", order_payload(), format="json").status_code == 403


def test_bulk_upsert_is_all_or_nothing(catalog_api):
    body = {
        "products": [
            {"sku": "OK-1", "name": "fine"},
            {"sku": "OK-1", "name": "twice"},
            {"sku": "", "name": "blank"},
        ]
    }
    response = catalog_api.post("/api/v1/products/bulk/", body, format="json")
    assert response.status_code == 400
    # the blank SKU (the request's shape) and the duplicate (the batch's rule) in one answer
    assert set(response.json()["error"]["details"]) == {"products.1.sku", "products.2.sku"}
    body["products"].pop()
    response = catalog_api.post("/api/v1/products/bulk/", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {
        "products.1.sku": ["SKU 'OK-1' appears twice in this batch."]
    }
    from orders.models import Product

    assert Product.objects.count() == 0


def test_channel_key_cannot_upsert_products(api):
    response = api.post("/api/v1/products/bulk/", {"products": [{"sku": "X", "name": "x"}]}, format="json")
    assert response.status_code == 403
    assert "catalog" in response.json()["error"]["message"]


def test_create_api_key_needs_a_scope_or_a_channel():
    with pytest.raises(CommandError, match="at least one scope"):
        run("create_api_key", "nothing")
    with pytest.raises(CommandError, match="No channel"):
        run("create_api_key", "ghost", "--channel", "ghost")


def test_seed_demo_loads_once_and_its_key_works(tmp_path, settings, monkeypatch):
    from demo.management.commands import seed_demo

    monkeypatch.setattr(seed_demo, "CREDENTIALS_FILE", tmp_path / "demo-credentials.json")
    first = "\n".join(run("seed_demo"))
    assert "Demo data loaded." in first
    statuses = set(Order.objects.values_list("status", flat=True))
    assert {
        "received",
        "allocated",
        "in_fulfillment",
        "shipped",
        "delivered",
        "on_hold",
        "cancelled",
        "backordered",
    } <= statuses
    assert Order.objects.count() >= 30
    assert Channel.objects.count() == 4
    # a real rule set in force, a draft of its next version to dry-run, and lane times
    from routing import services as routing
    from routing.models import LaneTransit, RuleSet

    in_force = RuleSet.objects.get(status="published")
    assert list(in_force.warehouses.order_by("rank").values_list("warehouse__code", flat=True)) == [
        "ATH1",
        "SKG1",
        "BER1",
    ]
    draft = RuleSet.objects.get(status="draft")
    assert draft.keep_within_country and draft.based_on_id == in_force.pk
    assert LaneTransit.objects.exists()
    report = routing.rule_set_dry_run(rule_set_id=draft.pk, days=14)
    assert report.published.orders >= 30
    # addresses have no coordinates of their own: the city centres give the dry run real distances
    assert report.published.distance_km > 0
    from inventory.selectors import stock_drifts
    from orders.models import OrderLine

    assert stock_drifts() == []
    # lines agree with their orders: shipped orders shipped every unit, backordered ones have none
    for line in OrderLine.objects.select_related("order"):
        if line.order.status in ("shipped", "delivered"):
            assert line.qty_shipped == line.quantity
        if line.order.status == "backordered":
            assert line.qty_allocated == 0
    # returns in the states ops meet, and delivered orders left to send back from the tracking page
    from returns.models import Credit, Return

    assert {"requested", "authorised", "label_issued", "received", "closed", "rejected"} <= set(
        Return.objects.values_list("status", flat=True)
    )
    assert Credit.objects.filter(method="exchange", ret__replacement_order__isnull=False).exists()
    assert Order.objects.filter(status="delivered").exists()
    orders_before = Order.objects.count()
    # the demo's orders tell their customers where they stand once the worker handles their events
    from notifications import services as messaging
    from notifications.models import Message
    from oms.events import outbox_publish_pending

    settings.NOTIFICATION_DEBOUNCE_SECONDS = 0
    outbox_publish_pending()
    results = [messaging.message_send(message_id=pk).result for pk in messaging.messages_due()]
    assert results.count("sent") >= 20
    # replenishment: open suggestions to decide, a purchase order sent (and e-mailed once its event is
    # handled), a production order on the workshop's schedule that the umbrella backorders wait for
    from replenishment.models import ProductionOrder, PurchaseOrder, Suggestion
    from replenishment.selectors import order_expected_stock

    assert Suggestion.objects.filter(status="open").count() >= 3
    (purchase_order,) = PurchaseOrder.objects.all()
    assert purchase_order.status == "sent" and purchase_order.emailed_to.endswith(".example")
    (production,) = ProductionOrder.objects.all()
    assert production.status == "scheduled" and production.slots.exists()
    waiting = Order.objects.filter(status="backordered").first()
    assert order_expected_stock(waiting)["expected_stock_date"] == production.scheduled_date
    sent = Message.objects.filter(status="sent")
    assert {"order_confirmed", "shipped", "delivered", "order_cancelled", "return_credited"} <= set(
        sent.values_list("trigger", flat=True)
    )
    assert sent.filter(language="el").exists() and sent.filter(language="en").exists()
    # five weeks of history behind the present: every KPI chart has a shape
    from datetime import timedelta

    from kpis.models import DailyFigure

    for code in ("orders", "cycle_time", "fill_rate", "on_time", "first_attempt", "events_per_shipment"):
        days = set(
            DailyFigure.objects.filter(grain="all", kpi=code, denominator__gt=0).values_list("day", flat=True)
        )
        assert len(days) >= 20 and max(days) - min(days) >= timedelta(days=28), code
    assert DailyFigure.objects.filter(grain="all", kpi="cost_per_delivery", numerator__gt=0).count() >= 20
    second = "\n".join(run("seed_demo"))
    assert "already has data" in second
    assert Order.objects.count() == orders_before
    key = second.splitlines()[-3].strip()
    response = api_client_for(key).post(
        "/api/v1/orders/",
        order_payload("NEW-1", lines=[{"sku": "CAP-NAVY", "quantity": 1, "unit_price": "15.00"}]),
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert "ops / ops-demo-2026" in second


def test_seed_scale_writes_a_consistent_year_of_orders_repeatably():
    from datetime import timedelta

    from django.db.models import Count, F
    from django.utils import timezone

    from demo.management.commands.seed_scale import PATHS, plan_orders
    from inventory.selectors import stock_drifts
    from orders.models import OrderEvent, OrderLine

    # the same seed plans the same orders
    assert plan_orders(seed=7, orders=50, skus=20, customers=10) == plan_orders(
        seed=7, orders=50, skus=20, customers=10
    )
    assert plan_orders(seed=7, orders=50, skus=20, customers=10) != plan_orders(
        seed=8, orders=50, skus=20, customers=10
    )
    out = StringIO()
    call_command("seed_scale", orders=600, skus=40, warehouses=6, seed=11, stdout=out)
    assert "Seeded 600 orders, 40 SKUs, 6 warehouses" in out.getvalue()
    assert "order lines: " in out.getvalue() and "history rows: " in out.getvalue()
    orders = Order.objects.filter(external_id__startswith="SC-")
    assert orders.count() == 600
    statuses = dict(orders.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    assert set(statuses) == {"delivered", "shipped", "cancelled", "backordered", "received", "on_hold"}
    assert statuses["delivered"] > 300  # mostly delivered, as a year's orders are
    now = timezone.now()
    assert not orders.filter(placed_at__gt=now).exists() and not orders.filter(updated_at__gt=now).exists()
    assert orders.filter(placed_at__lt=now - timedelta(days=300)).exists()
    # every order has lines, totals matching them, and its history from "created" to its status
    for order in orders.prefetch_related("lines", "events")[:200]:
        lines = list(order.lines.all())
        assert lines and order.subtotal == sum(line.total for line in lines)
        history = sorted(order.events.all(), key=lambda e: (e.created_at, e.pk))
        assert history[0].kind == "created"
        assert [e.to_status for e in history][1:] == [str(s) for s in PATHS[order.status]]
        for line in lines:
            if order.status == "delivered":
                assert line.qty_shipped == line.qty_delivered == line.quantity
            if order.status == "cancelled":
                assert line.qty_cancelled == line.quantity and line.qty_shipped == 0
    assert OrderLine.objects.filter(order__in=orders).count() >= 600
    assert OrderEvent.objects.filter(order__in=orders, kind="created").count() == 600
    assert stock_drifts() == []  # every position is the sum of its ledger
    # what routing, carriers and tracking left: a decision per routed order, a shipment per shipped
    # or delivered one with its events and state, and the KPIs can be computed from them
    from routing.models import RoutingDecision
    from shipments.models import Shipment
    from tracking.models import TrackingEvent

    gone = orders.filter(status__in=["delivered", "shipped"])
    assert Shipment.objects.filter(order__in=gone).count() == gone.count()
    assert (
        RoutingDecision.objects.filter(order__in=orders).count()
        == orders.filter(status__in=["delivered", "shipped", "backordered"]).count()
    )
    delivered = Shipment.objects.filter(order__status="delivered")
    assert not delivered.filter(tracking__delivered_at__isnull=True).exists()
    assert not TrackingEvent.objects.filter(received_at__lt=F("occurred_at")).exists()
    assert (
        TrackingEvent.objects.filter(shipment__in=delivered, milestone="delivered").count()
        == delivered.count()
    )
    # the OMS's own orders go on after the seeded ones (the id sequences moved on)
    created = api_post_order_after_seed()
    assert created.status_code == 201, created.content
    with pytest.raises(CommandError):  # it fills an empty database only
        call_command("seed_scale", orders=10, skus=5, warehouses=5, stdout=StringIO())


def api_post_order_after_seed():
    channel = Channel.objects.get(code="scale-web")
    from orders import services

    raw = services.api_key_create(name="after seed", channel=channel)[1]
    body = order_payload("AFTER-SEED", lines=[{"sku": "SC-000001", "quantity": 1, "unit_price": "5.00"}])
    return api_client_for(raw).post("/api/v1/orders/", body, format="json")
