"""One customer per person across channels: found by e-mail or E.164 phone, created if new."""

from functools import cache

from django.db import connection
from django.utils import timezone

from oms.errors import ValidationFailed
from oms.sql import columns_sql, hot_cursor, objects_from_rows, select_rows
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
    if connection.vendor == "postgresql":
        created, matches = _customer_insert_or_match(
            email=email, phone=phone, first_name=first_name, last_name=last_name
        )
        if created is not None:
            return created
    else:
        matches = _customers_matching(email, phone)
        if not matches:
            created = _customer_insert(email=email, phone=phone, first_name=first_name, last_name=last_name)
            if created is not None:
                return created
    if not matches:
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


@cache
def _insert_or_match_sql() -> str:
    table = connection.ops.quote_name(Customer._meta.db_table)
    columns = columns_sql(Customer, CUSTOMER_FIELDS)
    return (
        f"WITH created AS (INSERT INTO {table} (email, phone, first_name, last_name, created_at, updated_at) "
        f"VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING {columns}) "
        f"SELECT true AS created, {columns} FROM created "
        f"UNION ALL SELECT false AS created, {columns} FROM {table} WHERE email = %s OR phone = %s"
    )


def _customer_insert_or_match(
    *, email: str | None, phone: str | None, first_name: str, last_name: str
) -> tuple[Customer | None, list[Customer]]:
    """Insert the customer, or find who holds the e-mail or phone: one round trip (PostgreSQL).

    The statement sees the table as it was when it started, without its own insert: either the insert
    happened (nobody held either) or it met a conflict and the customers holding them are returned.
    Neither, when a concurrent transaction inserted the same person after the statement started.
    """
    now = timezone.now()
    with hot_cursor(connection) as cursor:
        cursor.execute(_insert_or_match_sql(), [email, phone, first_name, last_name, now, now, email, phone])
        rows = cursor.fetchall()
    created = [row[1:] for row in rows if row[0]]
    found = objects_from_rows(Customer, CUSTOMER_FIELDS, [row[1:] for row in rows if not row[0]])
    if created:
        return objects_from_rows(Customer, CUSTOMER_FIELDS, created)[0], []
    return None, found


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
