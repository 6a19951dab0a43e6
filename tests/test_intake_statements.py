"""Order intake issues a fixed number of SQL statements whatever the number of lines."""

import pytest
import sqlparse
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import ProductFactory, order_payload

pytestmark = pytest.mark.django_db

# Idempotency lock and lookup; products; customer (inserted, or found when the e-mail or phone is
# taken: one statement); address and order in one statement (the order insert also detects a duplicate
# external_id); lines (one bulk insert); history row; domain event; idempotency record. The API key
# comes from a cache after the first call.
INTAKE_STATEMENTS = 9
# The lock travels with the lookup, and the history row, the domain event and the idempotency record
# go out together at the end (oms.sql.deferred_inserts): six round trips.
INTAKE_ROUND_TRIPS = 6


def intake(api, external_id: str, line_count: int, email: str) -> list[str]:
    """The round trips of one order through the API, each as the SQL text sent."""
    body = order_payload(
        external_id,
        lines=[{"sku": f"BULK-{n}", "quantity": 1, "unit_price": "2.50"} for n in range(line_count)],
    )
    body["customer"] = {"email": email}
    with CaptureQueriesContext(connection) as captured:
        response = api.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY=external_id)
    assert response.status_code == 201, response.json()
    return [q["sql"] for q in captured.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]


def statements(round_trips: list[str]) -> list[str]:
    return [s for sql in round_trips for s in sqlparse.split(sql)]


def test_statement_count_does_not_grow_with_lines(api, channel):
    ProductFactory.reset_sequence()
    for n in range(50):
        ProductFactory(sku=f"BULK-{n}")
    # the first call reads the key into the cache and records its last use (once per few minutes)
    intake(api, "WARM-UP", 1, "warm@example.com")
    one = intake(api, "ONE", 1, "one@example.com")
    fifty = intake(api, "FIFTY", 50, "fifty@example.com")
    for trips in (one, fifty):
        assert len(trips) == INTAKE_ROUND_TRIPS, "\n".join(trips)
        assert len(statements(trips)) == INTAKE_STATEMENTS, "\n".join(statements(trips))
    # a returning customer is found by the same statement
    again = intake(api, "AGAIN", 50, "one@example.com")
    assert (len(again), len(statements(again))) == (INTAKE_ROUND_TRIPS, INTAKE_STATEMENTS)
    # the rows sent at the end are there, and the outbox row is the order's
    from oms.models import DomainEvent, IdempotencyRecord
    from orders.models import Order, OrderEvent

    order = Order.objects.get(external_id="AGAIN")
    assert OrderEvent.objects.filter(order=order, kind="created").count() == 1
    assert DomainEvent.objects.filter(name="order.received", aggregate_id=str(order.pk)).count() == 1
    assert IdempotencyRecord.objects.filter(key="AGAIN").count() == 1
