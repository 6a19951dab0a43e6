"""A channel sees a person only as it described them itself: what another channel sent about the same
person (deduplicated into one customer inside the OMS) never shows in its responses, nor on the
public tracking page of its orders."""

import pytest

from orders.models import Customer, Order
from routing import services as routing
from shipments import services as fulfilment
from tests.factories import order_payload
from tests.test_fulfilment import OPS, network, pack, pick_everything  # noqa: F401 (fixture)
from tracking import services as tracking

pytestmark = pytest.mark.django_db

MARIA = {"email": "maria.p@example.gr", "phone": "+30 691 234 5678", "first_name": "Maria", "last_name": "P"}


def post(client, external_id, customer, **overrides):
    body = order_payload(external_id, **overrides)
    body["customer"] = customer
    response = client.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def every_view_of(client, order_id) -> list[dict]:
    """The customer as each endpoint that shows one gives it to the channel."""
    views = [client.get(f"/api/v1/orders/{order_id}/").json()["customer"]]
    listed = client.get("/api/v1/orders/").json()["results"]
    views += [o["customer"] for o in listed if o["id"] == order_id]
    patched = client.patch(
        f"/api/v1/orders/{order_id}/", {"lines": [{"line_number": 1, "quantity": 1}]}, format="json"
    )
    assert patched.status_code == 200, patched.json()
    views.append(patched.json()["customer"])
    cancelled = client.post(f"/api/v1/orders/{order_id}/cancel/", {"reason": "test"}, format="json")
    assert cancelled.status_code == 200, cancelled.json()
    views.append(cancelled.json()["customer"])
    assert len(views) == 4
    return views


def test_a_channel_sending_only_an_email_learns_nothing_else_about_the_person(api, other_api, products):
    post(other_api, "MP-1", MARIA)
    created = post(api, "W-1", {"email": "Maria.P@example.gr"})
    expected = {"email": "maria.p@example.gr", "phone": None, "first_name": "", "last_name": ""}
    assert created["customer"] == expected
    assert every_view_of(api, created["id"]) == [expected] * 4
    # inside the OMS it is one person, who now has the details both channels gave
    assert Customer.objects.count() == 1
    assert Order.objects.get(pk=created["id"]).customer.phone == "+306912345678"


def test_a_channel_sending_only_a_phone_learns_no_email_or_name(api, other_api, products):
    post(other_api, "MP-1", MARIA)
    created = post(api, "W-1", {"phone": "691 234 5678"})
    expected = {"email": None, "phone": "+306912345678", "first_name": "", "last_name": ""}
    assert created["customer"] == expected
    assert every_view_of(api, created["id"]) == [expected] * 4


def test_each_channel_keeps_seeing_what_it_sent_after_the_other_sends_more(api, other_api, products):
    mine = post(api, "W-1", {"email": "maria.p@example.gr", "first_name": "Mary"})
    post(other_api, "MP-1", MARIA)  # gives a phone and another spelling of the name
    shown = api.get(f"/api/v1/orders/{mine['id']}/").json()["customer"]
    assert shown == {"email": "maria.p@example.gr", "phone": None, "first_name": "Mary", "last_name": ""}
    theirs = other_api.get("/api/v1/orders/").json()["results"][0]["customer"]
    assert theirs == {
        "email": "maria.p@example.gr",
        "phone": "+306912345678",
        "first_name": "Maria",
        "last_name": "P",
    }


def test_no_internal_customer_id_is_shown(api, other_api, products):
    """The same id for the same person in two channels would tell them they share a customer."""
    created = post(api, "W-1", MARIA)
    assert "id" not in created["customer"]
    assert "id" not in api.get(f"/api/v1/orders/{created['id']}/").json()["customer"]


def test_the_tracking_page_of_an_order_greets_by_the_name_its_channel_gave(
    api,
    other_api,
    network,  # noqa: F811 (fixture)
):
    post(other_api, "MP-1", MARIA)
    created = post(api, "W-1", {"email": "maria.p@example.gr"})
    order = Order.objects.get(pk=created["id"])
    routing.route_order(order_id=order.pk)
    pick_list = fulfilment.wave_release(warehouse_id=network["ATH"].pk, actor=OPS)
    fulfilment.pick_list_confirm(pick_list_id=pick_list.pk, picked=pick_everything(pick_list), actor=OPS)
    box = pack(order, network["ATH"], {"CAP-NAVY": 3, "TSHIRT-BLK-M": 2, "HOODIE-GRY-L": 1})
    shipment = fulfilment.shipment_create(package_ids=[box.pk], actor=OPS)
    fulfilment.shipment_buy_labels(shipment_id=shipment.pk, actor=OPS)
    fulfilment.shipment_hand_over(shipment_id=shipment.pk, actor=OPS)
    tracking.tracking_start(shipment_id=shipment.pk)

    url = api.get(f"/api/v1/orders/{order.pk}/").json()["tracking_url"]
    token = url.rstrip("/").rsplit("/", 1)[1]
    public = api.__class__().get(f"/api/v1/track/{token}/")
    assert public.status_code == 200
    assert public.json()["first_name"] == "there"
    assert "Maria" not in public.content.decode()
    page = api.__class__().get(f"/track/{token}/")
    assert "Maria" not in page.content.decode()
