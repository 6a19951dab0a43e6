"""One person ordering from two channels is one customer (inside the OMS: channels never see that)."""

import pytest

from orders.models import Customer, Order
from tests.factories import order_payload

pytestmark = pytest.mark.django_db


def customer_of(client, external_id, **customer):
    """The customer the order was filed under (its internal id), with the details the channel was shown."""
    body = order_payload(external_id)
    body["customer"] = customer
    response = client.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 201, response.json()
    order_id = response.json()["id"]
    return {"id": Order.objects.get(pk=order_id).customer_id, **response.json()["customer"]}


def test_same_email_in_other_case_and_spaces_across_channels(api, other_api, products):
    a = customer_of(api, "W1", email="Maria.P@Example.GR", first_name="Maria")
    b = customer_of(other_api, "M1", email="  maria.p@example.gr ")
    assert a["id"] == b["id"]
    assert Customer.objects.count() == 1


def test_same_phone_in_national_and_international_form(api, other_api, products):
    # the order's address is Greek, so a national number is read as Greek
    a = customer_of(api, "W1", phone="691 234 5678", first_name="Maria")
    b = customer_of(other_api, "M1", phone="+30 6912345678")
    c = customer_of(other_api, "M2", phone="0030-691-234-5678")
    assert a["id"] == b["id"] == c["id"]
    assert a["phone"] == "+306912345678"


def test_phone_match_learns_the_email(api, other_api, products):
    by_phone = customer_of(api, "W1", phone="+306912345678")
    with_email = customer_of(
        other_api, "M1", phone="+306912345678", email="maria@example.gr", first_name="Maria"
    )
    assert with_email["id"] == by_phone["id"]
    customer = Customer.objects.get()
    assert (customer.email, customer.phone, customer.first_name) == (
        "maria@example.gr",
        "+306912345678",
        "Maria",
    )
    by_email_only = customer_of(api, "W2", email="MARIA@example.gr")
    assert by_email_only["id"] == by_phone["id"]


def test_email_wins_when_email_and_phone_point_at_two_people(api, products):
    maria = customer_of(api, "W1", email="maria@example.gr")
    nikos = customer_of(api, "W2", phone="+306945678901")
    both = customer_of(api, "W3", email="maria@example.gr", phone="+306945678901")
    assert both["id"] == maria["id"] != nikos["id"]
    # the phone stays with the person who had it
    assert Customer.objects.get(pk=maria["id"]).phone is None
    assert Customer.objects.count() == 2


def test_different_people_stay_apart(api, products):
    a = customer_of(api, "W1", email="a@example.gr")
    b = customer_of(api, "W2", email="b@example.gr")
    assert a["id"] != b["id"]


@pytest.mark.django_db(transaction=True)
def test_one_new_person_ordering_on_many_connections_at_once_is_one_customer(channel_key, products):
    from tests.test_idempotency import _race

    _, raw = channel_key
    bodies = []
    for n in range(8):
        body = order_payload(f"RACE-{n}")
        # Half give the e-mail only, half the e-mail and a phone that nobody holds yet.
        body["customer"] = {"email": "new.person@example.gr", "first_name": "Nia"} | (
            {"phone": "+30 691 000 0001"} if n % 2 else {}
        )
        bodies.append(body)
    results = _race(raw, bodies, [{}] * len(bodies))
    assert [status for status, _, _ in results] == [201] * len(bodies), results
    assert len({Order.objects.get(pk=body["id"]).customer_id for _, body, _ in results}) == 1
    customer = Customer.objects.get()
    assert (customer.email, customer.phone) == ("new.person@example.gr", "+306910000001")
