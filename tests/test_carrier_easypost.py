"""The EasyPost integration against recorded payloads: pure builders and parsers, then the whole
label purchase through the HTTP boundary (``responses`` answers instead of api.easypost.com),
including refusals and a timeout that must never lead to buying twice."""

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import requests
import responses

from oms.errors import PartnerRefused, PartnerUnavailable
from shipments import services as fulfilment
from shipments.carriers import easypost
from shipments.carriers.base import CarrierError, Milestone, ParcelRequest, Party
from shipments.models import Carrier, CarrierCall, CarrierService, Label, ShipmentStatus
from tests.test_fulfilment import OPS, network, pack, picked_order  # noqa: F401 (fixture)

PAYLOADS = Path(__file__).parent / "payloads" / "easypost"
API = "https://api.easypost.com/v2"
SHIPMENT_ID = "shp_9af92e0bdd6a428f8aba267686ab9cae"
LABEL_URL = "https://easypost-files.s3.us-west-2.amazonaws.com/files/postage_label/20261125/e8befd4ff12e134ac6a31282975b6e7251.pdf"
CARRIER_PDF = b"%PDF-1.4 carrier label bytes as EasyPost serves them"


def payload(name: str) -> dict:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


REQUEST = ParcelRequest(
    reference="SH-0000001/1",
    sender=Party(name="Athens DC", line1="Street 1", city="Athens", postal_code="104 31", country="GR"),
    recipient=Party(
        name="Maria Papadopoulou",
        line1="Odos Patision 12",
        city="Athens",
        postal_code="104 34",
        country="GR",
        email="maria.p@example.gr",
    ),
    weight_grams=800,
    length_mm=300,
    width_mm=200,
    height_mm=100,
    service_code="Priority",
    carrier_name="USPS",
    order_number="SO-0000001",
)


# ------------------------------------------------------------------------------------------ pure parts


def test_shipment_body_converts_to_inches_and_ounces_rounding_up():
    body = easypost.shipment_body(REQUEST, {"label_format": "PDF"})["shipment"]
    assert body["reference"] == "SH-0000001/1"
    assert body["parcel"] == {"length": 11.9, "width": 7.9, "height": 4.0, "weight": 28.3}
    assert body["to_address"]["street1"] == "Odos Patision 12"
    assert body["to_address"]["zip"] == "104 34" and body["to_address"]["country"] == "GR"
    assert body["to_address"]["email"] == "maria.p@example.gr"
    assert body["from_address"]["state"] is None  # empty parts are sent as null, as EasyPost expects
    assert body["options"] == {"label_format": "PDF", "invoice_number": "SO-0000001"}


def test_a_return_label_keeps_the_way_out_addresses_and_says_is_return():
    from dataclasses import replace

    body = easypost.shipment_body(replace(REQUEST, is_return=True), {"label_format": "PDF"})["shipment"]
    # EasyPost swaps the addresses itself for a return (docs: Returns), so they go as for the way out
    assert body["is_return"] is True
    assert body["to_address"]["street1"] == "Odos Patision 12"
    assert "is_return" not in easypost.shipment_body(REQUEST, {})["shipment"]


def test_rates_and_the_configured_rate_are_read_from_the_shipment():
    created = payload("shipment_created")
    rates = easypost.parse_rates(created)
    assert [(r.carrier_name, r.service_code, r.amount, r.estimated_days) for r in rates] == [
        ("USPS", "Express", Decimal("31.25"), None),
        ("USPS", "Priority", Decimal("6.95"), 2),
        ("USPS", "GroundAdvantage", Decimal("5.93"), 3),
    ]
    assert easypost.select_rate(created, carrier_name="USPS", service_code="Priority")["id"] == (
        "rate_7eb8606e070a4df19b70de813f9bea9d"
    )
    with pytest.raises(CarrierError) as error:
        easypost.select_rate(created, carrier_name="UPS", service_code="Ground")
    assert error.value.code == "rate_unavailable"
    assert "DhlEcs: shipment.customs_info.customs_items.0.code: field required" in error.value.details
    assert "Offered: USPS Express, USPS GroundAdvantage, USPS Priority." in error.value.details


def test_a_bought_shipment_gives_tracking_number_cost_and_label_url():
    purchase, url, kind = easypost.parse_purchase(payload("shipment_bought"))
    assert purchase.tracking_number == "9400100105442285876350"
    assert (purchase.cost, purchase.currency) == (Decimal("6.95"), "USD")
    assert (url, kind) == (LABEL_URL, "pdf")


def test_error_bodies_become_clear_refusals():
    error = easypost.parse_error(422, payload("error_address"))
    assert error.code == "ADDRESS.VERIFY.FAILURE"
    assert error.message == "EasyPost refused: Unable to verify address."
    assert error.details == ["address: Address not found", "zip: Invalid ZIP Code."]
    assert easypost.parse_error(401, None).code == "http_401"


def test_tracker_events_map_onto_our_milestones():
    tracking = easypost.parse_tracker(payload("tracker"))
    assert tracking.tracking_number == "9400100105442285876350"
    assert tracking.estimated_delivery == date(2026, 11, 27)
    assert [e.milestone for e in tracking.events] == [
        Milestone.LABEL_CREATED,
        Milestone.LABEL_CREATED,
        Milestone.ARRIVED_AT_HUB,
        Milestone.IN_TRANSIT,
        Milestone.OUT_FOR_DELIVERY,
        Milestone.DELIVERED,
    ]
    delivered = tracking.events[-1]
    assert delivered.occurred_at == datetime(2026, 11, 27, 14, 20, tzinfo=UTC)
    assert delivered.location == "CHARLESTON, SC"
    assert delivered.code == "delivered/arrived_at_destination"


@pytest.mark.parametrize(
    ("status", "detail", "expected"),
    [
        ("in_transit", "weather_delay", (Milestone.EXCEPTION, "weather")),
        ("failure", "refused", (Milestone.EXCEPTION, "consignee")),
        ("return_to_sender", None, (Milestone.RETURNED_TO_SENDER, "")),
        ("available_for_pickup", "arrived_at_pickup_location", (Milestone.AVAILABLE_FOR_PICKUP, "")),
        ("unknown", None, None),
    ],
)
def test_status_table(status, detail, expected):
    assert easypost.milestone_of(status, detail) == expected


# ----------------------------------------------------------------------------------- through HTTP


@pytest.fixture
def easypost_service(db, monkeypatch):
    monkeypatch.setenv("EASYPOST_TEST_KEY", "EZTK_test_key")
    carrier = Carrier.objects.create(
        code="easypost", name="EasyPost", adapter="easypost", credentials_env="EASYPOST_TEST_KEY"
    )
    return CarrierService.objects.create(
        carrier=carrier, code="Priority", carrier_name="USPS", name="USPS Priority", service_level="express"
    )


@pytest.fixture
def easypost_shipment(api, network, easypost_service):  # noqa: F811 (fixture)
    order = picked_order(api, network)
    box = pack(order, network["ATH"], {"CAP-NAVY": 3})
    return fulfilment.shipment_create(package_ids=[box.pk], actor=OPS, service_id=easypost_service.pk), box


@responses.activate
@pytest.mark.django_db
def test_label_purchase_stores_the_carriers_label_as_received(easypost_shipment):
    shipment, box = easypost_shipment
    responses.post(f"{API}/shipments", json=payload("shipment_created"), status=201)
    responses.get(f"{API}/shipments/{SHIPMENT_ID}", json=payload("shipment_created"))
    buy = responses.post(f"{API}/shipments/{SHIPMENT_ID}/buy", json=payload("shipment_bought"))
    responses.get(LABEL_URL, body=CARRIER_PDF, content_type="application/pdf")

    shipment = fulfilment.shipment_buy_labels(shipment_id=shipment.pk, actor=OPS)

    assert shipment.status == ShipmentStatus.LABEL_PURCHASED
    assert shipment.tracking_number == "9400100105442285876350"
    assert (shipment.cost, shipment.currency) == (Decimal("6.95"), "USD")
    label = Label.objects.get(package=box)
    assert (label.format, label.source, bytes(label.content)) == ("pdf", "carrier", CARRIER_PDF)
    created = json.loads(responses.calls[0].request.body)["shipment"]
    assert created["reference"] == f"{shipment.reference}/1"
    assert created["to_address"]["name"] == "Maria Papadopoulou"
    assert responses.calls[0].request.headers["Authorization"].startswith("Basic ")  # the key, never logged
    assert json.loads(buy.calls[0].request.body) == {"rate": {"id": "rate_7eb8606e070a4df19b70de813f9bea9d"}}
    assert list(CarrierCall.objects.filter(shipment=shipment).values_list("operation", "outcome")) == [
        ("buy", "ok"),
        ("prepare", "ok"),
    ]


@responses.activate
@pytest.mark.django_db
def test_a_refusal_is_a_clear_error_and_nothing_is_half_written(easypost_shipment):
    shipment, box = easypost_shipment
    responses.post(f"{API}/shipments", json=payload("error_address"), status=422)
    with pytest.raises(PartnerRefused) as error:
        fulfilment.shipment_buy_labels(shipment_id=shipment.pk, actor=OPS)
    assert error.value.message == "EasyPost refused: Unable to verify address."
    assert error.value.details["carrier"] == ["address: Address not found", "zip: Invalid ZIP Code."]
    shipment.refresh_from_db()
    box.refresh_from_db()
    assert shipment.status == ShipmentStatus.DRAFT
    assert "Invalid ZIP Code" in shipment.label_error
    assert (box.carrier_parcel_id, box.tracking_number) == ("", "")
    assert not Label.objects.exists()


@responses.activate
@pytest.mark.django_db
def test_a_timeout_while_buying_is_retried_without_buying_twice(easypost_shipment):
    shipment, box = easypost_shipment
    responses.post(f"{API}/shipments", json=payload("shipment_created"), status=201)
    # Before the first buy EasyPost has no label; the buy itself times out on our side although
    # EasyPost went through with it, so afterwards the shipment reads back as bought.
    responses.get(f"{API}/shipments/{SHIPMENT_ID}", json=payload("shipment_created"))
    responses.get(f"{API}/shipments/{SHIPMENT_ID}", json=payload("shipment_bought"))
    buy = responses.post(f"{API}/shipments/{SHIPMENT_ID}/buy", body=requests.ReadTimeout("read timed out"))
    responses.get(LABEL_URL, body=CARRIER_PDF, content_type="application/pdf")

    with pytest.raises(PartnerUnavailable):
        fulfilment.shipment_buy_labels(shipment_id=shipment.pk, actor=OPS)
    shipment.refresh_from_db()
    box.refresh_from_db()
    assert shipment.status == ShipmentStatus.LABEL_PENDING
    assert box.carrier_parcel_id == SHIPMENT_ID  # kept, so the retry asks about this parcel
    assert "nothing is bought twice" in shipment.label_error

    shipment = fulfilment.shipment_buy_labels(shipment_id=shipment.pk, actor=OPS)
    assert shipment.status == ShipmentStatus.LABEL_PURCHASED
    assert shipment.tracking_number == "9400100105442285876350"
    assert len(buy.calls) == 1  # the retry found the label and did not buy again
    assert len([c for c in responses.calls if c.request.url == f"{API}/shipments"]) == 1
    outcomes = list(
        CarrierCall.objects.filter(shipment=shipment).order_by("pk").values_list("operation", "outcome")
    )
    assert outcomes == [("prepare", "ok"), ("buy", "unknown"), ("buy", "ok")]


@responses.activate
@pytest.mark.django_db
def test_void_asks_easypost_for_a_refund(easypost_shipment):
    shipment, _ = easypost_shipment
    responses.post(f"{API}/shipments", json=payload("shipment_created"), status=201)
    responses.get(f"{API}/shipments/{SHIPMENT_ID}", json=payload("shipment_created"))
    responses.post(f"{API}/shipments/{SHIPMENT_ID}/buy", json=payload("shipment_bought"))
    responses.get(LABEL_URL, body=CARRIER_PDF, content_type="application/pdf")
    refund = responses.post(
        f"{API}/shipments/{SHIPMENT_ID}/refund", json=payload("shipment_refund_submitted")
    )
    fulfilment.shipment_buy_labels(shipment_id=shipment.pk, actor=OPS)
    fulfilment.shipment_cancel(shipment_id=shipment.pk, actor=OPS)
    assert len(refund.calls) == 1
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.CANCELLED


@pytest.mark.django_db
def test_a_missing_api_key_is_refused_before_any_call(easypost_shipment, monkeypatch):
    monkeypatch.delenv("EASYPOST_TEST_KEY")
    shipment, _ = easypost_shipment
    with responses.RequestsMock() as mocked, pytest.raises(PartnerRefused, match="No EasyPost API key"):
        fulfilment.shipment_buy_labels(shipment_id=shipment.pk, actor=OPS)
    assert not mocked.calls


@pytest.mark.django_db(transaction=True)
def test_two_purchases_at_once_buy_one_label(easypost_shipment):
    """Two clicks on "Buy labels" from two browsers while EasyPost takes its time."""
    import threading
    import time

    from django.db import connections

    from oms.errors import Conflict

    shipment, _ = easypost_shipment

    def slowly(answer: dict):
        def callback(request):
            time.sleep(0.3)
            return (200, {}, json.dumps(answer))

        return callback

    outcomes: list[object] = []
    barrier = threading.Barrier(2)

    def click() -> None:
        try:
            barrier.wait()
            outcomes.append(fulfilment.shipment_buy_labels(shipment_id=shipment.pk, actor=OPS).status)
        except Conflict as exc:
            outcomes.append(exc.code)
        except BaseException as exc:  # anything else fails the test below
            outcomes.append(exc)
        finally:
            connections.close_all()

    with responses.RequestsMock() as easypost_api:
        easypost_api.add_callback("POST", f"{API}/shipments", callback=slowly(payload("shipment_created")))
        easypost_api.get(f"{API}/shipments/{SHIPMENT_ID}", json=payload("shipment_created"))
        easypost_api.add_callback(
            "POST", f"{API}/shipments/{SHIPMENT_ID}/buy", callback=slowly(payload("shipment_bought"))
        )
        easypost_api.get(LABEL_URL, body=CARRIER_PDF, content_type="application/pdf")
        threads = [threading.Thread(target=click) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        urls = [call.request.url for call in easypost_api.calls]
    assert sorted(map(str, outcomes)) == ["label_purchase_in_progress", "label_purchased"]
    assert (urls.count(f"{API}/shipments"), urls.count(f"{API}/shipments/{SHIPMENT_ID}/buy")) == (1, 1)
    shipment.refresh_from_db()
    assert (shipment.status, shipment.cost) == (ShipmentStatus.LABEL_PURCHASED, Decimal("6.95"))
