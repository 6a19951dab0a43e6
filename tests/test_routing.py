"""Routing wired to the OMS: received orders are planned, reserved and explained."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import User

from inventory import services as stock
from inventory.models import Allocation, Warehouse
from orders.models import Order, Product
from routing import services as routing
from routing.models import LaneTransit, RoutingDecision, RuleSet, RuleSetWarehouse
from tests.clock import at
from tests.factories import make_warehouse as warehouse
from tests.factories import order_payload


@pytest.fixture
def auto_routing(settings):
    settings.ROUTING_ON_RECEIPT = True


@pytest.fixture
def network(products):
    cap = Product.objects.get(sku="CAP-NAVY")
    houses = {
        "ATH": warehouse("ATH", "37.98", "23.72"),  # the customer is in Athens (order_payload)
        "SKG": warehouse("SKG", "40.64", "22.94"),
        "BER": warehouse("BER", "52.52", "13.40", country="DE"),
    }
    for code, units in (("ATH", 1), ("SKG", 10), ("BER", 50)):
        stock.stock_receive(warehouse=houses[code], product=cap, quantity=units, actor="t")
    return houses


def post(api, external_id, quantity=3, **extra):
    body = order_payload(
        external_id, lines=[{"sku": "CAP-NAVY", "quantity": quantity, "unit_price": "15.00"}], **extra
    )
    response = api.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


@pytest.mark.django_db(transaction=True)
def test_received_order_is_routed_to_the_best_warehouse_and_explained(api, network, auto_routing):
    order_id = post(api, "R-1", quantity=3)
    order = Order.objects.get(pk=order_id)
    assert order.status == "allocated"
    decision = RoutingDecision.objects.get(order=order)
    assert decision.outcome == "allocated"
    assert [(p["warehouse"], p["quantity"]) for p in decision.plan] == [("SKG", 3)]
    verdicts = {c["warehouse"]: (c["accepted"], c["chosen"]) for c in decision.trace}
    assert verdicts == {"ATH": (True, False), "SKG": (True, True), "BER": (True, False)}
    assert Allocation.objects.get(order_line__order=order).position.warehouse.code == "SKG"
    assert decision.duration_ms > 0


@pytest.mark.django_db(transaction=True)
def test_nothing_in_stock_backorders_or_holds_as_the_rules_say(api, products, auto_routing):
    warehouse("ATH", "37.98", "23.72")
    assert Order.objects.get(pk=post(api, "R-1")).status == "backordered"
    rule_set = RuleSet.objects.create(name="web", when_unroutable="hold")
    RuleSetWarehouse.objects.create(rule_set=rule_set, warehouse=Warehouse.objects.get(code="ATH"))
    routing.rule_set_publish(rule_set_id=rule_set.pk, user=None)
    order = Order.objects.get(pk=post(api, "R-2"))
    assert (order.status, order.hold_reason) == ("on_hold", "unroutable")
    decision = RoutingDecision.objects.get(order=order)
    assert decision.outcome == "held"
    assert decision.trace[0]["reason"] == "no stock of what the order needs"


@pytest.mark.django_db(transaction=True)
def test_published_rule_set_restricts_and_ranks_warehouses(api, network, channel, auto_routing):
    rule_set = RuleSet.objects.create(
        name="web express", channel=channel, service_level="express", weight_rank=1000, max_shipments=1
    )
    RuleSetWarehouse.objects.create(rule_set=rule_set, warehouse=network["BER"], rank=1)
    RuleSetWarehouse.objects.create(rule_set=rule_set, warehouse=network["SKG"], rank=2)
    routing.rule_set_publish(rule_set_id=rule_set.pk, user=None)
    express = post(api, "R-1")  # order_payload is express
    decision = RoutingDecision.objects.get(order_id=express)
    assert [p["warehouse"] for p in decision.plan] == ["BER"]
    assert {c["warehouse"] for c in decision.trace} == {"BER", "SKG"}  # ATH is not in the rule set
    assert decision.rule_set == rule_set
    standard = post(api, "R-2", service_level="standard")
    assert [p["warehouse"] for p in RoutingDecision.objects.get(order_id=standard).plan] == ["SKG"]


@pytest.mark.django_db(transaction=True)
def test_lane_table_and_country_rule(api, network, auto_routing):
    rule_set = RuleSet.objects.create(name="all", keep_within_country=True)
    for house in network.values():
        RuleSetWarehouse.objects.create(rule_set=rule_set, warehouse=house)
    routing.rule_set_publish(rule_set_id=rule_set.pk, user=None)
    LaneTransit.objects.create(warehouse=network["SKG"], country="GR", transit_days=Decimal("1"))
    decision = RoutingDecision.objects.get(order_id=post(api, "R-1"))
    reasons = {c["warehouse"]: c["reason"] for c in decision.trace}
    assert reasons["BER"] == "outside GR"
    assert next(c for c in decision.trace if c["warehouse"] == "SKG")["transit_days"] == 1.0


@pytest.mark.django_db(transaction=True)
def test_fewest_parcels_first_unless_the_rules_prefer_distance(api, network, auto_routing):
    # 11 units: Thessaloniki has 10 and Athens 1, Berlin 50. Fewest parcels first: Berlin alone.
    one_parcel = RoutingDecision.objects.get(order_id=post(api, "R-1", quantity=11))
    assert [(p["warehouse"], p["quantity"]) for p in one_parcel.plan] == [("BER", 11)]
    rule_set = RuleSet.objects.create(name="near first", minimize_shipments=False, weight_split=1)
    for house in network.values():
        RuleSetWarehouse.objects.create(rule_set=rule_set, warehouse=house)
    routing.rule_set_publish(rule_set_id=rule_set.pk, user=None)
    split = RoutingDecision.objects.get(order_id=post(api, "R-2", quantity=11))
    assert sorted((p["warehouse"], p["quantity"]) for p in split.plan) == [("ATH", 1), ("SKG", 10)]
    assert Order.objects.get(pk=split.order_id).status == "allocated"


@pytest.mark.django_db
def test_publishing_retires_the_previous_version_and_drafts_copy_it(network):
    first = RuleSet.objects.create(name="default")
    RuleSetWarehouse.objects.create(rule_set=first, warehouse=network["ATH"], rank=1)
    admin = User.objects.create_superuser("root", password="pw-root-123")
    routing.rule_set_publish(rule_set_id=first.pk, user=admin)
    draft = routing.rule_set_draft_from(rule_set_id=first.pk, user=admin)
    assert (draft.version, draft.status, draft.based_on_id) == (2, "draft", first.pk)
    assert list(draft.warehouses.values_list("warehouse__code", "rank")) == [("ATH", 1)]
    routing.rule_set_publish(rule_set_id=draft.pk, user=admin)
    first.refresh_from_db()
    draft.refresh_from_db()
    assert (first.status, draft.status, draft.published_by) == ("retired", "published", admin)
    assert routing.rule_set_in_force(channel_id=0, service_level="standard") == draft


@pytest.mark.django_db(transaction=True)
def test_order_page_explains_the_decision(api, network, auto_routing, client):
    from django.contrib.auth.models import Group

    from oms.dashboard import OPS_GROUP

    order_id = post(api, "R-1")
    user = User.objects.create_user("olga", password="pw-olga-123")
    user.groups.add(Group.objects.get_or_create(name=OPS_GROUP)[0])
    client.force_login(user)
    content = client.get(f"/dashboard/orders/{order_id}/").content.decode()
    times = "\N{MULTIPLICATION SIGN}"
    assert (
        f'this routing reserved 3 {times} <span class="mono">CAP-NAVY</span> (line 1) at <strong>SKG</strong>'
        in content
    )
    assert "possible, but a cheaper plan won" in content


@pytest.mark.django_db
def test_the_routing_panel_tells_one_story_across_decisions(api, network, ops_client, settings):
    """The headline said "2 of line 1 from ATH1" while every row read "rejected: no stock": the order
    held those units from an earlier decision. Now the panel says which decision did what."""
    settings.ROUTING_ON_RECEIPT = True
    order_id = post(api, "STORY-1", quantity=70)  # 61 caps in the whole network
    routing.route_order(order_id=order_id)
    second = routing.route_order(order_id=order_id)  # nothing new anywhere
    assert second.reserved == [] and sum(p["quantity"] for p in second.plan) == 61
    panel = ops_client.get(f"/dashboard/orders/{order_id}/").content.decode()
    assert "this routing reserved nothing" in panel
    assert "Held from earlier routing:" in panel
    for code, units in (("ATH", 1), ("SKG", 10), ("BER", 50)):
        assert f"<td>{code}</td>" in panel
        assert f"holds {units} unit{'s' if units > 1 else ''} from earlier routing" in panel


@pytest.mark.django_db
def test_without_coordinates_distances_come_from_the_citys_centre_and_say_so(api, network, ops_client):
    body = order_payload("CENTRE-1", lines=[{"sku": "CAP-NAVY", "quantity": 3, "unit_price": "15.00"}])
    del body["shipping_address"]["latitude"], body["shipping_address"]["longitude"]
    body["shipping_address"] |= {"city": "Thessaloniki", "postal_code": "546 21"}
    created = api.post("/api/v1/orders/", body, format="json").json()
    assert created["shipping_address"]["latitude"] is None  # the estimate is ours, not shown as theirs
    decision = routing.route_order(order_id=created["id"])
    rows = {row["warehouse"]: row for row in decision.trace}
    assert rows["SKG"]["distance_basis"] == "city centre" and rows["SKG"]["distance_km"] < 5
    assert rows["BER"]["transit_days_estimated"] == round(1 + rows["BER"]["distance_km"] / 500, 1)
    assert [p["warehouse"] for p in decision.plan] == ["SKG"]
    panel = ops_client.get(f"/dashboard/orders/{created['id']}/").content.decode()
    assert "distances are measured from the centre of Thessaloniki" in panel


@pytest.mark.django_db(transaction=True)
def test_replans_when_the_stock_vanishes_between_plan_and_reservation(api, network):
    """A real race: another connection holds Thessaloniki's stock row while routing plans, then takes
    all of it; routing's reservation comes back empty and it plans again from fresh figures."""
    import threading
    import time

    import psycopg
    from django.db import connection, connections

    from inventory.models import StockPosition

    order_id = post(api, "RACE", quantity=3)  # routing is off here: we route by hand below
    skg = StockPosition.objects.get(warehouse=network["SKG"])
    db = connection.settings_dict
    other = psycopg.connect(host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"])
    other.execute("SELECT id FROM inventory_stockposition WHERE id = %s FOR UPDATE", [skg.pk])
    result = {}

    def route() -> None:
        try:
            result["decision"] = routing.route_order(order_id=order_id)
        finally:
            connections.close_all()

    worker = threading.Thread(target=route)
    worker.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # wait until routing is blocked on the row we hold
        waiting = other.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()[0]
        if waiting:
            break
        time.sleep(0.05)
    # another order takes all ten units (with its ledger row, as a reservation would)
    other.execute("UPDATE inventory_stockposition SET allocated = on_hand WHERE id = %s", [skg.pk])
    other.execute(
        "INSERT INTO inventory_stockmovement (position_id, kind, quantity, allocated_delta, "
        "in_transit_delta, reason, reference_type, reference, actor, created_at) "
        "VALUES (%s, 'allocation', 0, 10, 0, '', 'manual', '', 'other order', now())",
        [skg.pk],
    )
    other.commit()
    other.close()
    worker.join(timeout=30)
    decision = result["decision"]
    assert decision.attempts == 2
    assert Order.objects.get(pk=order_id).status == "allocated"
    assert decision.plan and all(p["warehouse"] != "SKG" for p in decision.plan)
    assert sum(p["quantity"] for p in decision.plan) == 3
    from inventory.selectors import stock_drifts

    assert stock_drifts() == []


@pytest.mark.django_db(transaction=True)
def test_exceptions_queue_and_one_click_reroute(api, products, client, auto_routing):
    from django.contrib.auth.models import Group

    from oms.dashboard import OPS_GROUP
    from orders import services as order_services

    ath = warehouse("ATH", "37.98", "23.72")
    other = post(api, "H-2")  # no rule set yet: backordered
    order_services.order_hold(
        order_id=other, reason="fraud_review", actor=order_services.Actor.system("fraud")
    )
    rule_set = RuleSet.objects.create(name="hold them", when_unroutable="hold")
    RuleSetWarehouse.objects.create(rule_set=rule_set, warehouse=ath)
    routing.rule_set_publish(rule_set_id=rule_set.pk, user=None)
    held = post(api, "H-1")
    assert Order.objects.get(pk=held).hold_reason == "unroutable"
    user = User.objects.create_user("olga", password="pw-olga-123")
    user.groups.add(Group.objects.get_or_create(name=OPS_GROUP)[0])
    client.force_login(user)
    page = client.get("/dashboard/routing/exceptions/").content.decode()
    assert Order.objects.get(pk=held).number in page
    assert Order.objects.get(pk=other).number not in page  # held for fraud: not a routing exception

    stock.stock_receive(warehouse=ath, product=Product.objects.get(sku="CAP-NAVY"), quantity=5, actor="t")
    response = client.post(f"/dashboard/routing/orders/{held}/reroute/", follow=True)
    assert "allocated" in response.content.decode().lower()
    order = Order.objects.get(pk=held)
    assert order.status == "allocated"
    assert order.events.filter(kind="status_changed", to_status="received", actor_label="olga").exists()
    refused = client.post(f"/dashboard/routing/orders/{other}/reroute/", follow=True).content.decode()
    assert "held for another reason" in refused
    assert Order.objects.get(pk=other).status == "on_hold"


@pytest.mark.django_db(transaction=True)
def test_dry_run_of_a_draft_compares_and_changes_nothing(api, network, auto_routing, client):
    from inventory.models import StockMovement

    for n in range(4):
        post(api, f"D-{n}", quantity=2)  # routed with no rule set: all from Thessaloniki (closest with stock)
    draft = RuleSet.objects.create(name="berlin only", weight_split=0)
    RuleSetWarehouse.objects.create(rule_set=draft, warehouse=network["BER"], rank=1)
    before = (
        RoutingDecision.objects.count(),
        Allocation.objects.count(),
        StockMovement.objects.count(),
        list(Order.objects.order_by("pk").values_list("status", "updated_at")),
    )
    report = routing.rule_set_dry_run(rule_set_id=draft.pk, days=7)
    assert report.proposed.orders == report.published.orders == 4
    assert len(report.changed) == 4
    assert report.changed[0]["before"] == ["SKG"] and report.changed[0]["after"] == ["BER"]
    assert report.proposed.average_distance_km > report.published.average_distance_km
    client.force_login(User.objects.create_superuser("root", password="pw-root-123"))
    response = client.post("/admin/routing/ruleset/", {"action": "dry_run", "_selected_action": [draft.pk]})
    assert response.status_code == 200
    assert "4 order(s) would ship from other warehouses" in response.content.decode()
    after = (
        RoutingDecision.objects.count(),
        Allocation.objects.count(),
        StockMovement.objects.count(),
        list(Order.objects.order_by("pk").values_list("status", "updated_at")),
    )
    assert after == before


@pytest.mark.django_db(transaction=True)
def test_alerts_for_stock_capacity_and_promise(api, network, auto_routing):
    from datetime import timedelta

    from django.utils import timezone

    from oms.models import DomainEvent

    Warehouse.objects.filter(code="SKG").update(capacity_per_day=0)
    soon = timezone.now() + timedelta(hours=2)
    order_id = post(
        api, "A-1", quantity=3, requested_delivery_window={"start": None, "end": soon.isoformat()}
    )
    decision = RoutingDecision.objects.get(order_id=order_id)
    codes = [a["code"] for a in decision.alerts]
    assert codes == ["capacity_exhausted", "sla_at_risk"]
    assert "SKG" in decision.alerts[0]["message"]
    assert [p["warehouse"] for p in decision.plan] == ["BER"]  # Athens has 1 unit: one parcel from Berlin
    events = set(DomainEvent.objects.filter(aggregate_id=str(order_id)).values_list("name", flat=True))
    assert {"routing.capacity_exhausted", "routing.sla_at_risk"} <= events
    nothing = post(api, "A-2", quantity=500)
    assert [a["code"] for a in RoutingDecision.objects.get(order_id=nothing).alerts] == [
        "insufficient_stock",
        "capacity_exhausted",
    ]


@pytest.mark.django_db(transaction=True)
def test_daily_capacity_counts_orders_not_lines(api, network, auto_routing):
    from inventory.models import WarehouseDayLoad

    Warehouse.objects.filter(code="SKG").update(capacity_per_day=2)
    first, second, third = (post(api, f"C-{n}", quantity=2) for n in range(3))
    plans = [
        [p["warehouse"] for p in RoutingDecision.objects.get(order_id=o).plan] for o in (first, second, third)
    ]
    assert plans[:2] == [["SKG"], ["SKG"]]
    assert "SKG" not in plans[2]
    assert WarehouseDayLoad.objects.get(warehouse__code="SKG").orders == 2
    alerts = RoutingDecision.objects.get(order_id=third).alerts
    assert alerts[0]["code"] == "capacity_exhausted"


@pytest.mark.django_db
def test_cutoff_is_read_in_the_warehouse_time_zone(api, network):
    from datetime import time

    Warehouse.objects.filter(code="SKG").update(cutoff_time=time(15, 0), time_zone="Europe/Athens")
    rule_set = RuleSet.objects.create(name="cut-off", respect_cutoff=True)
    for house in network.values():
        RuleSetWarehouse.objects.create(rule_set=rule_set, warehouse=house)
    routing.rule_set_publish(rule_set_id=rule_set.pk, user=None)
    # 12:30 UTC is 14:30 in Athens: Thessaloniki still ships today
    before = routing.route_order(order_id=post(api, "T-1"), now=at(hours=3, minutes=30))
    assert [p["warehouse"] for p in before.plan] == ["SKG"]
    # 13:30 UTC is 15:30 in Athens: past the cut-off, so Berlin (one parcel) wins over a split
    after = routing.route_order(order_id=post(api, "T-2"), now=at(hours=4, minutes=30))
    reasons = {c["warehouse"]: c["reason"] for c in after.trace}
    assert reasons["SKG"] == "past today's cut-off"
    assert "SKG" not in [p["warehouse"] for p in after.plan]


@pytest.mark.django_db(transaction=True)
def test_arriving_stock_is_routed_to_backorders_under_the_rules(api, products, auto_routing):
    cap = Product.objects.get(sku="CAP-NAVY")
    ath = warehouse("ATH", "37.98", "23.72")
    store = warehouse("ATH-ST", "37.97", "23.73", kind="store")
    rule_set = RuleSet.objects.create(name="no stores", exclude_stores=True)
    for house in (ath, store):
        RuleSetWarehouse.objects.create(rule_set=rule_set, warehouse=house)
    routing.rule_set_publish(rule_set_id=rule_set.pk, user=None)
    older = post(api, "B-1", quantity=2)
    newer = post(api, "B-2", quantity=2)
    assert Order.objects.get(pk=older).status == "backordered"
    stock.stock_receive(warehouse=store, product=cap, quantity=10, actor="t")  # stores may not ship
    assert Order.objects.get(pk=older).status == "backordered"
    stock.stock_receive(warehouse=ath, product=cap, quantity=3, actor="t")
    assert Order.objects.get(pk=older).status == "allocated"
    assert Order.objects.get(pk=newer).status == "partially_allocated"
    assert Allocation.objects.filter(position__warehouse=store).count() == 0


@pytest.mark.django_db
def test_pickup_in_store_from_its_own_stock_or_by_a_parcel_from_the_best_warehouse(api, network):

    cap = Product.objects.get(sku="CAP-NAVY")
    store = warehouse("ATH-ST", "37.97", "23.73", kind="store")
    stock.stock_receive(warehouse=store, product=cap, quantity=2, actor="t")
    now = at()
    mine = post(api, "P-1", quantity=2, service_level="pickup", pickup_store="ath-st")
    decision = routing.route_order(order_id=mine, now=now)
    assert [p["warehouse"] for p in decision.plan] == ["ATH-ST"]
    assert decision.promised_date == now  # on the shelf already
    supplied = post(api, "P-2", quantity=3, service_level="pickup", pickup_store="ATH-ST")
    decision = routing.route_order(order_id=supplied, now=now)
    assert decision.outcome == "allocated"
    assert [p["warehouse"] for p in decision.plan] == ["SKG"]  # ATH has 1, SKG 10: one parcel to the store
    # ~300 km: a day and a bit on the road, plus a day to shelve it
    assert 2 < (decision.promised_date - now).total_seconds() / 86400 < 3
    assert any(c.get("transfer_to_store") for c in decision.trace)


@pytest.mark.django_db
def test_pickup_needs_a_known_store(api, network):
    missing = api.post("/api/v1/orders/", order_payload("P-0", service_level="pickup"), format="json")
    assert missing.status_code == 400
    assert "pickup_store" in missing.json()["error"]["details"]
    wrong = api.post("/api/v1/orders/", order_payload("P-00", pickup_store="ATH-ST"), format="json")
    assert "pickup_store" in wrong.json()["error"]["details"]
    ghost = post(api, "P-9", service_level="pickup", pickup_store="NOWHERE")
    decision = routing.route_order(order_id=ghost)
    order = Order.objects.get(pk=ghost)
    assert (order.status, order.hold_reason, decision.outcome) == ("on_hold", "unroutable", "held")
    assert decision.alerts[0]["code"] == "unknown_store"


@pytest.mark.django_db(transaction=True)
def test_stock_adjusted_down_sends_the_lost_promise_to_the_next_warehouse(api, network, auto_routing):
    cap = Product.objects.get(sku="CAP-NAVY")
    order_id = post(api, "R-1", quantity=3)
    assert [a.position.warehouse.code for a in Allocation.objects.filter(status="active")] == ["SKG"]
    # SKG's count finds 2 of its 10 caps, and 3 of them were promised to this order
    stock.stock_adjust(warehouse=network["SKG"], product=cap, delta=-8, reason="cycle count", actor="counter")
    active = {
        a.position.warehouse.code: a.quantity
        for a in Allocation.objects.filter(order_line__order_id=order_id, status="active")
    }
    # one unit withdrawn at SKG and routed again: Athens, next to the customer, has exactly one
    assert active == {"SKG": 2, "ATH": 1}
    order = Order.objects.get(pk=order_id)
    assert order.status == "allocated"
    assert RoutingDecision.objects.filter(order=order).count() == 2


@pytest.mark.django_db
def test_rule_set_history_shows_who_changed_what(network, client):
    from routing.models import RuleSetChange

    admin_user = User.objects.create_superuser("root", password="pw-root-123")
    client.force_login(admin_user)

    def form(**fields):
        data = {
            "name": "web",
            "channel": "",
            "service_level": "",
            "max_shipments": "2",
            "minimize_shipments": "on",
            "when_unroutable": "backorder",
            "respect_cutoff": "on",
            "respect_capacity": "on",
            "weight_distance": "1.0",
            "weight_cost": "0.0",
            "weight_split": "5.0",
            "weight_rank": "0.0",
            "weight_balance": "0.0",
            "notes": "",
            "changes-TOTAL_FORMS": "0",
            "changes-INITIAL_FORMS": "0",
            "changes-MIN_NUM_FORMS": "0",
            "changes-MAX_NUM_FORMS": "1000",
        }
        data.update(fields)
        return data

    created = client.post(
        "/admin/routing/ruleset/add/",
        form(
            **{
                "warehouses-TOTAL_FORMS": "1",
                "warehouses-INITIAL_FORMS": "0",
                "warehouses-MIN_NUM_FORMS": "0",
                "warehouses-MAX_NUM_FORMS": "1000",
                "warehouses-0-warehouse": str(network["ATH"].pk),
                "warehouses-0-rank": "1",
            }
        ),
    )
    assert created.status_code == 302, created.content.decode()[:2000]
    rule_set = RuleSet.objects.get(name="web")
    item = rule_set.warehouses.get()
    edited = client.post(
        f"/admin/routing/ruleset/{rule_set.pk}/change/",
        form(
            weight_distance="2.5",
            **{
                "warehouses-TOTAL_FORMS": "2",
                "warehouses-INITIAL_FORMS": "1",
                "warehouses-MIN_NUM_FORMS": "0",
                "warehouses-MAX_NUM_FORMS": "1000",
                "warehouses-0-id": str(item.pk),
                "warehouses-0-rule_set": str(rule_set.pk),
                "warehouses-0-warehouse": str(network["ATH"].pk),
                "warehouses-0-rank": "1",
                "warehouses-1-warehouse": str(network["SKG"].pk),
                "warehouses-1-rank": "2",
            },
        ),
    )
    assert edited.status_code == 302, edited.content.decode()[:2000]
    routing.rule_set_publish(rule_set_id=rule_set.pk, user=admin_user)
    history = list(
        RuleSetChange.objects.filter(rule_set=rule_set).values_list("what", "changed_by__username", "changes")
    )
    assert history[0][:2] == ("created", "root")
    assert history[1] == (
        "edited",
        "root",
        {"weight_distance": [1.0, 2.5], "warehouses": [["ATH #1"], ["ATH #1", "SKG #2"]]},
    )
    assert history[2][:2] == ("published", "root")
    page = client.get(f"/admin/routing/ruleset/{rule_set.pk}/change/").content.decode()
    assert "weight_distance" in page and "SKG #2" in page


@pytest.mark.django_db
def test_an_order_left_unrouted_shows_in_the_exceptions_queue_once_overdue_with_a_retry(
    api, network, ops_client, clock, settings
):
    from datetime import timedelta

    from django.utils import timezone

    settings.ROUTING_OVERDUE_MINUTES = 5
    stuck = post(api, "S-1")  # routing is off in the tests: as if its task had been lost
    number = Order.objects.get(pk=stuck).number
    assert number not in ops_client.get("/dashboard/routing/exceptions/").content.decode()
    clock.move_to(timezone.now() + timedelta(minutes=4))
    assert number not in ops_client.get("/dashboard/routing/exceptions/").content.decode()
    clock.move_to(timezone.now() + timedelta(minutes=2))
    page = ops_client.get("/dashboard/routing/exceptions/").content.decode()
    assert number in page
    assert "waiting for routing since" in page
    assert f"/dashboard/routing/orders/{stuck}/reroute/" in page

    response = ops_client.post(f"/dashboard/routing/orders/{stuck}/reroute/", follow=True)
    assert response.status_code == 200
    assert Order.objects.get(pk=stuck).status == "allocated"
    assert RoutingDecision.objects.filter(order_id=stuck).count() == 1
    assert number not in ops_client.get("/dashboard/routing/exceptions/").content.decode()


@pytest.mark.django_db
def test_the_exceptions_queue_names_what_an_order_waits_for_and_links_it(api, network, ops_client):
    waiting = post(api, "W-1", quantity=100)  # 61 caps in the whole network
    routing.route_order(order_id=waiting)
    page = ops_client.get("/dashboard/routing/exceptions/").content.decode()
    assert "waiting for 39 \N{MULTIPLICATION SIGN} " in page
    assert 'href="/dashboard/inventory/CAP-NAVY/">CAP-NAVY</a>' in page
    assert "(line 1)" in page
