"""Self-service returns on the tracking page: the link plus the order's e-mail or postcode opens them;
only delivered units inside the window are offered; the customer follows the return and prints its
label; nobody's personal data shows, and a wrong detail never says which part was wrong."""

from datetime import timedelta

import pytest

from returns.models import Return, ReturnStatus
from tests.returns_world import delivered_order, shipped_order
from tests.test_fulfilment import network  # noqa: F401 (fixture)
from tracking.models import TrackingLink

pytestmark = pytest.mark.django_db


def link(order) -> str:
    return f"/track/{TrackingLink.objects.get(order=order).token}/"


def test_the_tracking_page_offers_a_return_once_something_was_delivered(api, network, client):  # noqa: F811
    shipped, _ = shipped_order(api, network, "R-ON-ITS-WAY")
    assert "Send something back" not in client.get(link(shipped)).content.decode()
    order = delivered_order(api, network, "R-HERE")
    page = client.get(link(order)).content.decode()
    assert "Send something back" in page and f'href="{link(order)}returns/"' in page


def test_a_wrong_email_or_postcode_is_refused_without_saying_which(api, network, client):  # noqa: F811
    order = delivered_order(api, network)
    url = f"{link(order)}returns/"
    first = client.get(url)
    assert "E-mail or postcode" in first.content.decode() and "Papadopoulou" not in first.content.decode()
    # the link never leaves the site, yet the page's own forms keep their Origin (CSRF checks it)
    assert first["Referrer-Policy"] == "same-origin" and first["X-Robots-Tag"] == "noindex"
    for wrong in ("maria@example.gr", "104 35", ""):
        response = client.post(url, {"proof": wrong})
        assert response.status_code == 400
        assert "That does not match this order." in response.content.decode()
    assert client.post(url, {"proof": " 10434 "}).status_code == 302  # spaces do not matter
    page = client.get(url).content.decode()
    assert 'name="units-' in page
    assert "Papadopoulou" not in page and "Patision" not in page and "maria.p@example.gr" not in page


def test_guessing_is_stopped_after_five_tries(api, network, client):  # noqa: F811
    order = delivered_order(api, network)
    url = f"{link(order)}returns/"
    for n in range(5):
        assert client.post(url, {"proof": f"1000{n}"}).status_code == 400
    assert client.post(url, {"proof": "maria.p@example.gr"}).status_code == 429  # even the right one, for now


def test_the_customer_asks_back_follows_and_prints_the_label(api, network, client):  # noqa: F811
    order = delivered_order(api, network)
    url = f"{link(order)}returns/"
    client.post(url, {"proof": "Maria.P@example.gr"})
    cap = order.lines.get(sku="CAP-NAVY")
    hoodie = order.lines.get(sku="HOODIE-GRY-L")
    response = client.post(
        url,
        {
            f"units-{cap.pk}": "2",
            f"reason-{cap.pk}": "other",
            f"units-{hoodie.pk}": "0",
            "credit_method": "refund",
        },
        follow=True,
    )
    assert "Navy cap: Say why (&#x27;Other (please say why)&#x27;)." in response.content.decode().replace(
        cap.name, "Navy cap"
    )
    assert Return.objects.count() == 0
    response = client.post(url, {f"units-{cap.pk}": "1", f"reason-{cap.pk}": ""}, follow=True)
    assert f"{cap.name}: tell us why you send it back." in response.content.decode()
    response = client.post(
        url,
        {f"units-{cap.pk}": "2", f"reason-{cap.pk}": "damaged", "credit_method": "refund"},
    )
    ret = Return.objects.get()
    assert response["Location"] == f"{url}{ret.pk}/"
    assert (ret.source, ret.status) == ("customer", ReturnStatus.AUTHORISED)
    status = client.get(f"{url}{ret.pk}/").content.decode()
    assert "You can send it back" in status and ret.number in status and "Athens DC" in status
    assert "Free: the fault is ours." in status
    client.post(f"{url}{ret.pk}/label/")
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.LABEL_ISSUED
    pdf = client.get(f"{url}{ret.pk}/label.pdf")
    assert pdf["Content-Type"] == "application/pdf" and bytes(pdf.content).startswith(b"%PDF")
    # two of the three caps are on their way back: one is left to offer
    page = client.get(url).content.decode()
    cap_choices = page.split(f'name="units-{cap.pk}"')[1].split("</select>")[0]
    assert '<option value="1">' in cap_choices and '<option value="2">' not in cap_choices


def test_another_browser_or_another_order_sees_nothing(api, network, client):  # noqa: F811
    from django.test import Client

    order = delivered_order(api, network)
    other = delivered_order(api, network, "R-OTHER", customer={"email": "nikos@example.gr"})
    url = f"{link(order)}returns/"
    client.post(url, {"proof": "maria.p@example.gr"})
    cap = order.lines.get(sku="CAP-NAVY")
    client.post(url, {f"units-{cap.pk}": "1", f"reason-{cap.pk}": "damaged"})
    ret = Return.objects.get()
    stranger = Client()
    assert stranger.get(f"{url}{ret.pk}/")["Location"] == url  # must prove it first
    assert stranger.get(f"{url}{ret.pk}/label.pdf").status_code == 404
    # verified for one order, not for another's returns
    other_url = f"{link(other)}returns/"
    assert client.get(f"{other_url}{ret.pk}/")["Location"] == other_url
    client.post(other_url, {"proof": "nikos@example.gr"})
    assert client.get(f"{other_url}{ret.pk}/").status_code == 404


def test_out_of_the_window_nothing_is_offered(api, network, client, clock):  # noqa: F811
    order = delivered_order(api, network)
    url = f"{link(order)}returns/"
    clock.move_to(order.shipments.get().tracking.delivered_at + timedelta(days=31))
    client.post(url, {"proof": "104 34"})
    page = client.get(url).content.decode()
    assert 'name="units-' not in page and "the 30 days after delivery have passed" in page
