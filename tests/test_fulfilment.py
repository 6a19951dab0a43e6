"""From allocation to hand-over: waves, pick lists in bin order, short picks sent back to routing,
packing, partial shipments, sandbox labels, and hand-over rolling the order up."""

import io
from decimal import Decimal

import pypdfium2
import pytest
import zxingcpp

from inventory import services as stock
from inventory.models import Allocation, BinLocation, StockMovement, StockPosition
from oms.errors import IllegalTransition, ValidationFailed
from oms.models import DomainEvent
from orders.models import Order, OrderStatus, Product
from orders.services import Actor
from routing import services as routing
from routing.models import RoutingDecision
from shipments import services as fulfilment
from shipments.models import (
    Carrier,
    CarrierCall,
    CarrierService,
    Label,
    PickListLine,
    PickListStatus,
    Shipment,
    ShipmentStatus,
)
from tests.factories import make_warehouse, order_payload

pytestmark = pytest.mark.django_db

OPS = Actor.system("test picker")


@pytest.fixture
def network(products):
    """Athens (near the customer) has everything in bins; Thessaloniki has caps as a fallback."""
    athens = make_warehouse("ATH", "37.98", "23.72", name="Athens DC")
    thessaloniki = make_warehouse("SKG", "40.64", "22.94", name="Thessaloniki DC")
    bins = {
        code: BinLocation.objects.create(warehouse=athens, code=code) for code in ("C-09", "A-01", "B-05")
    }
    placement = {"TSHIRT-BLK-M": "C-09", "HOODIE-GRY-L": "A-01", "CAP-NAVY": "B-05"}
    for sku, bin_code in placement.items():
        product = Product.objects.get(sku=sku)
        stock.stock_receive(warehouse=athens, product=product, quantity=10, actor="t")
        StockPosition.objects.filter(warehouse=athens, product=product).update(default_bin=bins[bin_code])
    stock.stock_receive(
        warehouse=thessaloniki, product=Product.objects.get(sku="CAP-NAVY"), quantity=10, actor="t"
    )
    sandbox = Carrier.objects.create(code="sandbox", name="Sandbox Post", adapter="sandbox")
    for level, code in (("standard", "standard"), ("express", "express")):
        CarrierService.objects.create(carrier=sandbox, code=code, name=code.title(), service_level=level)
    return {"ATH": athens, "SKG": thessaloniki}


def routed_order(api, external_id: str) -> Order:
    response = api.post("/api/v1/orders/", order_payload(external_id), format="json")
    assert response.status_code == 201, response.json()
    routing.route_order(order_id=response.json()["id"])
    return Order.objects.get(pk=response.json()["id"])


def test_a_wave_lists_allocated_units_in_bin_order_and_starts_fulfilment(api, network):
    first = routed_order(api, "F-1")
    second = routed_order(api, "F-2")
    assert first.status == second.status == OrderStatus.ALLOCATED

    pick_list = fulfilment.wave_release(warehouse_id=network["ATH"].pk, actor=OPS)
    lines = list(pick_list.lines.all())
    # the walk: A-01, B-05, C-09, each bin once per order line
    assert [line.bin_code for line in lines] == ["A-01", "A-01", "B-05", "B-05", "C-09", "C-09"]
    assert {(line.sku, line.quantity) for line in lines} == {
        ("HOODIE-GRY-L", 1),
        ("CAP-NAVY", 3),
        ("TSHIRT-BLK-M", 2),
    }
    for order in (first, second):
        order.refresh_from_db()
        assert order.status == OrderStatus.IN_FULFILLMENT
    # listed units are not listed again; a wave with nothing new is no wave
    assert fulfilment.wave_release(warehouse_id=network["ATH"].pk, actor=OPS) is None


def test_a_wave_takes_the_oldest_orders_up_to_its_size(api, network):
    first = routed_order(api, "F-1")
    routed_order(api, "F-2")
    pick_list = fulfilment.wave_release(warehouse_id=network["ATH"].pk, actor=OPS, max_orders=1)
    assert {line.order_line.order_id for line in pick_list.lines.all()} == {first.pk}


def pick_everything(pick_list, **short_by_sku):
    return {line.pk: line.quantity - short_by_sku.get(line.sku, 0) for line in pick_list.lines.all()}


def test_short_pick_fixes_the_shelf_and_reroutes_the_shortfall_to_the_next_warehouse(api, network):
    order = routed_order(api, "F-1")
    pick_list = fulfilment.wave_release(warehouse_id=network["ATH"].pk, actor=OPS)
    fulfilment.pick_list_confirm(
        pick_list_id=pick_list.pk, picked=pick_everything(pick_list, **{"CAP-NAVY": 2}), actor=OPS
    )

    pick_list.refresh_from_db()
    assert pick_list.status == PickListStatus.DONE
    cap_line = order.lines.get(sku="CAP-NAVY")
    athens_caps = StockPosition.objects.get(warehouse=network["ATH"], product__sku="CAP-NAVY")
    # 10 received, 2 were not there: the shelf says 8, and 1 unit stays allocated for this order
    assert (athens_caps.on_hand, athens_caps.allocated) == (8, 1)
    reasons = set(
        StockMovement.objects.filter(position=athens_caps, reason__startswith="short pick").values_list(
            "kind", flat=True
        )
    )
    assert reasons == {"adjustment", "release"}
    # the two missing caps were routed again, to Thessaloniki
    active = Allocation.objects.filter(order_line=cap_line, status="active")
    assert sorted((a.position.warehouse.code, a.quantity) for a in active) == [("ATH", 1), ("SKG", 2)]
    cap_line.refresh_from_db()
    assert (cap_line.qty_allocated, cap_line.qty_picked) == (3, 1)
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_FULFILLMENT
    assert RoutingDecision.objects.filter(order=order).count() == 2
    reroute = RoutingDecision.objects.filter(order=order).latest("pk")
    left_out = [c for c in reroute.trace if c["warehouse"] == "ATH"]
    assert left_out == [
        {
            "warehouse": "ATH",
            "accepted": False,
            "reason": "left out this time: it could not ship these units",
            "distance_km": None,
            "transit_days": None,
            "cost": None,
            "chosen": False,
        }
    ]
    assert DomainEvent.objects.filter(name="pick_list.short", aggregate_id=str(order.pk)).exists()
    # Thessaloniki's wave now has the two caps
    next_wave = fulfilment.wave_release(warehouse_id=network["SKG"].pk, actor=OPS)
    assert [(line.sku, line.quantity) for line in next_wave.lines.all()] == [("CAP-NAVY", 2)]


def test_pick_confirmation_must_account_for_every_line(api, network):
    routed_order(api, "F-1")
    pick_list = fulfilment.wave_release(warehouse_id=network["ATH"].pk, actor=OPS)
    first = pick_list.lines.first()
    with pytest.raises(ValidationFailed) as error:
        fulfilment.pick_list_confirm(
            pick_list_id=pick_list.pk, picked={first.pk: first.quantity + 1}, actor=OPS
        )
    assert f"lines.{first.pk}" in error.value.details
    assert len(error.value.details) == 3  # too many on one, two not counted
    pick_list.refresh_from_db()
    assert pick_list.status == PickListStatus.OPEN
    assert not PickListLine.objects.filter(qty_picked__isnull=False).exists()
    fulfilment.pick_list_confirm(pick_list_id=pick_list.pk, picked=pick_everything(pick_list), actor=OPS)
    with pytest.raises(IllegalTransition):
        fulfilment.pick_list_confirm(pick_list_id=pick_list.pk, picked=pick_everything(pick_list), actor=OPS)


def picked_order(api, network, external_id="F-1") -> Order:
    order = routed_order(api, external_id)
    pick_list = fulfilment.wave_release(warehouse_id=network["ATH"].pk, actor=OPS)
    fulfilment.pick_list_confirm(pick_list_id=pick_list.pk, picked=pick_everything(pick_list), actor=OPS)
    return order


def pack(order, warehouse, contents_by_sku: dict[str, int], weight=800):
    lines = {line.sku: line.pk for line in order.lines.all()}
    return fulfilment.package_create(
        order_id=order.pk,
        warehouse_id=warehouse.pk,
        contents={lines[sku]: units for sku, units in contents_by_sku.items()},
        weight_grams=weight,
        length_mm=300,
        width_mm=200,
        height_mm=100,
        actor=OPS,
    )


def test_packing_takes_only_picked_units(api, network):
    order = picked_order(api, network)
    with pytest.raises(ValidationFailed) as error:
        pack(order, network["ATH"], {"CAP-NAVY": 4})
    cap_line = order.lines.get(sku="CAP-NAVY")
    assert error.value.details == {
        f"contents.{cap_line.pk}": ["3 picked unit(s) of this line wait to be packed."]
    }
    pack(order, network["ATH"], {"CAP-NAVY": 2})
    assert fulfilment.packable_units(order_id=order.pk, warehouse_id=network["ATH"].pk)[cap_line.pk] == 1


def decode_barcodes(pdf: bytes) -> list[str]:
    document = pypdfium2.PdfDocument(io.BytesIO(pdf))
    try:
        page = document[0]
        assert page.get_size() == (288.0, 432.0)  # 4 x 6 inches
        image = page.render(scale=300 / 72).to_pil()
        page.close()
    finally:
        document.close()
    return [
        result.text
        for result in zxingcpp.read_barcodes(image)
        if result.format == zxingcpp.BarcodeFormat.Code128
    ]


def test_partial_shipments_roll_the_order_up_and_labels_carry_the_tracking_barcode(api, network):
    order = picked_order(api, network)
    first_box = pack(order, network["ATH"], {"CAP-NAVY": 3})
    shipment = fulfilment.shipment_create(package_ids=[first_box.pk], actor=OPS)
    assert (shipment.service.code, shipment.status) == ("express", ShipmentStatus.DRAFT)

    shipment = fulfilment.shipment_buy_labels(shipment_id=shipment.pk, actor=OPS)
    first_box.refresh_from_db()
    assert shipment.status == ShipmentStatus.LABEL_PURCHASED
    assert (
        first_box.tracking_number.startswith("SBX") and shipment.tracking_number == first_box.tracking_number
    )
    assert shipment.cost is not None and shipment.currency == "EUR" and shipment.estimated_delivery
    pdf = Label.objects.get(package=first_box, format="pdf")
    assert pdf.source == "generated"
    assert decode_barcodes(bytes(pdf.content)) == [first_box.tracking_number]
    zpl = bytes(Label.objects.get(package=first_box, format="zpl").content).decode()
    assert zpl.startswith("^XA") and f"^BCN,220,Y,N,N^FD{first_box.tracking_number}^FS" in zpl

    fulfilment.shipment_hand_over(shipment_id=shipment.pk, actor=OPS)
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_SHIPPED
    cap_line = order.lines.get(sku="CAP-NAVY")
    assert cap_line.qty_shipped == 3
    athens_caps = StockPosition.objects.get(warehouse=network["ATH"], product__sku="CAP-NAVY")
    assert (athens_caps.on_hand, athens_caps.allocated) == (7, 0)
    event = DomainEvent.objects.get(name="shipment.shipped")
    assert event.payload["tracking_numbers"] == [first_box.tracking_number]

    second_box = pack(order, network["ATH"], {"TSHIRT-BLK-M": 2, "HOODIE-GRY-L": 1}, weight=1400)
    rest = fulfilment.shipment_create(package_ids=[second_box.pk], actor=OPS)
    fulfilment.shipment_buy_labels(shipment_id=rest.pk, actor=OPS)
    fulfilment.shipment_hand_over(shipment_id=rest.pk, actor=OPS)
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    assert all(line.qty_shipped == line.quantity for line in order.lines.all())
    assert [e.to_status for e in Shipment.objects.get(pk=rest.pk).events.all()] == [
        "draft",
        "label_pending",
        "label_purchased",
        "shipped",
    ]


def test_a_package_ships_once_and_a_shipped_shipment_cannot_be_cancelled(api, network):
    order = picked_order(api, network)
    box = pack(order, network["ATH"], {"CAP-NAVY": 3})
    shipment = fulfilment.shipment_create(package_ids=[box.pk], actor=OPS)
    with pytest.raises(Exception, match="already in a shipment"):
        fulfilment.shipment_create(package_ids=[box.pk], actor=OPS)
    fulfilment.shipment_buy_labels(shipment_id=shipment.pk, actor=OPS)
    fulfilment.shipment_hand_over(shipment_id=shipment.pk, actor=OPS)
    with pytest.raises(IllegalTransition):
        fulfilment.shipment_cancel(shipment_id=shipment.pk, actor=OPS)
    with pytest.raises(IllegalTransition):
        fulfilment.shipment_hand_over(shipment_id=shipment.pk, actor=OPS)


def test_cancelling_a_labelled_shipment_frees_its_packages(api, network):
    order = picked_order(api, network)
    box = pack(order, network["ATH"], {"CAP-NAVY": 3})
    shipment = fulfilment.shipment_create(package_ids=[box.pk], actor=OPS)
    fulfilment.shipment_buy_labels(shipment_id=shipment.pk, actor=OPS)
    fulfilment.shipment_cancel(shipment_id=shipment.pk, actor=OPS, reason="wrong service")
    box.refresh_from_db()
    assert (box.shipment_id, box.tracking_number) == (None, "")
    assert CarrierCall.objects.filter(shipment=shipment, operation="void", outcome="ok").count() == 1
    again = fulfilment.shipment_create(package_ids=[box.pk], actor=OPS)
    assert again.status == ShipmentStatus.DRAFT


def test_the_sandbox_refuses_what_it_cannot_carry_and_nothing_is_half_written(api, network):
    order = picked_order(api, network)
    box = pack(order, network["ATH"], {"CAP-NAVY": 3}, weight=45_000)
    shipment = fulfilment.shipment_create(package_ids=[box.pk], actor=OPS)
    with pytest.raises(Exception) as error:
        fulfilment.shipment_buy_labels(shipment_id=shipment.pk, actor=OPS)
    assert error.value.code == "partner_refused"
    shipment.refresh_from_db()
    box.refresh_from_db()
    assert shipment.status == ShipmentStatus.DRAFT
    assert "30 kg" in shipment.label_error
    assert box.tracking_number == "" and not Label.objects.filter(package=box).exists()
    assert CarrierCall.objects.get(shipment=shipment).outcome == "refused"


@pytest.mark.django_db(transaction=True)
def test_cancelling_an_order_in_fulfilment_withdraws_its_picks_and_voids_its_labels(api, network):
    # one order already picked, packed and labelled; another only on the pick list
    labelled = picked_order(api, network, "F-1")
    box = pack(labelled, network["ATH"], {"CAP-NAVY": 3})
    shipment = fulfilment.shipment_create(package_ids=[box.pk], actor=OPS)
    fulfilment.shipment_buy_labels(shipment_id=shipment.pk, actor=OPS)
    waiting = routed_order(api, "F-2")
    keeping = routed_order(api, "F-3")
    pick_list = fulfilment.wave_release(warehouse_id=network["ATH"].pk, actor=OPS)

    for order in (labelled, waiting):
        response = api.post(f"/api/v1/orders/{order.pk}/cancel/", {"reason": "changed mind"}, format="json")
        assert response.status_code == 200, response.json()

    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.CANCELLED
    assert CarrierCall.objects.filter(shipment=shipment, operation="void", outcome="ok").exists()
    assert not pick_list.lines.filter(order_line__order=waiting, status="open").exists()
    # the list still holds the other order's lines; confirming them works and asks nothing about the rest
    fulfilment.pick_list_confirm(
        pick_list_id=pick_list.pk,
        picked={line.pk: line.quantity for line in pick_list.lines.filter(status="open")},
        actor=OPS,
    )
    assert all(line.qty_picked == line.quantity for line in keeping.lines.all())
    athens = StockPosition.objects.filter(warehouse=network["ATH"])
    assert sum(p.allocated for p in athens) == sum(line.quantity for line in keeping.lines.all())


def test_routing_can_weigh_carrier_quotes_which_are_cached_per_lane(api, products):
    from django.core.cache import cache

    from routing.models import RuleSet, RuleSetWarehouse

    athens = make_warehouse("ATH", "37.98", "23.72")
    skopje = make_warehouse("SKP", "42.00", "21.43", country="MK")  # nearer to Thessaloniki, abroad
    cap = Product.objects.get(sku="CAP-NAVY")
    for warehouse in (athens, skopje):
        stock.stock_receive(warehouse=warehouse, product=cap, quantity=20, actor="t")
    sandbox = Carrier.objects.create(code="sandbox", name="Sandbox Post", adapter="sandbox")
    CarrierService.objects.create(carrier=sandbox, code="express", name="Express", service_level="express")

    def order_to_thessaloniki(external_id):
        body = order_payload(external_id, lines=[{"sku": "CAP-NAVY", "quantity": 1, "unit_price": "15.00"}])
        body["shipping_address"].update(
            {"city": "Thessaloniki", "postal_code": "546 21", "latitude": 40.64, "longitude": 22.94}
        )
        response = api.post("/api/v1/orders/", body, format="json")
        assert response.status_code == 201, response.json()
        return response.json()["id"]

    def publish(weight_cost):
        RuleSet.objects.filter(status="published").update(status="retired")
        rule_set = RuleSet.objects.create(name=f"cost {weight_cost}", weight_cost=weight_cost)
        for warehouse in (athens, skopje):
            RuleSetWarehouse.objects.create(rule_set=rule_set, warehouse=warehouse)
        routing.rule_set_publish(rule_set_id=rule_set.pk, user=None)

    def chosen(decision):
        return [pick["warehouse"] for pick in decision.plan]

    publish(weight_cost=0)
    assert chosen(routing.route_order(order_id=order_to_thessaloniki("Q-1"))) == ["SKP"]  # distance only

    publish(weight_cost=1)
    decision = routing.route_order(order_id=order_to_thessaloniki("Q-2"))
    assert chosen(decision) == ["ATH"]  # the domestic parcel is far cheaper
    costs = {c["warehouse"]: c["cost"] for c in decision.trace}
    assert costs["SKP"] > costs["ATH"]
    lane = f"quote2:{CarrierService.objects.get().pk}:{skopje.pk}:GR:54621:500"
    assert tuple(cache.get(lane)) == (28.0, "EUR")  # 2.5 x 11.20
    quotes = {c["warehouse"]: (c["quote"], c["quote_currency"]) for c in decision.trace}
    assert quotes["SKP"] == (28.0, "EUR")  # the trace shows the money with its currency

    # the next order to the same lane is priced from the cache, not by asking the carrier again:
    # a cached price (here a promotion on the Skopje lane) decides it
    cache.set(lane, (2.0, "EUR"))
    assert chosen(routing.route_order(order_id=order_to_thessaloniki("Q-3"))) == ["SKP"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_waves_never_list_an_allocation_twice(api, network):
    import threading

    from django.db import connections

    orders = [routed_order(api, f"W-{n}") for n in range(8)]
    errors: list[BaseException] = []
    released = []
    barrier = threading.Barrier(6)

    def release() -> None:
        try:
            barrier.wait()
            released.append(fulfilment.wave_release(warehouse_id=network["ATH"].pk, actor=OPS, max_orders=2))
        except BaseException as exc:  # a lock error or a broken constraint must fail the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=release) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    lists = [p for p in released if p is not None]
    athens_allocations = Allocation.objects.filter(
        status="active", position__warehouse=network["ATH"], order_line__order__in=orders
    )
    listed = list(PickListLine.objects.values_list("allocation_id", flat=True))
    assert len(listed) == len(set(listed))  # no allocation on two lists
    assert set(listed) == set(athens_allocations.values_list("pk", flat=True))  # and none forgotten
    assert all(len({line.order_line.order_id for line in p.lines.all()}) <= 2 for p in lists)


def test_waves_follow_each_warehouse_schedule(api, network):
    from datetime import timedelta

    from django.utils import timezone

    from shipments.models import PickList, WaveSchedule

    routed_order(api, "S-1")
    schedule = WaveSchedule.objects.create(warehouse=network["ATH"], every_minutes=30, max_orders=10)
    now = timezone.now()
    first = fulfilment.waves_release_due(now=now)
    assert [p.warehouse.code for p in first] == ["ATH"]
    routed_order(api, "S-2")
    assert fulfilment.waves_release_due(now=now + timedelta(minutes=10)) == []  # not due yet
    later = fulfilment.waves_release_due(now=now + timedelta(minutes=31))
    assert len(later) == 1 and PickList.objects.count() == 2
    schedule.refresh_from_db()
    assert schedule.last_released_at == now + timedelta(minutes=31)


def test_one_shipment_of_two_packages_gets_a_label_each(api, network):
    order = picked_order(api, network)
    caps = pack(order, network["ATH"], {"CAP-NAVY": 3}, weight=600)
    clothes = pack(order, network["ATH"], {"TSHIRT-BLK-M": 2, "HOODIE-GRY-L": 1}, weight=1500)
    shipment = fulfilment.shipment_create(package_ids=[caps.pk, clothes.pk], actor=OPS)
    shipment = fulfilment.shipment_buy_labels(shipment_id=shipment.pk, actor=OPS)
    caps.refresh_from_db()
    clothes.refresh_from_db()
    assert caps.tracking_number != clothes.tracking_number
    assert shipment.tracking_number == caps.tracking_number
    # each parcel priced: 1 kg and 2 kg express in the sandbox, domestic
    assert shipment.cost == Decimal("11.20") + Decimal("12.60")
    for index, package in enumerate((caps, clothes), start=1):
        pdf = bytes(Label.objects.get(package=package, format="pdf").content)
        assert decode_barcodes(pdf) == [package.tracking_number]
        zpl = bytes(Label.objects.get(package=package, format="zpl").content).decode()
        assert f"Package {index} of 2" in zpl
    fulfilment.shipment_hand_over(shipment_id=shipment.pk, actor=OPS)
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED


def test_pick_lines_follow_promises_withdrawn_after_the_release(api, network):
    first = routed_order(api, "P-1")
    second = routed_order(api, "P-2")
    pick_list = fulfilment.wave_release(warehouse_id=network["ATH"].pk, actor=OPS)
    # Athens had 10 caps, 6 of them promised (3 + 3); a count finds only 3 after the list was printed:
    # the newer order's promise is withdrawn, and its line on the list with it.
    cap = Product.objects.get(sku="CAP-NAVY")
    stock.stock_adjust(warehouse=network["ATH"], product=cap, delta=-7, reason="count", actor="counter")
    picked = {line.pk: line.quantity for line in pick_list.lines.all()}
    fulfilment.pick_list_confirm(pick_list_id=pick_list.pk, picked=picked, actor=OPS)
    withdrawn = pick_list.lines.get(order_line__order=second, sku="CAP-NAVY")
    assert withdrawn.status == "cancelled" and withdrawn.qty_picked is None
    assert first.lines.get(sku="CAP-NAVY").qty_picked == 3
    assert second.lines.get(sku="CAP-NAVY").qty_picked == 0


def test_a_warehouse_that_cannot_ship_hands_the_order_to_the_next_one(api, network, ops_client):
    order = routed_order(api, "R-1")
    pick_list = fulfilment.wave_release(warehouse_id=network["ATH"].pk, actor=OPS)
    response = ops_client.post(
        f"/dashboard/fulfilment/orders/{order.pk}/reject/",
        {"warehouse_id": network["ATH"].pk, "reason": "water in the aisle"},
        follow=True,
    )
    assert "routed again" in response.content.decode()
    # Thessaloniki holds only caps: they move there; the clothes wait for stock
    active = {
        (a.order_line.sku, a.position.warehouse.code): a.quantity
        for a in Allocation.objects.filter(order_line__order=order, status="active")
    }
    assert active == {("CAP-NAVY", "SKG"): 3}
    assert not pick_list.lines.filter(status="open").exists()
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_FULFILLMENT
    assert order.events.filter(note__contains="ATH cannot ship 6 unit(s): water in the aisle").exists()
    athens = StockPosition.objects.filter(warehouse=network["ATH"])
    assert sum(p.allocated for p in athens) == 0 and sum(p.on_hand for p in athens) == 30  # nothing lost
    # what no warehouse could take over shows in the routing exceptions queue
    queue = ops_client.get("/dashboard/routing/exceptions/").content.decode()
    assert order.number in queue
    refused = ops_client.post(
        f"/dashboard/fulfilment/orders/{order.pk}/reject/",
        {"warehouse_id": network["ATH"].pk, "reason": "again"},
        follow=True,
    )
    assert "ATH holds nothing for" in refused.content.decode()


def test_rejecting_an_allocated_order_before_any_wave(api, network):
    order = routed_order(api, "R-2")
    fulfilment.warehouse_reject_order(
        order_id=order.pk, warehouse_id=network["ATH"].pk, actor=OPS, reason="dock closed"
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_ALLOCATED  # caps from Thessaloniki, the rest waits
    with pytest.raises(ValidationFailed):
        fulfilment.warehouse_reject_order(
            order_id=order.pk, warehouse_id=network["SKG"].pk, actor=OPS, reason=" "
        )


def test_pick_list_pdf_keeps_each_cell_inside_its_column(api, network):
    """A lot code with its expiry printed over the order number (row D-06-1 of a demo pick list)."""
    from datetime import timedelta

    from django.utils import timezone

    from shipments.printouts import COLUMNS_MM, pick_list_pdf

    honey = Product.objects.create(
        sku="HONEY-THYME-450G-GLASS-JAR", name="Thyme honey 450 g", lot_tracked=True
    )
    stock.stock_receive(
        warehouse=network["ATH"],
        product=honey,
        quantity=5,
        actor="t",
        lot_code="L-2026-11-THYME-0042",
        expiry_date=timezone.localdate() + timedelta(days=300),
    )
    body = order_payload("PDF-1", lines=[{"sku": honey.sku, "quantity": 2, "unit_price": "9.00"}])
    order_id = api.post("/api/v1/orders/", body, format="json").json()["id"]
    routing.route_order(order_id=order_id)
    pick_list = fulfilment.wave_release(warehouse_id=network["ATH"].pk, actor=OPS)
    pdf = pick_list_pdf(pick_list, list(pick_list.lines.select_related("order_line__order")))
    document = pypdfium2.PdfDocument(io.BytesIO(pdf))
    try:
        textpage = document[0].get_textpage()
        text = textpage.get_text_range()

        def boxes(fragment: str) -> list[tuple[float, float, float, float]]:
            start = text.index(fragment)
            return [textpage.get_charbox(i) for i in range(start, start + len(fragment))]

        points_per_mm = 72 / 25.4
        edges = [14 * points_per_mm]
        for width in COLUMNS_MM:
            edges.append(edges[-1] + width * points_per_mm)
        lot_left, lot_right = edges[3], edges[4]
        order_left, order_right = edges[4], edges[5]
        for fragment in (
            "L-2026-11-THYME",
            (timezone.localdate() + timedelta(days=300)).strftime("%d %b %Y"),
        ):
            for left, _, right, _ in boxes(fragment):
                assert lot_left <= left and right <= lot_right + 0.5, fragment
        for left, _, right, _ in boxes(Order.objects.get(pk=order_id).number):
            assert order_left <= left and right <= order_right + 0.5
    finally:
        document.close()
