"""The inventory API for WMS / ERP integrations and channels."""

import pytest

from inventory import services as stock
from inventory.models import StockMovement, StockPosition
from orders import services
from orders.models import OrderLine, Product
from tests.conftest import api_client_for
from tests.factories import make_warehouse, order_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def wms(db):
    return api_client_for(services.api_key_create(name="WMS", scopes=["inventory"])[1])


@pytest.fixture
def houses(db):
    return [make_warehouse(code, "37.9", "23.7") for code in ("ATH1", "SKG1")]


def on_hand(code: str, sku: str) -> int:
    position = StockPosition.objects.filter(warehouse__code=code, product__sku=sku).first()
    return position.on_hand if position else 0


def test_single_receipt_is_idempotent(wms, houses, products):
    body = {"warehouse": "ath1", "sku": "cap-navy", "quantity": 12, "bin": "A-01-1"}
    first = wms.post("/api/v1/inventory/receipts/", body, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    assert first.status_code == 200, first.json()
    assert first.json() == {
        "kind": "receipt",
        "rows": 1,
        "changed_positions": 1,
        "units_in": 12,
        "units_out": 0,
    }
    again = wms.post("/api/v1/inventory/receipts/", body, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    assert again["Idempotent-Replayed"] == "true"
    assert on_hand("ATH1", "CAP-NAVY") == 12
    assert StockMovement.objects.count() == 1


def test_bulk_receipt_with_bad_rows_applies_nothing(wms, houses, products):
    rows = [
        {"warehouse": "ATH1", "sku": "CAP-NAVY", "quantity": 5},
        {"warehouse": "ATH1", "sku": "NOPE", "quantity": 5},
        {"warehouse": "XXX", "sku": "CAP-NAVY", "quantity": 5},
        {"warehouse": "SKG1", "sku": "CAP-NAVY", "quantity": 0},
    ]
    response = wms.post("/api/v1/inventory/receipts/bulk/", {"rows": rows}, format="json")
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert details == {
        "rows.1.sku": ["Unknown SKU 'NOPE'."],
        "rows.2.warehouse": ["Unknown warehouse 'XXX'."],
        "rows.3.quantity": ["A receipt needs a positive quantity."],
    }
    assert StockMovement.objects.count() == 0


def test_adjustment_batch_stops_whole_at_a_row_below_zero(wms, api, houses, products):
    cap = Product.objects.get(sku="CAP-NAVY")
    stock.stock_receive(warehouse=houses[0], product=cap, quantity=5, actor="t")
    stock.stock_receive(warehouse=houses[1], product=cap, quantity=5, actor="t")
    body = order_payload("A-1", lines=[{"sku": "CAP-NAVY", "quantity": 5, "unit_price": "1.00"}])
    order_id = api.post("/api/v1/orders/", body, format="json").json()["id"]
    stock.stock_allocate(order_id=order_id, actor="t")
    movements = StockMovement.objects.count()
    # the first row withdraws part of a promise, the second would leave less than nothing
    allocated_at = StockPosition.objects.get(allocated__gt=0).warehouse.code
    other = "SKG1" if allocated_at == "ATH1" else "ATH1"
    rows = [
        {"warehouse": allocated_at, "sku": "CAP-NAVY", "quantity": -2, "reason": "broken"},
        {"warehouse": other, "sku": "CAP-NAVY", "quantity": -6, "reason": "broken"},
    ]
    figures_before = (on_hand("ATH1", "CAP-NAVY"), on_hand("SKG1", "CAP-NAVY"))
    response = wms.post("/api/v1/inventory/adjustments/bulk/", {"rows": rows}, format="json")
    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["rows.1.quantity"]
    assert (on_hand("ATH1", "CAP-NAVY"), on_hand("SKG1", "CAP-NAVY")) == figures_before
    assert StockMovement.objects.count() == movements
    assert OrderLine.objects.get(order_id=order_id).qty_allocated == 5  # the first row's withdrawal undone
    missing_reason = wms.post(
        "/api/v1/inventory/adjustments/",
        {"warehouse": "ATH1", "sku": "CAP-NAVY", "quantity": 1},
        format="json",
    )
    assert missing_reason.json()["error"]["details"] == {"rows.0.reason": ["Say why the figure changes."]}


def test_count_as_csv_and_full_snapshot(wms, houses, products):
    cap, hoodie = Product.objects.get(sku="CAP-NAVY"), Product.objects.get(sku="HOODIE-GRY-L")
    stock.stock_receive(warehouse=houses[0], product=cap, quantity=10, actor="t")
    stock.stock_receive(warehouse=houses[0], product=hoodie, quantity=4, actor="t")
    csv_body = "warehouse,sku,quantity\nATH1,CAP-NAVY,7\nATH1,TSHIRT-BLK-M,3\n"
    response = wms.generic(
        "POST", "/api/v1/inventory/counts/?full=true&reference=CS-1", csv_body, content_type="text/csv"
    )
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "kind": "count",
        "rows": 2,
        "changed_positions": 3,
        "units_in": 3,
        "units_out": 7,
    }
    assert (
        on_hand("ATH1", "CAP-NAVY"),
        on_hand("ATH1", "TSHIRT-BLK-M"),
        on_hand("ATH1", "HOODIE-GRY-L"),
    ) == (7, 3, 0)
    movement = StockMovement.objects.filter(kind="count").first()
    assert (movement.reference_type, movement.reference) == ("import", "CS-1")


def test_count_csv_errors_name_the_lines(wms, houses, products):
    response = wms.generic(
        "POST",
        "/api/v1/inventory/counts/",
        "warehouse,sku,quantity\nATH1,CAP-NAVY,seven\n",
        content_type="text/csv",
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {
        "rows.0.quantity": ["Line 2: 'seven' is not a whole number."]
    }
    response = wms.generic(
        "POST", "/api/v1/inventory/counts/", "sku,quantity\nX,1\n", content_type="text/csv"
    )
    assert response.json()["error"]["details"] == {"header": ["Missing column(s): warehouse."]}
    assert StockMovement.objects.count() == 0


def test_count_json(wms, houses, products):
    body = {"rows": [{"warehouse": "SKG1", "sku": "CAP-NAVY", "quantity": 4}], "reference": "JSON-1"}
    assert wms.post("/api/v1/inventory/counts/", body, format="json").status_code == 200
    assert on_hand("SKG1", "CAP-NAVY") == 4


def test_availability_for_integrations_and_channels(wms, api, catalog_api, houses, products):
    cap = Product.objects.get(sku="CAP-NAVY")
    stock.stock_receive(warehouse=houses[0], product=cap, quantity=10, actor="t")
    stock.stock_receive(warehouse=houses[1], product=cap, quantity=6, actor="t")
    StockPosition.objects.filter(warehouse=houses[1]).update(safety_stock=2)
    full = wms.get("/api/v1/inventory/availability/", {"sku": "cap-navy,HOODIE-GRY-L"}).json()
    assert full == [
        {
            "sku": "CAP-NAVY",
            "available": 14,
            "on_hand": 16,
            "allocated": 0,
            "in_transit": 0,
            "warehouses": [
                {
                    "warehouse": "ATH1",
                    "on_hand": 10,
                    "allocated": 0,
                    "in_transit": 0,
                    "safety_stock": 0,
                    "available": 10,
                },
                {
                    "warehouse": "SKG1",
                    "on_hand": 6,
                    "allocated": 0,
                    "in_transit": 0,
                    "safety_stock": 2,
                    "available": 4,
                },
            ],
        },
        {
            "sku": "HOODIE-GRY-L",
            "available": 0,
            "on_hand": 0,
            "allocated": 0,
            "in_transit": 0,
            "warehouses": [],
        },
    ]
    channel_view = api.get("/api/v1/inventory/availability/", {"sku": "CAP-NAVY"}).json()
    assert channel_view == [
        {
            "sku": "CAP-NAVY",
            "available": 14,
            "warehouses": [{"warehouse": "ATH1", "available": 10}, {"warehouse": "SKG1", "available": 4}],
        }
    ]
    assert api.get("/api/v1/inventory/availability/").status_code == 400
    assert catalog_api.get("/api/v1/inventory/availability/", {"sku": "CAP-NAVY"}).status_code == 403
    assert api.post("/api/v1/inventory/receipts/", {}, format="json").status_code == 403


# ------------------------------------------------------------------------------------------ transfers


def figures(code: str, sku: str) -> tuple[int, int]:
    position = StockPosition.objects.filter(warehouse__code=code, product__sku=sku).first()
    return (position.on_hand, position.in_transit) if position else (0, 0)


def test_a_transfer_is_planned_shipped_and_received_through_the_ledger(wms, houses, products):
    stock.stock_receive(
        warehouse=houses[0], product=Product.objects.get(sku="CAP-NAVY"), quantity=10, actor="t"
    )
    body = {"sku": "cap-navy", "from_warehouse": "ATH1", "to_warehouse": "skg1", "quantity": 4}
    created = wms.post("/api/v1/inventory/transfers/", body, format="json", HTTP_IDEMPOTENCY_KEY="t-1")
    assert created.status_code == 201, created.json()
    transfer = created.json()
    assert (transfer["status"], transfer["sku"], transfer["from_warehouse"], transfer["to_warehouse"]) == (
        "planned",
        "CAP-NAVY",
        "ATH1",
        "SKG1",
    )
    assert created["Location"].endswith(f"/transfers/{transfer['id']}/")
    assert figures("ATH1", "CAP-NAVY") == (10, 0)  # planned: nothing moved
    replay = wms.post("/api/v1/inventory/transfers/", body, format="json", HTTP_IDEMPOTENCY_KEY="t-1")
    assert replay.json() == transfer and replay["Idempotent-Replayed"] == "true"

    shipped = wms.post(f"/api/v1/inventory/transfers/{transfer['id']}/ship/")
    assert shipped.status_code == 200 and shipped.json()["status"] == "in_transit"
    assert figures("ATH1", "CAP-NAVY") == (6, 0) and figures("SKG1", "CAP-NAVY") == (0, 4)
    assert wms.post(f"/api/v1/inventory/transfers/{transfer['id']}/ship/").status_code == 409
    assert wms.post(f"/api/v1/inventory/transfers/{transfer['id']}/cancel/").status_code == 409

    received = wms.post(f"/api/v1/inventory/transfers/{transfer['id']}/receive/")
    assert received.status_code == 200 and received.json()["status"] == "received"
    assert figures("SKG1", "CAP-NAVY") == (4, 0)
    kinds = list(StockMovement.objects.filter(reference=str(transfer["id"])).values_list("kind", flat=True))
    assert sorted(kinds) == ["transfer_in", "transfer_out", "transfer_out"]
    from inventory.selectors import stock_drifts

    assert stock_drifts() == []
    listed = wms.get("/api/v1/inventory/transfers/", {"status": "received", "warehouse": "skg1"}).json()
    assert [t["id"] for t in listed["results"]] == [transfer["id"]]


def test_a_transfer_sent_at_once_takes_only_free_units_and_a_planned_one_can_be_dropped(
    wms, houses, products
):
    stock.stock_receive(
        warehouse=houses[0], product=Product.objects.get(sku="CAP-NAVY"), quantity=3, actor="t"
    )
    too_many = {
        "sku": "CAP-NAVY",
        "from_warehouse": "ATH1",
        "to_warehouse": "SKG1",
        "quantity": 5,
        "ship": True,
    }
    refused = wms.post("/api/v1/inventory/transfers/", too_many, format="json")
    assert refused.status_code == 400 and "3 units not promised" in str(refused.json()["error"]["details"])
    assert not wms.get("/api/v1/inventory/transfers/").json()["results"]  # nothing half-written
    planned = wms.post(
        "/api/v1/inventory/transfers/", too_many | {"ship": False, "quantity": 2}, format="json"
    )
    cancelled = wms.post(f"/api/v1/inventory/transfers/{planned.json()['id']}/cancel/")
    assert cancelled.json()["status"] == "cancelled"
    assert figures("ATH1", "CAP-NAVY") == (3, 0)


def test_a_bad_transfer_lists_every_problem(wms, api, houses, products):
    body = {"sku": "NOPE", "from_warehouse": "ATH1", "to_warehouse": "XXX", "quantity": 0}
    response = wms.post("/api/v1/inventory/transfers/", body, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {"sku", "to_warehouse", "quantity"}
    assert api.post("/api/v1/inventory/transfers/", body, format="json").status_code == 403  # a channel key
    assert wms.get("/api/v1/inventory/transfers/99999/").status_code == 404


def test_a_count_csv_with_lone_carriage_returns_is_read_and_a_broken_one_is_a_400(wms, houses, products):
    # old spreadsheet exports end lines with a lone \r: rows, not a server error (found by bin/fuzz-api)
    response = wms.generic(
        "POST",
        "/api/v1/inventory/counts/",
        "warehouse,sku,quantity\rATH1,CAP-NAVY,7\r",
        content_type="text/csv",
    )
    assert response.status_code == 200, response.json()
    assert on_hand("ATH1", "CAP-NAVY") == 7
    response = wms.generic(
        "POST",
        "/api/v1/inventory/counts/?full=true",
        b"\xf2\xbf\xaf\xbf\r\\\xc2\xb6U\x1b\x1d\x13\xc3\xb6",
        content_type="text/csv",
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"header": ["Missing column(s): quantity, sku, warehouse."]}
