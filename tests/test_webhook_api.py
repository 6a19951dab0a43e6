"""Webhook subscriptions over the API (a key with the ``webhooks`` scope manages its own endpoints,
never another key's), the refusal of URLs on private networks (when saved and, against DNS
rebinding, before every try), the order resource in every order event's body, the ops e-mail when an
endpoint is disabled, and replay of a time range from the dashboard."""

import json
import socket
from datetime import timedelta

import pytest
from django.utils import timezone

from integrations import services
from integrations.models import WebhookDelivery, WebhookEndpoint, WebhookStatus
from oms.events import outbox_publish_pending
from oms.models import DomainEvent
from orders import services as orders
from orders.models import ApiKey
from tests.conftest import api_client_for
from tests.factories import order_payload
from tests.receiver import Receiver

pytestmark = pytest.mark.django_db

PUBLIC_URL = "https://93.184.216.34/hooks"  # a public address written as one: nothing to resolve


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def hooks_key(channel):
    key, raw = orders.api_key_create(name="Shop hooks", channel=channel, scopes=["webhooks"])
    return ApiKey.objects.get(pk=key.pk), api_client_for(raw)


@pytest.fixture
def dns(monkeypatch):
    """The outside world's name service, at the socket boundary: names the test sets resolve to the
    addresses it says, every other name as the machine resolves it."""
    names: dict[str, str] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in names:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (names[host], port or 0))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


def test_a_key_registers_lists_changes_and_removes_its_own_endpoints_and_no_one_elses(
    hooks_key, other_channel
):
    key, client = hooks_key
    created = client.post(
        "/api/v1/webhooks/endpoints/",
        {"url": PUBLIC_URL, "events": ["order.", "shipment.shipped"], "description": "ERP bridge"},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["active"] is True
    assert body["events"] == ["order.", "shipment.shipped"] and body["url"] == PUBLIC_URL
    endpoint = WebhookEndpoint.objects.get(pk=body["id"])
    assert (endpoint.api_key_id, endpoint.secret, endpoint.public_only) == (key.pk, body["secret"], True)
    assert created.headers["Location"] == f"/api/v1/webhooks/endpoints/{endpoint.pk}/"
    listed = client.get("/api/v1/webhooks/endpoints/").json()
    assert [e["id"] for e in listed] == [endpoint.pk] and "secret" not in listed[0]  # shown once
    assert "secret" not in client.get(f"/api/v1/webhooks/endpoints/{endpoint.pk}/").json()
    changed = client.patch(
        f"/api/v1/webhooks/endpoints/{endpoint.pk}/", {"events": ["return."], "active": False}, format="json"
    )
    assert changed.status_code == 200 and changed.json()["events"] == ["return."]
    endpoint.refresh_from_db()
    assert endpoint.events == ["return."] and not endpoint.is_active and endpoint.disabled_at is None
    rotated = client.post(f"/api/v1/webhooks/endpoints/{endpoint.pk}/rotate-secret/").json()
    endpoint.refresh_from_db()
    assert rotated["secret"] == endpoint.secret != body["secret"]
    # another channel's key with the scope sees nothing of it: 404, not 403
    _, other_raw = orders.api_key_create(name="Other hooks", channel=other_channel, scopes=["webhooks"])
    other = api_client_for(other_raw)
    assert other.get("/api/v1/webhooks/endpoints/").json() == []
    for call in (
        other.get(f"/api/v1/webhooks/endpoints/{endpoint.pk}/"),
        other.patch(f"/api/v1/webhooks/endpoints/{endpoint.pk}/", {"url": PUBLIC_URL + "/x"}, format="json"),
        other.delete(f"/api/v1/webhooks/endpoints/{endpoint.pk}/"),
        other.post(f"/api/v1/webhooks/endpoints/{endpoint.pk}/rotate-secret/"),
        other.get(f"/api/v1/webhooks/endpoints/{endpoint.pk}/deliveries/"),
    ):
        assert call.status_code == 404 and call.json()["error"]["code"] == "not_found"
    endpoint.refresh_from_db()
    assert endpoint.url == PUBLIC_URL and endpoint.secret == rotated["secret"]
    assert client.delete(f"/api/v1/webhooks/endpoints/{endpoint.pk}/").status_code == 204
    assert not WebhookEndpoint.objects.exists()


def test_a_key_without_the_webhooks_scope_is_refused(api):
    answer = api.get("/api/v1/webhooks/endpoints/")
    assert answer.status_code == 403 and "webhooks" in answer.json()["error"]["message"]
    assert api.post("/api/v1/webhooks/endpoints/", {"url": PUBLIC_URL}, format="json").status_code == 403
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:5432/",
        "http://localhost/hooks",
        "http://10.1.2.3/hooks",
        "http://192.168.0.10/hooks",
        "http://169.254.169.254/latest/meta-data/",  # a cloud's metadata service
        "http://[::1]/hooks",
        "http://[::ffff:127.0.0.1]/hooks",
        "http://0.0.0.0/hooks",
        "http://100.64.0.1/hooks",  # carrier-grade NAT
        "http://internal.example/hooks",  # a name that resolves to the private network
        "http://does-not-resolve.invalid/hooks",
        "https://user:secret@93.184.216.34/hooks",
    ],
)
def test_urls_on_private_networks_are_refused_by_field_and_nothing_is_saved(hooks_key, dns, url):
    dns["internal.example"] = "10.0.0.7"
    _, client = hooks_key
    answer = client.post("/api/v1/webhooks/endpoints/", {"url": url}, format="json")
    assert answer.status_code == 400, answer.content
    assert list(answer.json()["error"]["details"]) == ["url"]
    assert not WebhookEndpoint.objects.exists()
    created = client.post("/api/v1/webhooks/endpoints/", {"url": PUBLIC_URL}, format="json").json()
    moved = client.patch(f"/api/v1/webhooks/endpoints/{created['id']}/", {"url": url}, format="json")
    assert moved.status_code == 400 and list(moved.json()["error"]["details"]) == ["url"]
    assert WebhookEndpoint.objects.get(pk=created["id"]).url == PUBLIC_URL


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://93.184.216.34/x"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": PUBLIC_URL + "/" + "x" * 500}, "url"),
        ({"url": PUBLIC_URL, "events": "order."}, "events"),
        ({"url": PUBLIC_URL, "events": ["Order.Shipped"]}, "events"),
        ({"url": PUBLIC_URL, "events": [f"order.e{n}" for n in range(51)]}, "events"),
        ({"url": PUBLIC_URL, "events": ["x" * 65]}, "events.0"),
        ({"url": PUBLIC_URL, "events": [7]}, "events.0"),
        ({"url": PUBLIC_URL, "description": "d" * 201}, "description"),
        ({"events": ["order."]}, "url"),
    ],
)
def test_bad_subscriptions_name_the_field(hooks_key, body, field):
    _, client = hooks_key
    answer = client.post("/api/v1/webhooks/endpoints/", body, format="json")
    assert answer.status_code == 400, answer.content
    assert field in answer.json()["error"]["details"]
    assert not WebhookEndpoint.objects.exists()


def test_a_key_has_at_most_so_many_endpoints(hooks_key):
    key, client = hooks_key
    for n in range(services.MAX_ENDPOINTS_PER_KEY):
        services.endpoint_create(api_key=key, url=f"{PUBLIC_URL}/{n}", events=[])
    answer = client.post("/api/v1/webhooks/endpoints/", {"url": PUBLIC_URL}, format="json")
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "too_many_endpoints"
    assert WebhookEndpoint.objects.count() == services.MAX_ENDPOINTS_PER_KEY


def test_a_name_that_turns_private_after_it_was_saved_is_not_sent_to(hooks_key, dns, receiver, api, products):
    """DNS rebinding: the name resolved to a public address when saved, and to our own machine now."""
    _, client = hooks_key
    dns["hooks.shop.example"] = "93.184.216.34"
    url = f"http://hooks.shop.example:{receiver.server.server_port}/hooks"
    assert client.post("/api/v1/webhooks/endpoints/", {"url": url}, format="json").status_code == 201
    dns["hooks.shop.example"] = "127.0.0.1"  # where the receiver listens: it must hear nothing
    api.post("/api/v1/orders/", order_payload("RB-1"), format="json")
    services.webhooks_fan_out()
    assert services.webhooks_send_due() == {"retry": 1}
    delivery = WebhookDelivery.objects.get()
    assert receiver.requests == []
    assert delivery.error.startswith("not sent: The host 'hooks.shop.example' is a private")


def test_an_order_event_carries_the_order_as_the_api_shows_it(api, products, receiver, channel_key):
    key, _ = channel_key
    WebhookEndpoint.objects.create(
        api_key=key, url=receiver.url, events=["order.received"], public_only=False
    )
    order_id = api.post("/api/v1/orders/", order_payload("SHAPE-1"), format="json").json()["id"]
    services.webhooks_fan_out()
    assert services.webhooks_send_due() == {"delivered": 1}
    body = json.loads(receiver.requests[0][1])
    detail = api.get(f"/api/v1/orders/{order_id}/").json()
    resource = {name: detail[name] for name in body["data"]["order"]}
    assert body["data"]["order"] == resource and body["data"]["order"]["external_id"] == "SHAPE-1"
    assert set(body["data"]["order"]) >= {"id", "status", "lines", "customer", "shipping_address", "total"}
    assert body["type"] == "order.received" and body["data"]["order"]["lines"][0]["sku"]


def test_ops_hear_by_email_when_an_endpoint_is_disabled_and_no_integration_hears_of_it(
    api, products, receiver, channel_key, settings, mailoutbox, db
):
    settings.WEBHOOK_DISABLE_AFTER = 2
    settings.WEBHOOK_ALERT_RECIPIENTS = ["ops@merchant.example"]
    key, _ = channel_key
    failing = WebhookEndpoint.objects.create(
        api_key=key, url=receiver.url + "/down", events=["order."], public_only=False
    )
    erp_key, _ = orders.api_key_create(name="ERP", scopes=["inventory"])
    erp = WebhookEndpoint.objects.create(api_key_id=erp_key.pk, url=receiver.url + "/erp", public_only=False)
    receiver.down["/hooks/down"] = 500
    for n in range(2):
        api.post("/api/v1/orders/", order_payload(f"DOWN-{n}"), format="json")
    services.webhooks_fan_out()
    services.webhooks_send_due()
    failing.refresh_from_db()
    assert not failing.is_active
    event = DomainEvent.objects.get(name="webhook.endpoint_disabled")
    assert event.aggregate_id == str(failing.pk)
    outbox_publish_pending()
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["ops@merchant.example"]
    assert mailoutbox[0].subject == f"[OMS] Webhook endpoint disabled: {failing.url}"
    assert (
        "2 failed tries in a row" in mailoutbox[0].body
        and "/dashboard/integrations/webhooks/" in mailoutbox[0].body
    )
    # the ERP's endpoint hears every event, but not of another integration's endpoint
    services.webhooks_fan_out()
    assert not WebhookDelivery.objects.filter(endpoint=erp, event=event).exists()


def test_ops_send_a_time_range_again_from_the_dashboard(
    api, products, receiver, channel_key, clock, ops_client
):
    key, _ = channel_key
    endpoint = WebhookEndpoint.objects.create(
        api_key=key, url=receiver.url, events=["order."], public_only=False
    )
    today = timezone.localdate()
    for n, days_ago in enumerate((3, 1, 1, 0)):
        api.post("/api/v1/orders/", order_payload(f"RANGE-{n}"), format="json")
        services.webhooks_fan_out()
        WebhookDelivery.objects.filter(status=WebhookStatus.PENDING).update(
            created_at=timezone.now() - timedelta(days=days_ago)
        )
        services.webhooks_send_due()
    assert WebhookDelivery.objects.filter(status=WebhookStatus.SUCCEEDED).count() == 4
    sent = len(receiver.requests)
    # the receiver lost yesterday's: ops pick the day and the delivered ones
    page = ops_client.get(f"/dashboard/integrations/webhooks/?endpoint={endpoint.pk}")
    assert page.status_code == 200 and receiver.url in page.content.decode()
    yesterday = (today - timedelta(days=1)).isoformat()
    answer = ops_client.post(
        "/dashboard/integrations/webhooks/replay-range/",
        {"endpoint": endpoint.pk, "start": yesterday, "end": yesterday, "status": "succeeded", "event": ""},
        follow=True,
    )
    assert "2 deliveries from" in answer.content.decode()
    pending = WebhookDelivery.objects.filter(status=WebhookStatus.PENDING)
    assert sorted(pending.values_list("created_at__date", flat=True)) == [today - timedelta(days=1)] * 2
    assert services.webhooks_send_due() == {"delivered": 2}
    assert len(receiver.requests) == sent + 2
    # a range that ends before it starts is refused by name, and nothing changes
    answer = ops_client.post(
        "/dashboard/integrations/webhooks/replay-range/",
        {"start": today.isoformat(), "end": yesterday, "status": "succeeded"},
        follow=True,
    )
    assert "The end is before the start." in answer.content.decode()
    assert not WebhookDelivery.objects.filter(status=WebhookStatus.PENDING).exists()


def test_an_integration_reads_its_log_and_has_a_range_sent_again_over_the_api(
    hooks_key, receiver, api, products, clock
):
    key, client = hooks_key
    endpoint = services.endpoint_create(api_key=key, url=receiver.url, events=["order."], public_only=False)
    receiver.script = [410]
    api.post("/api/v1/orders/", order_payload("LOG-1"), format="json")
    services.webhooks_fan_out()
    services.webhooks_send_due()
    WebhookDelivery.objects.update(status=WebhookStatus.FAILED)  # as after its last try
    log = client.get(f"/api/v1/webhooks/endpoints/{endpoint.pk}/deliveries/?status=failed").json()
    (row,) = log["results"]
    event = DomainEvent.objects.get(name="order.received")
    assert (row["webhook_id"], row["type"], row["response_status"], row["attempts"]) == (
        f"evt_{event.pk}",
        "order.received",
        410,
        1,
    )
    assert row["next_attempt_at"] is None
    bad = client.get(f"/api/v1/webhooks/endpoints/{endpoint.pk}/deliveries/?status=lost")
    assert bad.status_code == 400 and "status" in bad.json()["error"]["details"]
    now = timezone.now()
    empty = client.post(
        f"/api/v1/webhooks/endpoints/{endpoint.pk}/replay/",
        {"start": now.isoformat(), "end": (now - timedelta(hours=1)).isoformat()},
        format="json",
    )
    assert empty.status_code == 400 and "end" in empty.json()["error"]["details"]
    replayed = client.post(
        f"/api/v1/webhooks/endpoints/{endpoint.pk}/replay/",
        {"start": (now - timedelta(hours=1)).isoformat(), "end": (now + timedelta(minutes=1)).isoformat()},
        format="json",
    )
    assert replayed.status_code == 200 and replayed.json() == {"replayed": 1}
    assert services.webhooks_send_due() == {"delivered": 1}
