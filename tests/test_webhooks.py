"""Outbound webhooks against a real HTTP receiver started by the test: what an endpoint hears (only
its own channel's orders), signed as Standard Webhooks (forged, stale and replayed requests refused
by the receiver's check), retried with backoff until it answers, in order per order, disabled after
failing in a row, and replayed from the log with the same webhook-id."""

import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from integrations import services, signing
from integrations.models import WebhookDelivery, WebhookEndpoint, WebhookStatus
from oms.models import DomainEvent
from orders import services as orders
from tests.factories import order_payload
from tests.receiver import Receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def endpoint(channel_key, receiver):
    key, _ = channel_key
    return WebhookEndpoint.objects.create(api_key=key, url=receiver.url, events=["order."], public_only=False)


def fan_out_and_send() -> dict:
    services.webhooks_fan_out()
    return services.webhooks_send_due()


def test_an_endpoint_hears_its_own_orders_signed_and_nothing_of_anyone_elses(
    api, other_api, products, endpoint, receiver, other_channel, clock
):
    from orders.models import ApiKey

    erp_key, _ = orders.api_key_create(name="ERP", scopes=["inventory"])
    erp = WebhookEndpoint.objects.create(
        api_key=ApiKey.objects.get(pk=erp_key.pk), url=receiver.url + "/erp", public_only=False
    )
    mine = api.post("/api/v1/orders/", order_payload("WH-1"), format="json").json()["id"]
    other_api.post("/api/v1/orders/", order_payload("WH-OTHER"), format="json")
    assert fan_out_and_send() == {"delivered": 3}  # mine to my endpoint; both to the ERP's
    assert sorted(receiver.paths) == ["/hooks", "/hooks/erp", "/hooks/erp"]
    mine_seen = [
        json.loads(b) for h, b in receiver.requests if json.loads(b)["data"]["aggregate_id"] == str(mine)
    ]
    assert {m["type"] for m in mine_seen} == {"order.received"}
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 1
    assert WebhookDelivery.objects.filter(endpoint=erp).count() == 2
    headers, body = next(
        r for r, path in zip(receiver.requests, receiver.paths, strict=True) if path == "/hooks"
    )
    assert json.loads(body)["data"]["aggregate_id"] == str(mine)
    event = DomainEvent.objects.get(name="order.received", aggregate_id=str(mine))
    assert headers["webhook-id"] == f"evt_{event.pk}" and json.loads(body)["id"] == f"evt_{event.pk}"
    signing.verify(endpoint.secret, headers, body, now=time.time())  # a receiver's check passes
    with pytest.raises(signing.InvalidSignature):
        signing.verify(erp.secret, headers, body, now=time.time())  # another secret: forged
    with pytest.raises(signing.InvalidSignature):
        signing.verify(endpoint.secret, headers, body.replace(b"WH-1", b"WH-2"), now=time.time())
    with pytest.raises(signing.InvalidSignature):  # replayed ten minutes later
        signing.verify(endpoint.secret, headers, body, now=time.time() + 600)
    # a revoked key's endpoint hears nothing more
    ApiKey.objects.filter(pk=erp_key.pk).update(revoked_at=timezone.now())
    api.post("/api/v1/orders/", order_payload("WH-1B"), format="json")
    assert fan_out_and_send() == {"delivered": 1}
    assert receiver.paths[-1] == "/hooks"
    # the verification snippet in docs/webhooks.md, as a receiver would paste it, agrees
    docs = (Path(__file__).resolve().parent.parent / "docs" / "webhooks.md").read_text()
    snippet = docs.split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict = {}
    exec(snippet, scope)  # our own documentation's code
    lower = {k.lower(): v for k, v in headers.items()}
    scope["verify"](endpoint.secret, lower, body)
    with pytest.raises(ValueError, match="bad signature"):
        scope["verify"](erp.secret, lower, body)


def test_a_failing_receiver_is_retried_with_backoff_until_it_answers(
    api, products, endpoint, receiver, clock
):
    receiver.script = [500, 503]
    api.post("/api/v1/orders/", order_payload("WH-2"), format="json")
    assert fan_out_and_send() == {"retry": 1}
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.status == WebhookStatus.PENDING and delivery.response_status == 500
    waited = delivery.next_attempt_at - delivery.last_attempt_at
    assert timedelta(seconds=15) <= waited <= timedelta(seconds=45)  # 30 s with jitter
    assert services.webhooks_send_due() == {}  # not due yet
    clock.shift(timedelta(seconds=46))
    assert services.webhooks_send_due() == {"retry": 1}
    delivery.refresh_from_db()
    assert (
        timedelta(seconds=30) <= delivery.next_attempt_at - delivery.last_attempt_at <= timedelta(seconds=90)
    )
    clock.shift(timedelta(seconds=91))
    assert services.webhooks_send_due() == {"delivered": 1}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == (WebhookStatus.SUCCEEDED, 3, 200)
    ids = {h["webhook-id"] for h, _ in receiver.requests}
    assert len(receiver.requests) == 3 and len(ids) == 1  # the same id on every try: the receiver dedupes


def test_one_orders_events_reach_an_endpoint_in_order(api, products, endpoint, receiver, clock):
    order_id = api.post("/api/v1/orders/", order_payload("WH-3"), format="json").json()["id"]
    receiver.script = [500]
    assert fan_out_and_send() == {"retry": 1}  # order.received failed once
    orders.order_cancel(order_id=order_id, actor=orders.Actor.system("t"), reason="test")
    services.webhooks_fan_out()
    assert services.webhooks_send_due() == {}  # the cancellation waits behind the failed receipt
    clock.shift(timedelta(minutes=2))
    assert services.webhooks_send_due() == {"delivered": 1}
    assert services.webhooks_send_due() == {"delivered": 1}
    types = [json.loads(b)["type"] for _, b in receiver.requests]
    assert types == ["order.received", "order.received", "order.cancelled"]


def test_an_endpoint_failing_in_a_row_is_disabled_with_a_banner_and_enabled_again(
    api, products, endpoint, receiver, clock, settings, ops_client
):
    settings.WEBHOOK_DISABLE_AFTER = 3
    receiver.script = [500] * 10
    for n in range(3):
        api.post("/api/v1/orders/", order_payload(f"WH-D{n}"), format="json")
    fan_out_and_send()
    endpoint.refresh_from_db()
    assert not endpoint.is_active and "3 failed tries in a row" in endpoint.disabled_reason
    clock.shift(timedelta(hours=1))
    assert services.webhooks_send_due() == {}  # nothing goes to a disabled endpoint
    page = ops_client.get("/dashboard/orders/").content.decode()
    assert "1 webhook endpoint disabled after failing" in page
    receiver.script = []
    services.endpoint_enable(endpoint_id=endpoint.pk)
    assert services.webhooks_send_due() == {"delivered": 3}


def test_a_delivery_is_replayed_with_its_id_and_a_claimed_one_is_not_sent_twice(
    api, products, endpoint, receiver, clock
):
    api.post("/api/v1/orders/", order_payload("WH-R"), format="json")
    fan_out_and_send()
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert services.deliveries_replay(delivery_ids=[delivery.pk]) == 1
    assert services.webhooks_send_due() == {"delivered": 1}
    first, again = receiver.requests
    assert first[0]["webhook-id"] == again[0]["webhook-id"] and first[1] == again[1]
    # a worker that claimed a delivery and died: nobody else sends it until the lease is over
    services.deliveries_replay(delivery_ids=[delivery.pk])
    assert services._claim([delivery.pk], timezone.now())
    assert services.webhooks_send_due() == {}
    clock.shift(services.LEASE + timedelta(seconds=1))
    assert services.webhooks_send_due() == {"delivered": 1}


def test_an_endpoints_events_must_be_a_list_of_names_and_an_odd_one_stops_no_other(
    channel_key, receiver, api, products, endpoint
):
    from django.core.exceptions import ValidationError

    key, _ = channel_key
    for events in ({"order.": 1}, [1, 2], ["order.", ""], "order."):
        with pytest.raises(ValidationError, match=r"A list of event names|is not an event name"):
            WebhookEndpoint(api_key=key, url=receiver.url, events=events, public_only=False).full_clean()
    WebhookEndpoint.objects.create(
        api_key=key, url=receiver.url + "/odd", events=[1, {"x": 2}], public_only=False
    )  # no clean()
    api.post("/api/v1/orders/", order_payload("WH-ODD"), format="json")
    assert fan_out_and_send() == {"delivered": 1}  # the well-formed endpoint still hears
    assert receiver.paths == ["/hooks"]
