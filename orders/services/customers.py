"""One customer per person across channels: found by e-mail or E.164 phone, created if new."""

from django.db import connection
from django.utils import timezone

from oms.errors import ValidationFailed
from oms.sql import hot_cursor, select_rows
from orders.models import (
    Customer,
)
from orders.validation import (
    normalize_email,
)

# ------------------------------------------------------------------------------------------- customers


def customer_resolve(
    *, email: str | None, phone: str | None, first_name: str = "", last_name: str = ""
) -> Customer:
    """The one customer with this e-mail or phone, created if new (to be called inside a transaction).

    An e-mail match wins over a phone match; contact details the customer lacked are filled in when
    no one else holds them.
    """
    email, phone = normalize_email(email), phone or None
    if not email and not phone:
        raise ValidationFailed(
            "A customer needs an e-mail or a phone.", details={"customer": ["Give an e-mail or a phone."]}
        )
    matches = _customers_matching(email, phone)
    if not matches:
        created = _customer_insert(email=email, phone=phone, first_name=first_name, last_name=last_name)
        if created is not None:
            return created
        # Another transaction created the same person since we looked: use theirs.
        matches = _customers_matching(email, phone)
    customer = next((c for c in matches if email and c.email == email), matches[0])
    changed = []
    if email and not customer.email and not any(c.email == email for c in matches):
        customer.email = email
        changed.append("email")
    if phone and not customer.phone and not any(c.phone == phone for c in matches):
        customer.phone = phone
        changed.append("phone")
    if first_name and not customer.first_name:
        customer.first_name, customer.last_name = first_name, last_name
        changed += ["first_name", "last_name"]
    if changed:
        customer.save(update_fields=[*changed, "updated_at"])
    return customer


CUSTOMER_FIELDS = ("id", "email", "phone", "first_name", "last_name", "created_at", "updated_at")


def _customers_matching(email: str | None, phone: str | None) -> list[Customer]:
    # At most two: one holding the e-mail and another holding the phone (both are unique).
    if email and phone:
        return select_rows(Customer, CUSTOMER_FIELDS, "email = %s OR phone = %s", [email, phone])
    if email:
        return select_rows(Customer, CUSTOMER_FIELDS, "email = %s", [email])
    return select_rows(Customer, CUSTOMER_FIELDS, "phone = %s", [phone])


def _customer_insert(
    *, email: str | None, phone: str | None, first_name: str, last_name: str
) -> Customer | None:
    """Insert a customer unless a concurrent transaction holds the e-mail or phone; one round trip.

    ``ON CONFLICT DO NOTHING ... RETURNING`` is what the ORM cannot say in one statement (PostgreSQL,
    and SQLite 3.35+); a conflict returns no row instead of aborting the transaction.
    """
    now = timezone.now()
    table = connection.ops.quote_name(Customer._meta.db_table)
    with hot_cursor(connection) as cursor:
        cursor.execute(
            f"INSERT INTO {table} (email, phone, first_name, last_name, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
            [email, phone, first_name, last_name, now, now],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return Customer(
        id=row[0],
        email=email,
        phone=phone,
        first_name=first_name,
        last_name=last_name,
        created_at=now,
        updated_at=now,
    )
