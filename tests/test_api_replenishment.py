"""The replenishment API for ERPs: suggestions and purchase orders to read, receipts against a
purchase order (idempotent, all or nothing), with the inventory API's scope and error conventions."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.models import Lot, StockMovement, StockPosition
from orders import services
from orders.models import Product
from replenishment import services as replenishment
from replenishment.evaluation import suggestions_evaluate
from replenishment.models import PurchaseOrder, PurchaseOrderLine, ReorderRule, Suggestion, Supplier
from tests.conftest import api_client_for
from tests.factories import make_warehouse

pytestmark = pytest.mark.django_db


@pytest.fixture
def erp(db):
    return api_client_for(services.api_key_create(name="ERP", scopes=["inventory"])[1])


@pytest.fixture
def world(products):
    dc = make_warehouse("DC")
    supplier = Supplier.objects.create(code="acme", name="Acme Caps", lead_time_days=7)
    cap = Product.objects.get(sku="CAP-NAVY")
    StockPosition.objects.create(warehouse=dc, product=cap, on_hand=3)
    ReorderRule.objects.create(
        product=cap, warehouse=dc, reorder_point=5, order_up_to=20, source="supplier", supplier=supplier
    )
    return {"dc": dc, "supplier": supplier, "cap": cap}


def sent_purchase_order(world, *lines) -> PurchaseOrder:
    po = PurchaseOrder.objects.create(supplier=world["supplier"], warehouse=world["dc"], status="sent")
    for product, quantity in lines:
        PurchaseOrderLine.objects.create(purchase_order=po, product=product, quantity=quantity)
    return po


def test_an_erp_reads_the_open_suggestions_with_their_figures(erp, world):
    suggestions_evaluate()
    body = erp.get("/api/v1/replenishment/suggestions/", {"status": "open"}).json()
    (item,) = body["results"]
    assert {k: item[k] for k in ("status", "kind", "warehouse", "sku", "quantity", "supplier")} == {
        "status": "open",
        "kind": "purchase",
        "warehouse": "DC",
        "sku": "CAP-NAVY",
        "quantity": 17,
        "supplier": "acme",
    }
    assert (item["explanation"]["inventory_position"], item["explanation"]["need"]) == (3, 17)
    assert item["purchase_order_id"] is None and item["decided_by"] == ""
    # approved and ordered: the suggestion names its purchase order
    replenishment.suggestion_decide(suggestion_id=item["id"], approve=True, actor="olga")
    made = replenishment.suggestions_order(suggestion_ids=[item["id"]], actor="olga")
    ordered = erp.get("/api/v1/replenishment/suggestions/", {"status": "ordered"}).json()["results"]
    assert [(s["id"], s["purchase_order_id"], s["decided_by"]) for s in ordered] == [
        (item["id"], made.purchase_orders[0].pk, "olga")
    ]
    assert erp.get("/api/v1/replenishment/suggestions/", {"status": "open"}).json()["results"] == []
    later = (timezone.now() + timedelta(hours=1)).isoformat()
    assert erp.get("/api/v1/replenishment/suggestions/", {"updated_since": later}).json()["results"] == []


def test_lists_refuse_unknown_filters_and_other_keys(erp, api, world):
    refused = erp.get("/api/v1/replenishment/suggestions/", {"status": "open,maybe"})
    assert refused.status_code == 400
    assert refused.json()["error"]["details"]["status"][0].startswith("Unknown status 'maybe'")
    assert erp.get("/api/v1/replenishment/purchase-orders/", {"status": "lost"}).status_code == 400
    assert erp.get("/api/v1/replenishment/purchase-orders/", {"page_size": "0"}).status_code == 400
    # a channel's key has no business with suppliers
    assert api.get("/api/v1/replenishment/suggestions/").status_code == 403
    assert api.get("/api/v1/replenishment/purchase-orders/").status_code == 403
    assert erp.get("/api/v1/replenishment/purchase-orders/999999/").status_code == 404


def test_purchase_orders_list_with_their_lines_and_cursor_pages(erp, world):
    first = sent_purchase_order(world, (world["cap"], 10))
    second = sent_purchase_order(world, (world["cap"], 4))
    PurchaseOrder.objects.create(supplier=world["supplier"], warehouse=world["dc"])  # a draft
    page = erp.get("/api/v1/replenishment/purchase-orders/", {"status": "sent", "page_size": 1}).json()
    assert [po["id"] for po in page["results"]] == [first.pk]
    (line,) = page["results"][0]["lines"]
    assert {k: line[k] for k in ("sku", "quantity", "received_quantity", "outstanding", "lot_tracked")} == {
        "sku": "CAP-NAVY",
        "quantity": 10,
        "received_quantity": 0,
        "outstanding": 10,
        "lot_tracked": False,
    }
    assert page["results"][0]["supplier"] == {"code": "acme", "name": "Acme Caps"}
    assert page["results"][0]["reference"] == str(first)
    rest = erp.get(page["next"]).json()
    assert [po["id"] for po in rest["results"]] == [second.pk] and rest["next"] is None
    assert erp.get("/api/v1/replenishment/purchase-orders/", {"supplier": "other"}).json()["results"] == []


def test_a_receipt_is_booked_once_however_often_it_is_retried(erp, world):
    po = sent_purchase_order(world, (world["cap"], 10))
    (line,) = po.lines.all()
    body = {"lines": [{"line_id": line.pk, "quantity": 6}], "delivery_note": "DN-77"}
    url = f"/api/v1/replenishment/purchase-orders/{po.pk}/receipts/"
    first = erp.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="dn-77")
    assert first.status_code == 200, first.content
    assert first.json()["status"] == "partially_received"
    assert first.json()["lines"][0]["outstanding"] == 4
    again = erp.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="dn-77")
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert StockPosition.objects.get(warehouse=world["dc"], product=world["cap"]).on_hand == 3 + 6
    (movement,) = StockMovement.objects.filter(reference_type="purchase_order")
    assert (movement.quantity, movement.reference) == (6, str(po.pk))
    assert "DN-77" in movement.reason
    rest = erp.post(url, {"lines": [{"line_id": line.pk, "quantity": 4}]}, format="json")
    assert rest.json()["status"] == "received"
    closed = erp.post(url, {"lines": [{"line_id": line.pk, "quantity": 1}]}, format="json")
    assert closed.status_code == 409
    assert closed.json()["error"]["details"] == {"status": "received"}


def test_a_bad_receipt_names_every_problem_and_books_nothing(erp, world, products):
    lotted = Product.objects.create(sku="OIL-1L", name="Olive oil", lot_tracked=True)
    po = sent_purchase_order(world, (world["cap"], 10), (lotted, 5))
    cap_line, oil_line = po.lines.order_by("pk")
    url = f"/api/v1/replenishment/purchase-orders/{po.pk}/receipts/"
    response = erp.post(
        url,
        {
            "lines": [
                {"line_id": cap_line.pk, "quantity": 8},
                {"line_id": cap_line.pk, "quantity": 3},  # 11 of 10 in all
                {"line_id": oil_line.pk, "quantity": 5},  # no lot code
                {"line_id": 999999, "quantity": 1},
                {"line_id": cap_line.pk, "quantity": 0},
            ]
        },
        format="json",
    )
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert details["lines.1.quantity"] == ["CAP-NAVY: 10 still expected, not 11."]
    assert details["lines.2.lot_code"] == ["OIL-1L is lot-tracked: give the lot code (and its expiry date)."]
    assert details["lines.3.line_id"] == [f"{po} has no line 999999."]
    assert "lines.4.quantity" in details
    assert not StockMovement.objects.filter(reference_type="purchase_order").exists()
    assert PurchaseOrderLine.objects.filter(purchase_order=po, received_quantity__gt=0).count() == 0
    assert erp.post(url, {"lines": []}, format="json").status_code == 400
    assert erp.post(url, {"lines": "all"}, format="json").status_code == 400
    assert (
        erp.post("/api/v1/replenishment/purchase-orders/999999/receipts/", {}, format="json").status_code
        == 404
    )
    # with its lot and expiry the lot-tracked line is booked into that lot
    expiry = (timezone.localdate() + timedelta(days=300)).isoformat()
    ok = erp.post(
        url,
        {"lines": [{"line_id": oil_line.pk, "quantity": 5, "lot_code": "L-9", "expiry_date": expiry}]},
        format="json",
    )
    assert ok.status_code == 200, ok.content
    lot = Lot.objects.get(code="L-9")
    assert (lot.on_hand, lot.expiry_date.isoformat()) == (5, expiry)


def test_a_draft_cannot_be_received_through_the_api(erp, world):
    draft = PurchaseOrder.objects.create(supplier=world["supplier"], warehouse=world["dc"])
    line = PurchaseOrderLine.objects.create(purchase_order=draft, product=world["cap"], quantity=2)
    response = erp.post(
        f"/api/v1/replenishment/purchase-orders/{draft.pk}/receipts/",
        {"lines": [{"line_id": line.pk, "quantity": 2}]},
        format="json",
    )
    assert response.status_code == 409
    assert Suggestion.objects.count() == 0 and StockMovement.objects.count() == 0
