"""PostgreSQL gone in the middle of a request (its backend terminated, as a restart does): the caller
gets 503 with Retry-After, not a server error; nothing of the request is saved; the process recovers
on its own, and the channel's retry with the same Idempotency-Key creates the order exactly once."""

import psycopg
import pytest
from django.db import connection

from orders.models import Customer, Order
from tests.factories import order_payload

pytestmark = pytest.mark.django_db(transaction=True)


def terminate(pid: int) -> None:
    """What a PostgreSQL restart does to one session, from another connection."""
    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        dbname=settings["NAME"],
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


def cut_after_the_order_lines(execute, sql, params, many, context):
    """The order, its customer, address and lines are written in the request's transaction: then the
    connection goes."""
    result = execute(sql, params, many, context)
    if sql.lstrip().startswith('INSERT INTO "orders_orderline"'):
        terminate(context["connection"].connection.info.backend_pid)
    return result


def test_an_order_cut_off_mid_transaction_is_503_saves_nothing_and_its_retry_lands_once(api, products):
    assert api.get("/api/v1/orders/").status_code == 200  # the process holds its connection
    body = order_payload("CUT-1")
    with connection.execute_wrapper(cut_after_the_order_lines):
        cut = api.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="cut-1")
    assert cut.status_code == 503, cut.content
    assert cut["Retry-After"] == "5"
    assert cut.json()["error"]["code"] == "database_unavailable"
    # the rows were written, then their transaction died with the connection: nothing is left
    assert Order.objects.filter(external_id="CUT-1").count() == 0
    assert not Customer.objects.filter(email=body["customer"]["email"].strip().lower()).exists()
    retried = api.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="cut-1")
    assert retried.status_code == 201, retried.content
    again = api.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="cut-1")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert Order.objects.filter(external_id="CUT-1").count() == 1


def test_a_dashboard_page_on_a_dead_connection_says_so_and_the_next_one_works(ops_client):
    assert ops_client.get("/dashboard/orders/").status_code == 200
    terminate(connection.connection.info.backend_pid)
    page = ops_client.get("/dashboard/orders/")
    assert page.status_code == 503 and page["Retry-After"] == "5"
    assert "The database did not answer; nothing was saved." in page.content.decode()
    assert ops_client.get("/dashboard/orders/").status_code == 200
