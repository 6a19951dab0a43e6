"""The fulfilment pages: they render for ops with a bounded number of queries, and their forms go
through the fulfilment services."""

import io

import pypdfium2
import pytest

from inventory import services as stock
from orders.models import OrderStatus, Product
from shipments import services as fulfilment
from shipments.models import PickList, Shipment, ShipmentStatus
from tests.test_fulfilment import OPS, network, pack, pick_everything, routed_order  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def busy_day(api, network):  # noqa: F811 (fixture)
    """Orders in every stage at Athens: waiting for a wave, on a list, picked, labelled."""
    for product in Product.objects.all():
        stock.stock_receive(warehouse=network["ATH"], product=product, quantity=100, actor="t")
    orders = [routed_order(api, f"D-{n}") for n in range(6)]
    fulfilment.wave_release(warehouse_id=network["ATH"].pk, actor=OPS, order_ids=[o.pk for o in orders[:4]])
    first = PickList.objects.get()
    fulfilment.pick_list_confirm(pick_list_id=first.pk, picked=pick_everything(first), actor=OPS)
    for order in orders[:2]:
        box = pack(order, network["ATH"], {"CAP-NAVY": 3})
        shipment = fulfilment.shipment_create(package_ids=[box.pk], actor=OPS)
        fulfilment.shipment_buy_labels(shipment_id=shipment.pk, actor=OPS)
    fulfilment.wave_release(warehouse_id=network["ATH"].pk, actor=OPS, order_ids=[orders[4].pk])
    return orders


def test_work_queue_shows_each_stage_within_a_query_budget(
    ops_client, busy_day, django_assert_max_num_queries
):
    with django_assert_max_num_queries(14):
        response = ops_client.get("/dashboard/fulfilment/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "6 unit(s) of 1 order(s) not on a pick list" in page  # the sixth order
    # four picked: two have their caps boxed and the rest waiting, two wait whole
    assert page.count("Pack SO-") == 4
    assert page.count("Label purchased") == 2
    assert PickList.objects.filter(status="open").get().number in page


def test_release_a_wave_from_the_dashboard(ops_client, busy_day, network):  # noqa: F811
    response = ops_client.post(f"/dashboard/fulfilment/warehouses/{network['ATH'].pk}/wave/")
    newest = PickList.objects.order_by("-pk").first()
    assert (
        response.status_code == 302
        and response["Location"] == f"/dashboard/fulfilment/pick-lists/{newest.pk}/"
    )
    assert {line.order_line.order_id for line in newest.lines.all()} == {busy_day[5].pk}
    again = ops_client.post(f"/dashboard/fulfilment/warehouses/{network['ATH'].pk}/wave/", follow=True)
    assert "Nothing waits to be picked there." in again.content.decode()


def test_pick_list_page_prints_and_confirms(ops_client, busy_day):
    pick_list = PickList.objects.filter(status="open").get()
    page = ops_client.get(f"/dashboard/fulfilment/pick-lists/{pick_list.pk}/").content.decode()
    assert page.index("A-01") < page.index("B-05") < page.index("C-09")
    pdf = ops_client.get(f"/dashboard/fulfilment/pick-lists/{pick_list.pk}.pdf")
    assert pdf["Content-Type"] == "application/pdf"
    document = pypdfium2.PdfDocument(io.BytesIO(pdf.content))
    try:
        text = document[0].get_textpage().get_text_range()
    finally:
        document.close()
    assert pick_list.number in text
    assert text.index("A-01") < text.index("B-05") < text.index("C-09")
    form = {f"line-{line.pk}": str(line.quantity) for line in pick_list.lines.all()}
    bad = ops_client.post(
        f"/dashboard/fulfilment/pick-lists/{pick_list.pk}/", form | {next(iter(form)): "x"}, follow=True
    )
    assert "whole number" in bad.content.decode()
    first_line = next(iter(form))
    too_many = ops_client.post(
        f"/dashboard/fulfilment/pick-lists/{pick_list.pk}/", form | {first_line: "99"}, follow=True
    )
    assert "nothing was saved. Between 0 and" in too_many.content.decode()  # the message says what is wrong
    done = ops_client.post(f"/dashboard/fulfilment/pick-lists/{pick_list.pk}/", form, follow=True)
    assert "confirmed." in done.content.decode()
    pick_list.refresh_from_db()
    assert pick_list.status == "done"


def test_pack_screen_packs_and_buys_the_label(ops_client, busy_day, network):  # noqa: F811
    order = busy_day[2]
    url = f"/dashboard/fulfilment/pack/{network['ATH'].pk}/{order.pk}/"
    page = ops_client.get(url).content.decode()
    assert 'id="scan"' in page and "CAP-NAVY" in page
    lines = {line.sku: line.pk for line in order.lines.all()}
    too_many = ops_client.post(
        url,
        {
            f"line-{lines['CAP-NAVY']}": "9",
            "weight_grams": "900",
            "length_mm": "300",
            "width_mm": "200",
            "height_mm": "100",
        },
        follow=True,
    )
    assert "3 picked unit(s) of this line wait to be packed" in too_many.content.decode()
    response = ops_client.post(
        url,
        {
            **{f"line-{pk}": "0" for pk in lines.values()},
            f"line-{lines['CAP-NAVY']}": "3",
            "weight_grams": "900",
            "length_mm": "300",
            "width_mm": "200",
            "height_mm": "100",
            "ship_now": "1",
        },
    )
    shipment = Shipment.objects.filter(order=order).get()
    assert response["Location"] == f"/dashboard/fulfilment/shipments/{shipment.pk}/"
    assert shipment.status == ShipmentStatus.LABEL_PURCHASED


def test_shipment_page_hand_over_and_labels(ops_client, busy_day):
    shipment = Shipment.objects.filter(status=ShipmentStatus.LABEL_PURCHASED).first()
    package = shipment.packages.get()
    page = ops_client.get(f"/dashboard/fulfilment/shipments/{shipment.pk}/").content.decode()
    assert package.tracking_number in page and "Handed to the carrier" in page
    pdf = ops_client.get(f"/dashboard/fulfilment/labels/{package.pk}.pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    zpl = ops_client.get(f"/dashboard/fulfilment/labels/{package.pk}.zpl")
    assert zpl.content.startswith(b"^XA")
    assert ops_client.get(f"/dashboard/fulfilment/labels/{package.pk}.png").status_code == 404
    ops_client.post(f"/dashboard/fulfilment/shipments/{shipment.pk}/hand-over/")
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.SHIPPED
    again = ops_client.post(f"/dashboard/fulfilment/shipments/{shipment.pk}/hand-over/", follow=True)
    assert "it cannot move to handed to the carrier now" in again.content.decode()
    assert shipment.order.lines.get(sku="CAP-NAVY").qty_shipped == 3
    shipment.order.refresh_from_db()
    assert shipment.order.status == OrderStatus.PARTIALLY_SHIPPED


def test_fulfilment_pages_need_an_ops_login(client, busy_day):
    for url in ("/dashboard/fulfilment/", f"/dashboard/fulfilment/pick-lists/{PickList.objects.first().pk}/"):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_order_page_shows_picks_and_shipments(ops_client, busy_day, django_assert_max_num_queries):
    order = busy_day[0]
    shipment = Shipment.objects.get(order=order)
    with django_assert_max_num_queries(30):
        page = ops_client.get(f"/dashboard/orders/{order.pk}/").content.decode()
    assert 'id="fulfilment"' in page
    assert shipment.reference in page and shipment.tracking_number in page
    assert "wait to be packed" in page  # the t-shirts and the hoodie are still on the table
    # an order not on any list yet shows where it is promised from, and the way to hand it on
    untouched = ops_client.get(f"/dashboard/orders/{busy_day[5].pk}/").content.decode()
    assert "Promised from: <strong>ATH</strong> 6 unit(s)" in untouched
    assert "Route elsewhere" in untouched and "PL-" not in untouched


def test_an_open_pick_list_can_be_withdrawn_and_its_units_go_on_the_next_wave(ops_client, busy_day, network):  # noqa: F811
    pick_list = PickList.objects.filter(status="open").get()
    listed = set(pick_list.lines.values_list("allocation_id", flat=True))
    response = ops_client.post(f"/dashboard/fulfilment/pick-lists/{pick_list.pk}/cancel/", follow=True)
    assert "withdrawn" in response.content.decode()
    pick_list.refresh_from_db()
    assert pick_list.status == "cancelled"
    again = ops_client.post(f"/dashboard/fulfilment/pick-lists/{pick_list.pk}/cancel/", follow=True)
    assert "cannot become cancelled" in again.content.decode()
    next_wave = fulfilment.wave_release(warehouse_id=network["ATH"].pk, actor=OPS)
    assert listed <= set(next_wave.lines.values_list("allocation_id", flat=True))
