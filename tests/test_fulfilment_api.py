"""Warehouse systems read their pick lists and confirm what was found through the API."""

import pytest

from orders import services as order_services
from shipments import services as fulfilment
from shipments.models import PickList
from tests.conftest import api_client_for
from tests.test_fulfilment import OPS, network, routed_order  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def wms(db):
    return api_client_for(order_services.api_key_create(name="WMS", scopes=["inventory"])[1])


@pytest.fixture
def released(api, network):  # noqa: F811 (fixture)
    routed_order(api, "W-1")
    return fulfilment.wave_release(warehouse_id=network["ATH"].pk, actor=OPS)


def test_a_warehouse_system_reads_its_open_pick_lists_in_walking_order(wms, released):
    response = wms.get("/api/v1/fulfilment/pick-lists/?warehouse=ath")
    assert response.status_code == 200
    (pick_list,) = response.json()
    assert (pick_list["number"], pick_list["warehouse"], pick_list["status"]) == (
        released.number,
        "ATH",
        "open",
    )
    assert [line["bin"] for line in pick_list["lines"]] == ["A-01", "B-05", "C-09"]
    assert wms.get("/api/v1/fulfilment/pick-lists/?warehouse=ATH&status=done").json() == []
    bad = wms.get("/api/v1/fulfilment/pick-lists/?status=lost")
    assert bad.status_code == 400 and set(bad.json()["error"]["details"]) == {"warehouse", "status"}


def test_confirming_through_the_api_is_idempotent_and_reroutes_short_picks(wms, released):
    lines = {line.sku: line for line in released.lines.all()}
    body = {"lines": [{"id": line.pk, "picked": line.quantity} for line in lines.values()]}
    body["lines"][[line["id"] for line in body["lines"]].index(lines["CAP-NAVY"].pk)]["picked"] = 1
    url = f"/api/v1/fulfilment/pick-lists/{released.pk}/confirm/"
    first = wms.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="pick-1")
    assert first.status_code == 200, first.json()
    confirmed = {line["sku"]: line for line in first.json()["lines"]}
    assert (confirmed["CAP-NAVY"]["picked"], first.json()["status"]) == (1, "done")
    again = wms.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="pick-1")
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    late = wms.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="pick-2")
    assert late.status_code == 409 and late.json()["error"]["code"] == "illegal_transition"
    released.refresh_from_db()
    assert released.status == "done"


def test_confirmation_errors_name_the_lines(wms, released, api):
    url = f"/api/v1/fulfilment/pick-lists/{released.pk}/confirm/"
    first = released.lines.first()
    partial = wms.post(url, {"lines": [{"id": first.pk, "picked": first.quantity + 5}]}, format="json")
    assert partial.status_code == 400
    details = partial.json()["error"]["details"]
    assert details[f"lines.{first.pk}"] == [f"Between 0 and {first.quantity}."] and len(details) == 3
    twice = wms.post(
        url, {"lines": [{"id": first.pk, "picked": 0}, {"id": first.pk, "picked": 1}]}, format="json"
    )
    assert twice.status_code == 400 and "lines" in twice.json()["error"]["details"]
    assert (
        wms.post(
            "/api/v1/fulfilment/pick-lists/999999/confirm/",
            {"lines": [{"id": 1, "picked": 0}]},
            format="json",
        ).status_code
        == 404
    )
    assert api.get("/api/v1/fulfilment/pick-lists/?warehouse=ATH").status_code == 403  # a channel's key
    assert PickList.objects.get(pk=released.pk).status == "open"


def test_a_warehouse_system_packs_buys_the_label_prints_it_and_hands_over(wms, released):
    from tests.test_fulfilment import decode_barcodes

    picked = {"lines": [{"id": line.pk, "picked": line.quantity} for line in released.lines.all()]}
    assert (
        wms.post(f"/api/v1/fulfilment/pick-lists/{released.pk}/confirm/", picked, format="json").status_code
        == 200
    )
    order = released.lines.first().order_line.order
    body = {
        "order": order.number,
        "warehouse": "ath",
        "contents": [
            {"line_number": 1, "quantity": 2},
            {"line_number": 2, "quantity": 1},
            {"line_number": 3, "quantity": 3},
        ],
        "weight_grams": 1400,
        "length_mm": 300,
        "width_mm": 200,
        "height_mm": 120,
    }
    packed = wms.post("/api/v1/fulfilment/packages/", body, format="json", HTTP_IDEMPOTENCY_KEY="box-1")
    assert packed.status_code == 201, packed.json()
    assert packed.json()["shipment_status"] == "draft" and packed.json()["label_pdf"] is None
    replay = wms.post("/api/v1/fulfilment/packages/", body, format="json", HTTP_IDEMPOTENCY_KEY="box-1")
    assert replay.json() == packed.json()  # one package, whatever the retries
    too_many = wms.post("/api/v1/fulfilment/packages/", body, format="json")
    assert too_many.status_code == 400  # everything picked is packed already
    shipment_id = packed.json()["shipment_id"]
    labelled = wms.post(f"/api/v1/fulfilment/shipments/{shipment_id}/labels/")
    assert labelled.status_code == 200
    (parcel,) = labelled.json()
    assert parcel["shipment_status"] == "label_purchased" and parcel["tracking_number"].startswith("SBX")
    assert (
        wms.post(f"/api/v1/fulfilment/shipments/{shipment_id}/labels/").json() == labelled.json()
    )  # retry-safe
    pdf = wms.get(parcel["label_pdf"])
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert decode_barcodes(pdf.content) == [parcel["tracking_number"]]
    assert wms.get(parcel["label_zpl"]).content.startswith(b"^XA")
    handed = wms.post(f"/api/v1/fulfilment/shipments/{shipment_id}/hand-over/")
    assert handed.status_code == 200 and handed.json()[0]["shipment_status"] == "shipped"
    assert wms.post(f"/api/v1/fulfilment/shipments/{shipment_id}/hand-over/").status_code == 409
    order.refresh_from_db()
    assert order.status == "shipped"


def test_packing_errors_are_clear(wms, released):
    body = {
        "order": "SO-9999999",
        "warehouse": "ATH",
        "contents": [{"line_number": 1, "quantity": 1}],
        "weight_grams": 100,
        "length_mm": 1,
        "width_mm": 1,
        "height_mm": 1,
    }
    assert wms.post("/api/v1/fulfilment/packages/", body, format="json").status_code == 404
    order = released.lines.first().order_line.order
    body["order"] = str(order.pk)
    body["contents"] = [{"line_number": 9, "quantity": 1}]
    wrong_line = wms.post("/api/v1/fulfilment/packages/", body, format="json")
    assert wrong_line.status_code == 400 and wrong_line.json()["error"]["details"] == {
        "contents": ["No line 9."]
    }
    body["contents"] = [{"line_number": 1, "quantity": 1}]
    not_picked = wms.post("/api/v1/fulfilment/packages/", body, format="json")
    assert not_picked.status_code == 400  # the list is not confirmed yet: nothing picked to pack
    assert wms.get("/api/v1/fulfilment/packages/999/label.pdf").status_code == 404
