"""Idempotency-Key on order intake, including real concurrent requests on separate connections."""

import threading

import psycopg
import pytest
from django.db import connection, connections

from oms.idempotency import idempotency_lock_id
from oms.models import IdempotencyRecord
from orders.models import Order, OrderEvent
from tests.conftest import api_client_for
from tests.factories import order_payload

URL = "/api/v1/orders/"


@pytest.mark.django_db
def test_same_key_same_body_replays_the_stored_response(api, products):
    first = api.post(URL, order_payload(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first
    again = api.post(URL, order_payload(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Order.objects.count() == 1
    assert OrderEvent.objects.count() == 1


@pytest.mark.django_db
def test_same_key_other_body_is_422(api, products):
    assert api.post(URL, order_payload(), format="json", HTTP_IDEMPOTENCY_KEY="k-1").status_code == 201
    other = api.post(URL, order_payload("WEB-2"), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert Order.objects.count() == 1


@pytest.mark.django_db
def test_keys_belong_to_their_client(api, other_api, products):
    assert api.post(URL, order_payload(), format="json", HTTP_IDEMPOTENCY_KEY="k-1").status_code == 201
    theirs = other_api.post(URL, order_payload(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs
    assert Order.objects.count() == 2


@pytest.mark.django_db
def test_failed_request_leaves_the_key_free(api, products):
    bad = order_payload(lines=[{"sku": "NOPE", "quantity": 1, "unit_price": "1.00"}])
    assert api.post(URL, bad, format="json", HTTP_IDEMPOTENCY_KEY="k-1").status_code == 400
    assert IdempotencyRecord.objects.count() == 0
    # nothing was stored for the refused request, so the corrected one goes through under the same key
    assert api.post(URL, order_payload(), format="json", HTTP_IDEMPOTENCY_KEY="k-1").status_code == 201
    assert Order.objects.count() == 1


@pytest.mark.django_db
def test_invalid_key_header(api, products):
    response = api.post(URL, order_payload(), format="json", HTTP_IDEMPOTENCY_KEY="x" * 300)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["details"]
    assert Order.objects.count() == 0


def _database_dsn() -> str:
    db = connection.settings_dict
    return f"host={db['HOST']} port={db['PORT'] or 5432} user={db['USER']} dbname={db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_same_key_while_the_first_is_running_is_409(channel_key, products):
    key, raw = channel_key
    # Another connection holds the key's lock, exactly as a first request does while it runs.
    with psycopg.connect(_database_dsn()) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", [idempotency_lock_id(f"apikey:{key.pk}", "k-1")])
        response = api_client_for(raw).post(URL, order_payload(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        holder.rollback()
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_in_progress"
    assert Order.objects.count() == 0
    retry = api_client_for(raw).post(URL, order_payload(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert retry.status_code == 201


def _race(raw_key: str, bodies: list[dict], headers: list[dict]) -> list:
    barrier = threading.Barrier(len(bodies))
    results: list = [None] * len(bodies)

    def send(index: int) -> None:
        client = api_client_for(raw_key)
        barrier.wait()
        try:
            response = client.post(URL, bodies[index], format="json", **headers[index])
            results[index] = (response.status_code, response.json(), response.get("Idempotent-Replayed"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_same_key_creates_one_order(channel_key, products):
    _, raw = channel_key
    results = _race(raw, [order_payload()] * 8, [{"HTTP_IDEMPOTENCY_KEY": "race-1"}] * 8)
    assert Order.objects.count() == 1
    order_id = Order.objects.get().pk
    created = [r for r in results if r[0] == 201 and r[2] is None]
    assert len(created) == 1
    for status, body, replayed in (r for r in results if r is not created[0]):
        # every other request either saw the first in flight (409) or got its stored response
        assert (status == 409 and body["error"]["code"] == "idempotency_in_progress") or (
            status == 201 and replayed == "true" and body["id"] == order_id
        ), (status, body)


@pytest.mark.django_db(transaction=True)
def test_concurrent_same_external_id_without_keys(channel_key, products):
    _, raw = channel_key
    results = _race(raw, [order_payload("WEB-RACE")] * 6, [{}] * 6)
    assert Order.objects.count() == 1
    order_id = Order.objects.get().pk
    statuses = sorted(r[0] for r in results)
    assert statuses == [201, 409, 409, 409, 409, 409]
    for status, body, _ in results:
        if status == 409:
            assert body["error"]["code"] == "duplicate_external_id"
            assert body["error"]["details"]["existing_order_id"] == order_id
