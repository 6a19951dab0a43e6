"""The returns API: channels ask for and follow their own customers' returns; warehouse systems receive
and inspect what arrives. Every problem named by field, nothing half-written, retries harmless."""

from datetime import timedelta
from decimal import Decimal

import pytest

from orders import services as order_services
from returns.models import Credit, Return, ReturnPolicy, ReturnStatus
from tests.conftest import api_client_for
from tests.returns_world import delivered_order
from tests.test_fulfilment import network  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def wms(db):
    return api_client_for(order_services.api_key_create(name="WMS", scopes=["inventory"])[1])


@pytest.fixture
def other_api(other_channel):
    return api_client_for(order_services.api_key_create(name="market key", channel=other_channel)[1])


def numbers(order):
    return {line.sku: line.line_number for line in order.lines.all()}


def body(order, *items, method="refund"):
    lines = numbers(order)
    return {
        "credit_method": method,
        "lines": [
            {"order_id": order.pk, "line_number": lines[sku], "quantity": n, "reason": reason}
            for sku, n, reason in items
        ],
    }


def test_the_whole_lifecycle_through_the_api(api, wms, network):  # noqa: F811
    ReturnPolicy.objects.update_or_create(channel=None, defaults={"restocking_fee_percent": Decimal("10")})
    order = delivered_order(api, network)
    response = api.post(
        "/api/v1/returns/",
        body(order, ("CAP-NAVY", 2, "changed_mind")),
        format="json",
        HTTP_IDEMPOTENCY_KEY="ret-1",
    )
    assert response.status_code == 201, response.json()
    created = response.json()
    assert response["Location"] == f"/api/v1/returns/{created['id']}/"
    assert created["status"] == "authorised" and created["number"] == f"RMA-{created['id']:07d}"
    assert created["return_location"] == {
        "code": "ATH",
        "name": "Athens DC",
        "line1": network["ATH"].line1,
        "postal_code": network["ATH"].postal_code,
        "city": network["ATH"].city,
        "country": network["ATH"].country,
    }
    [line] = created["lines"]
    assert (line["order_id"], line["sku"], line["quantity"], line["reason"], line["received"]) == (
        order.pk,
        "CAP-NAVY",
        2,
        "changed_mind",
        0,
    )
    # the channel's retry is answered from the first call, and asks nothing back twice
    again = api.post(
        "/api/v1/returns/",
        body(order, ("CAP-NAVY", 2, "changed_mind")),
        format="json",
        HTTP_IDEMPOTENCY_KEY="ret-1",
    )
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == created["id"] and Return.objects.count() == 1

    expected = wms.get("/api/v1/fulfilment/returns/", {"warehouse": "ath"})
    assert [r["id"] for r in expected.json()] == [created["id"]]
    received = wms.post(
        f"/api/v1/fulfilment/returns/{created['id']}/receive/",
        {"lines": [{"id": line["id"], "received": 2}]},
        format="json",
    )
    assert received.status_code == 200, received.json()
    assert received.json()["status"] == "received" and received.json()["lines"][0]["received"] == 2
    inspected = wms.post(
        f"/api/v1/fulfilment/returns/{created['id']}/inspect/",
        {
            "inspections": [
                {
                    "line_id": line["id"],
                    "quantity": 1,
                    "grade": "new",
                    "disposition": "restock",
                    "bin": "R-1",
                },
                {"line_id": line["id"], "quantity": 1, "grade": "damaged", "disposition": "scrap"},
            ]
        },
        format="json",
    )
    assert inspected.status_code == 200, inspected.json()
    final = api.get(f"/api/v1/returns/{created['id']}/").json()
    assert final["status"] == "closed"
    # the caps' line paid 45.00 less its share of the 5.00 order discount: 43.26 (of the two cents left
    # after rounding down, the T-shirts and the hoodie had the larger remainders); two of three caps are
    # 28.84, less a 10 % fee of 2.88
    assert {k: final["credit"][k] for k in ("method", "currency", "goods", "restocking_fee", "amount")} == {
        "method": "refund",
        "currency": "EUR",
        "goods": "28.84",
        "restocking_fee": "2.88",
        "amount": "25.96",
    }
    assert final["credit"]["lines"] == [
        {
            "order_id": order.pk,
            "line_number": numbers(order)["CAP-NAVY"],
            "units": 2,
            "amount": "28.84",
            "restocking_fee": "2.88",
        }
    ]
    assert [(h["from_status"], h["to_status"]) for h in final["history"]] == [
        ("", "requested"),
        ("requested", "authorised"),
        ("authorised", "received"),
        ("received", "inspected"),
        ("inspected", "closed"),
    ]
    order_view = api.get(f"/api/v1/orders/{order.pk}/").json()
    assert {ln["sku"]: ln["quantities"]["returned"] for ln in order_view["lines"]}["CAP-NAVY"] == 2
    assert order_view["status"] == "partially_returned"


def test_another_channels_return_is_not_found_and_its_orders_cannot_be_named(api, other_api, network):  # noqa: F811
    order = delivered_order(api, network)
    created = api.post("/api/v1/returns/", body(order, ("CAP-NAVY", 1, "damaged")), format="json").json()
    assert other_api.get(f"/api/v1/returns/{created['id']}/").status_code == 404
    assert other_api.post(f"/api/v1/returns/{created['id']}/cancel/", {}, format="json").status_code == 404
    assert other_api.get("/api/v1/returns/").json()["results"] == []
    stolen = other_api.post("/api/v1/returns/", body(order, ("CAP-NAVY", 1, "damaged")), format="json")
    assert stolen.status_code == 400
    assert stolen.json()["error"]["details"] == {"lines.0.order_id": [f"No order {order.pk}."]}
    assert Return.objects.get().status == ReturnStatus.AUTHORISED  # untouched


def test_bad_requests_name_every_field(api, network):  # noqa: F811
    order = delivered_order(api, network)
    response = api.post(
        "/api/v1/returns/",
        {
            "credit_method": "cash",
            "lines": [
                {"order_id": order.pk, "line_number": 1, "quantity": "two", "reason": "damaged"},
                {"order_id": order.pk, "line_number": 99, "quantity": 1, "reason": "nope"},
                {"order_id": order.pk, "line_number": 3, "quantity": 50, "reason": "damaged"},
            ],
        },
        format="json",
    )
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert set(details) == {
        "credit_method",
        "lines.0.quantity",
        "lines.1.line_number",
        "lines.1.reason",
        "lines.2.quantity",
    }
    assert details["lines.1.line_number"] == [f"Order {order.number} has no line 99."]
    assert details["lines.2.quantity"][0].startswith("3 unit(s) of ")
    assert api.post("/api/v1/returns/", {"lines": []}, format="json").json()["error"]["details"]["lines"]
    assert Return.objects.count() == 0


def test_lists_filter_by_status_and_time_and_withdraw(api, network, clock):  # noqa: F811
    order = delivered_order(api, network)
    first = api.post("/api/v1/returns/", body(order, ("CAP-NAVY", 1, "damaged")), format="json").json()
    clock.shift(timedelta(hours=3))
    second = api.post("/api/v1/returns/", body(order, ("HOODIE-GRY-L", 1, "too_large")), format="json").json()
    cancelled = api.post(f"/api/v1/returns/{first['id']}/cancel/", {"reason": "kept it"}, format="json")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert api.post(f"/api/v1/returns/{first['id']}/cancel/", {}, format="json").status_code == 409
    listed = api.get("/api/v1/returns/", {"status": "authorised"}).json()["results"]
    assert [r["id"] for r in listed] == [second["id"]]
    assert api.get("/api/v1/returns/", {"status": "lost"}).json()["error"]["details"] == {
        "status": ["Unknown status 'lost'."]
    }
    recent = api.get("/api/v1/returns/", {"updated_since": second["created_at"]}).json()["results"]
    assert {r["id"] for r in recent} == {first["id"], second["id"]}  # the cancel changed the first


def test_the_reason_codes_and_the_warehouse_endpoints_scope(api, wms, network):  # noqa: F811
    reasons = api.get("/api/v1/returns/reasons/").json()
    assert [r["code"] for r in reasons][-1] == "other" and reasons[-1]["needs_note"] is True
    assert {r["code"] for r in reasons if r["merchant_fault"]} == {
        "damaged",
        "wrong_item",
        "not_as_described",
    }
    assert api.get("/api/v1/fulfilment/returns/", {"warehouse": "ATH"}).status_code == 403
    assert wms.get("/api/v1/returns/").status_code == 403
    assert wms.get("/api/v1/fulfilment/returns/").json()["error"]["details"] == {
        "warehouse": ["Give the warehouse's code."]
    }


def test_a_receipt_with_bad_inspections_writes_nothing(api, wms, network):  # noqa: F811
    order = delivered_order(api, network)
    created = api.post("/api/v1/returns/", body(order, ("CAP-NAVY", 2, "damaged")), format="json").json()
    line_id = created["lines"][0]["id"]
    response = wms.post(
        f"/api/v1/fulfilment/returns/{created['id']}/receive/",
        {
            "lines": [{"id": line_id, "received": 2}],
            "inspections": [
                {
                    "line_id": line_id,
                    "quantity": 2,
                    "grade": "shiny",
                    "disposition": "restock",
                    "warehouse": "XX",
                }
            ],
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"inspections.0.grade": ['"shiny" is not a valid choice.']}
    response = wms.post(
        f"/api/v1/fulfilment/returns/{created['id']}/receive/",
        {
            "lines": [{"id": line_id, "received": 2}],
            "inspections": [
                {
                    "line_id": line_id,
                    "quantity": 2,
                    "grade": "new",
                    "disposition": "restock",
                    "warehouse": "XX",
                }
            ],
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"inspections.0.warehouse": ["No warehouse XX."]}
    assert Return.objects.get().status == ReturnStatus.AUTHORISED and not Credit.objects.exists()
    assert order.lines.get(sku="CAP-NAVY").qty_returned == 0


def test_a_channel_buys_the_return_label_and_downloads_it(api, other_api, network):  # noqa: F811
    order = delivered_order(api, network)
    created = api.post("/api/v1/returns/", body(order, ("CAP-NAVY", 1, "changed_mind")), format="json").json()
    assert created["label"] is None
    assert other_api.post(f"/api/v1/returns/{created['id']}/label/").status_code == 404
    bought = api.post(f"/api/v1/returns/{created['id']}/label/")
    assert bought.status_code == 200, bought.json()
    label = bought.json()["label"]
    assert bought.json()["status"] == "label_issued"
    assert label["carrier"] == "Sandbox Post" and label["tracking_number"].startswith("SBX")
    assert label["shipment_status"] == "label_purchased"
    again = api.post(f"/api/v1/returns/{created['id']}/label/").json()["label"]
    assert again["tracking_number"] == label["tracking_number"]  # nothing bought twice
    pdf = api.get(label["pdf_url"])
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert bytes(pdf.content).startswith(b"%PDF")
    assert other_api.get(label["pdf_url"]).status_code == 404
    # a return still waiting for a person has no label to buy yet
    ReturnPolicy.objects.update_or_create(channel=None, defaults={"auto_approve": False})
    waiting = api.post(
        "/api/v1/returns/", body(order, ("HOODIE-GRY-L", 1, "too_large")), format="json"
    ).json()
    refused = api.post(f"/api/v1/returns/{waiting['id']}/label/")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "illegal_transition"
    assert api.get(f"/api/v1/returns/{waiting['id']}/label.pdf").status_code == 404


def test_a_payment_integration_reads_each_credit_once(api, wms, network):  # noqa: F811
    payments = api_client_for(order_services.api_key_create(name="Payments", scopes=["credits"])[1])
    assert api.get("/api/v1/credits/").status_code == 403 and wms.get("/api/v1/credits/").status_code == 403
    order = delivered_order(api, network)
    first = api.post("/api/v1/returns/", body(order, ("CAP-NAVY", 1, "damaged")), format="json").json()
    line_id = first["lines"][0]["id"]
    wms.post(
        f"/api/v1/fulfilment/returns/{first['id']}/receive/",
        {
            "lines": [{"id": line_id, "received": 1}],
            "inspections": [{"line_id": line_id, "quantity": 1, "grade": "damaged", "disposition": "scrap"}],
        },
        format="json",
    )
    page = payments.get("/api/v1/credits/").json()
    [credit] = page["results"]
    assert (credit["return_number"], credit["channel"], credit["order_ids"]) == (
        first["number"],
        "web-eu",
        [order.pk],
    )
    assert (credit["method"], credit["amount"], credit["currency"]) == ("refund", "14.42", "EUR")
    assert payments.get("/api/v1/credits/", {"method": "store_credit"}).json()["results"] == []
    assert payments.get("/api/v1/credits/", {"method": "cash"}).status_code == 400
