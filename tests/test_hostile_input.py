"""Hostile input never gets a server error: NUL bytes, odd time zones, deep nesting, oversized values and
bodies, bad cursors and empty parameters each get a 4xx naming the problem, and nothing is written."""

import json

import pytest
from django.utils import timezone

from oms.models import DomainEvent
from orders import services
from orders.models import Order
from shipments.carriers import sandbox
from shipments.models import Carrier
from tests.conftest import api_client_for
from tests.factories import make_warehouse, order_payload
from tracking.models import WebhookDelivery

pytestmark = pytest.mark.django_db

SECRET = "whsec-hostile"


@pytest.fixture
def inventory_api(db):
    return api_client_for(services.api_key_create(name="WMS", scopes=["inventory", "catalog"])[1])


@pytest.fixture
def sandbox_carrier(monkeypatch):
    monkeypatch.setenv("SANDBOX_WEBHOOK_SECRET", SECRET)
    return Carrier.objects.create(
        code="sandbox",
        name="Sandbox Post",
        adapter="sandbox",
        options={"webhook_secret_env": "SANDBOX_WEBHOOK_SECRET"},
    )


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]


# ------------------------------------------------------------------------------------- NUL characters


@pytest.mark.parametrize(
    ("client_name", "url", "field"),
    [
        ("api", "/api/v1/inventory/availability/?sku=%00", "sku"),
        ("inventory_api", "/api/v1/fulfilment/pick-lists/?warehouse=A%00", "warehouse"),
        ("api", "/api/v1/orders/?external_id=W%00", "external_id"),
        ("client", "/api/v1/track/%00/", "path"),
        ("client", "/api/v1/track/abc%00def/", "path"),
    ],
)
def test_a_nul_character_in_an_api_path_or_query_is_a_400_naming_it(
    request, client_name, url, field, products
):
    client = request.getfixturevalue(client_name)
    error = error_of(client.get(url), 400)
    assert error["code"] == "invalid_characters"
    assert field in error["details"], error


@pytest.mark.parametrize(
    "url",
    [
        "/track/abc%00/",
        "/dashboard/inventory/?q=%00",
        "/dashboard/inventory/%00/",
        "/dashboard/orders/?q=%00",
    ],
)
def test_a_nul_character_in_a_page_address_is_a_400_page(ops_client, url):
    response = ops_client.get(url)
    assert response.status_code == 400
    assert "not allowed" in response.content.decode()


# ---------------------------------------------------------------------------------------- time zones


@pytest.mark.parametrize("offset_minutes", [16 * 60, -(15 * 60 + 59), 23 * 60 + 59])
def test_an_offset_postgresql_cannot_hold_is_read_as_the_instant_it_names(api, products, offset_minutes):
    created = api.post("/api/v1/orders/", order_payload("TZ-1"), format="json").json()
    a_month_ago = timezone.now() - timezone.timedelta(days=30)
    since = a_month_ago.astimezone(timezone.get_fixed_timezone(offset_minutes)).isoformat()
    response = api.get("/api/v1/orders/", {"updated_since": since})
    assert response.status_code == 200, response.content
    assert [o["id"] for o in response.json()["results"]] == [created["id"]]


def test_an_order_placed_at_an_odd_offset_is_stored_in_utc(api, products):
    placed = (timezone.now() - timezone.timedelta(days=1)).replace(microsecond=0)
    text = placed.astimezone(timezone.get_fixed_timezone(16 * 60)).isoformat()
    response = api.post("/api/v1/orders/", order_payload("TZ-2", placed_at=text), format="json")
    assert response.status_code == 201, response.content
    assert Order.objects.get(pk=response.json()["id"]).placed_at == placed


# ----------------------------------------------------------------------------------- deep nesting


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize(
    ("client_name", "url"),
    [
        ("api", "/api/v1/orders/"),
        ("inventory_api", "/api/v1/products/bulk/"),
        ("inventory_api", "/api/v1/inventory/receipts/bulk/"),
        ("inventory_api", "/api/v1/inventory/counts/"),
    ],
)
@pytest.mark.parametrize("depth", [33, 100_000])
def test_deeply_nested_json_is_refused(request, client_name, url, depth):
    client = request.getfixturevalue(client_name)
    response = client.post(url, nested(depth), content_type="application/json")
    error = error_of(response, 400)
    assert error["code"] == "malformed_json"
    assert "nested" in error["message"]


def test_nesting_within_the_limit_is_read_as_usual(api, products):
    body = order_payload("DEEP-OK")
    body["customer"]["first_name"] = json.loads(nested(30).decode())
    error = error_of(api.post("/api/v1/orders/", body, format="json"), 400)
    assert error["code"] == "validation_error"
    assert "customer.first_name" in error["details"]


# ------------------------------------------------------------------------------------ value sizes


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b["customer"].update(email="m" * 250 + "@ex.gr"), "customer.email"),
        (lambda b: b["customer"].update(first_name="M" * 81), "customer.first_name"),
        (
            lambda b: b["shipping_address"].update(phone="+30 691 234 5678 000000000000"),
            "shipping_address.phone",
        ),
        (lambda b: b.update(external_id="X" * 101), "external_id"),
    ],
)
def test_values_longer_than_their_columns_are_a_400_naming_the_field(api, products, change, field):
    body = order_payload("LONG-1")
    change(body)
    error = error_of(api.post("/api/v1/orders/", body, format="json"), 400)
    assert field in error["details"], error
    assert not Order.objects.exists()


def test_a_body_over_the_limit_is_a_413_naming_the_limit(api, products):
    from django.conf import settings

    body = b'{"external_id": "' + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10) + b'"}'
    error = error_of(api.post("/api/v1/orders/", body, content_type="application/json"), 413)
    assert error["code"] == "body_too_large"
    assert f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE // (1024 * 1024)} MiB" in error["message"]
    assert not Order.objects.exists()


# ---------------------------------------------------------------------------------- list parameters


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"updated_since": ""}, "updated_since"),
        ({"updated_since": "yesterday"}, "updated_since"),
        ({"status": ""}, "status"),
        ({"external_id": ""}, "external_id"),
        ({"page_size": "null"}, "page_size"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "201"}, "page_size"),
    ],
)
def test_bad_list_parameters_are_a_400_naming_them(api, query, field):
    error = error_of(api.get("/api/v1/orders/", query), 400)
    assert field in error["details"], error


def test_bad_catalog_list_parameters_are_a_400(inventory_api):
    assert "cursor" in error_of(inventory_api.get("/api/v1/products/", {"cursor": "x"}), 400)["details"]
    assert (
        "page_size" in error_of(inventory_api.get("/api/v1/products/", {"page_size": "-1"}), 400)["details"]
    )


def test_good_list_parameters_still_work(api, products):
    for n in range(3):
        api.post("/api/v1/orders/", order_payload(f"PAGE-{n}"), format="json")
    first = api.get("/api/v1/orders/", {"page_size": "2"}).json()
    assert len(first["results"]) == 2
    rest = api.get(first["next"]).json()
    assert len(rest["results"]) == 1


# ------------------------------------------------------------------------------------------ webhooks


def signed(client, body: bytes):
    signature = sandbox.webhook_signature(body, SECRET, int(timezone.now().timestamp()))
    return client.post(
        "/api/v1/tracking/webhooks/sandbox/",
        body,
        content_type="application/json",
        HTTP_X_SANDBOX_SIGNATURE=signature,
    )


def test_a_signed_webhook_with_a_nul_in_its_id_is_refused_and_stores_nothing(client, sandbox_carrier):
    body = json.dumps({"id": "evt\u0000x", "tracking_number": "SBX1", "events": []}).encode()
    error = error_of(signed(client, body), 400)
    assert "id" in error["details"]
    assert not WebhookDelivery.objects.exists()


def test_a_signed_deeply_nested_webhook_is_refused_and_stores_nothing(client, sandbox_carrier):
    error = error_of(signed(client, nested(100_000)), 400)
    assert error["code"] == "webhook_unreadable"
    assert not WebhookDelivery.objects.exists()


def test_nothing_is_written_by_refused_orders(api, products):
    make_warehouse("ATH")
    for body in (nested(100_000), b'{"external_id": "A\\u0000"}'):
        assert api.post("/api/v1/orders/", body, content_type="application/json").status_code == 400
    assert not Order.objects.exists() and not DomainEvent.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/orders/99999999999999999999999/",
        "/api/v1/orders/99999999999999999999999/cancel/",
        "/api/v1/fulfilment/shipments/99999999999999999999999/labels/",
        "/api/v1/fulfilment/pick-lists/99999999999999999999999/confirm/",
    ],
)
def test_an_id_beyond_any_database_integer_is_not_found(api, inventory_api, url):
    client = api if "/orders/" in url else inventory_api
    response = (
        client.get(url) if url.endswith("/99999999999999999999999/") else client.post(url, {}, format="json")
    )
    assert response.status_code in (400, 404), response.content
    error_of(response, response.status_code)


def test_every_shape_and_rule_problem_is_listed_at_once(api, products):
    """A quantity of 0 and a bad currency (the request's shapes) with an unknown country and an unknown
    SKU (the service's rules): one 400 with all four."""
    body = order_payload("MERGE-1", currency="ZZZ")
    body["shipping_address"]["country"] = "XX"
    body["lines"][0]["quantity"] = 0
    body["lines"][1]["sku"] = "NO-SUCH-SKU"
    error = error_of(api.post("/api/v1/orders/", body, format="json"), 400)
    assert {"lines.0.quantity", "currency", "shipping_address.country", "lines.1.sku"} <= set(
        error["details"]
    )
    assert not Order.objects.exists()


def test_a_stock_batch_lists_shape_and_rule_problems_at_once(inventory_api, products):
    make_warehouse("ATH1")
    rows = [
        {"warehouse": "ATH1", "sku": "CAP-NAVY", "quantity": "five"},
        {"warehouse": "ATH1", "sku": "NO-SUCH-SKU", "quantity": 5},
        {"warehouse": "NOWHERE", "sku": "CAP-NAVY", "quantity": 5},
    ]
    error = error_of(
        inventory_api.post("/api/v1/inventory/receipts/bulk/", {"rows": rows}, format="json"), 400
    )
    assert set(error["details"]) == {"rows.0.quantity", "rows.1.sku", "rows.2.warehouse"}


def test_strings_integers_and_booleans_are_read_only_as_such(api, inventory_api, products):
    body = order_payload("TYPES-1")
    body["external_id"] = 1001
    body["lines"][0]["quantity"] = "2"
    body["lines"][0]["unit_price"] = 19.9
    error = error_of(api.post("/api/v1/orders/", body, format="json"), 400)
    assert set(error["details"]) == {"external_id", "lines.0.quantity", "lines.0.unit_price"}
    products_body = {"products": [{"sku": "NEW-1", "name": "New", "is_active": 0}]}
    error = error_of(inventory_api.post("/api/v1/products/bulk/", products_body, format="json"), 400)
    assert set(error["details"]) == {"products.0.is_active"}


def test_unpaired_surrogates_are_refused(api, products):
    body = json.dumps(order_payload("SURR-1")).replace('"Maria"', '"Mar\\udaabia"', 1).encode()
    error = error_of(api.post("/api/v1/orders/", body, content_type="application/json"), 400)
    assert "customer.first_name" in error["details"]
    assert not Order.objects.exists()
