"""Tracking: events in from webhooks and polling, stored once, status derived by the carrier's time,
delivery rolled up, signatures checked, feeds that fail and recover, ETAs, the customer's page."""

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import responses
from django.utils import timezone

from oms.models import DomainEvent
from orders.models import Order, OrderStatus
from shipments import services as fulfilment
from shipments.carriers import easypost, sandbox
from shipments.carriers.base import Milestone, Tracking
from shipments.carriers.base import TrackingEvent as CarrierEvent
from shipments.models import Carrier, CarrierService, ShipmentStatus
from tests.clock import CLOCK_START
from tests.factories import order_payload
from tests.test_fulfilment import OPS, network, pack, picked_order  # noqa: F401 (fixture)
from tracking import selectors
from tracking import services as tracking
from tracking.models import (
    CarrierBreaker,
    EtaPrediction,
    TrackingEvent,
    TrackingLink,
    TrackingState,
    WebhookDelivery,
)

pytestmark = pytest.mark.django_db

PAYLOADS = Path(__file__).parent / "payloads" / "easypost"
SECRET = "whsec-sandbox-7f3a"


@pytest.fixture
def shipped(api, network, monkeypatch):  # noqa: F811 (fixture)
    """An order shipped in one parcel with the sandbox carrier, followed by tracking."""
    monkeypatch.setenv("SANDBOX_WEBHOOK_SECRET", SECRET)
    Carrier.objects.filter(code="sandbox").update(options={"webhook_secret_env": "SANDBOX_WEBHOOK_SECRET"})
    order = picked_order(api, network)
    box = pack(order, network["ATH"], {"CAP-NAVY": 3, "TSHIRT-BLK-M": 2, "HOODIE-GRY-L": 1}, weight=1500)
    shipment = fulfilment.shipment_create(package_ids=[box.pk], actor=OPS)
    fulfilment.shipment_buy_labels(shipment_id=shipment.pk, actor=OPS)
    shipment = fulfilment.shipment_hand_over(shipment_id=shipment.pk, actor=OPS)
    tracking.tracking_start(shipment_id=shipment.pk)  # the shipment.shipped handler does this in production
    return shipment


def event(code, hours, description="", shipped_at=None):
    milestone, incident = sandbox.STATUS_MAP[code]
    at = (shipped_at or CLOCK_START) + timedelta(hours=hours)
    return CarrierEvent(code, description or code, at, milestone, location="Athens", incident=incident)


def ingest(shipment, *events, source="poll"):
    return tracking.events_ingest(
        shipment_id=shipment.pk, tracking=Tracking(shipment.tracking_number, tuple(events)), source=source
    )


def test_the_same_event_twice_is_one_row_and_an_old_one_never_moves_the_status_back(shipped):
    assert ingest(shipped, event("SBX-PU", 0), event("SBX-HUB", 20)) == 2
    assert ingest(shipped, event("SBX-PU", 0), event("SBX-HUB", 20)) == 0  # a retry, nothing new
    state = TrackingState.objects.get(shipment=shipped)
    assert state.milestone == Milestone.ARRIVED_AT_HUB
    assert ingest(shipped, event("SBX-IT", 6)) == 1  # arrives late, happened earlier
    state.refresh_from_db()
    assert state.milestone == Milestone.ARRIVED_AT_HUB
    assert TrackingEvent.objects.filter(shipment=shipped).count() == 3
    # one change of milestone (label created -> at the hub); the late event changed nothing
    assert DomainEvent.objects.filter(name="tracking.milestone").count() == 1


def test_derived_status_is_the_latest_by_carrier_time_whatever_the_arrival_order(api, network, monkeypatch):  # noqa: F811
    from inventory import services as stock
    from orders.models import Product

    for product in Product.objects.all():
        stock.stock_receive(warehouse=network["ATH"], product=product, quantity=100, actor="t")
    script = [event("SBX-PU", 0), event("SBX-IT", 6), event("SBX-HUB", 20), event("SBX-OFD", 30)]
    for n, order_of_arrival in enumerate(itertools.islice(itertools.permutations(script), 0, 24, 5)):
        order = picked_order(api, network, f"P-{n}")
        box = pack(order, network["ATH"], {"CAP-NAVY": 3})
        shipment = fulfilment.shipment_create(package_ids=[box.pk], actor=OPS)
        fulfilment.shipment_buy_labels(shipment_id=shipment.pk, actor=OPS)
        shipment = fulfilment.shipment_hand_over(shipment_id=shipment.pk, actor=OPS)
        seen = []
        for item in order_of_arrival:
            ingest(shipment, item)
            seen.append(TrackingState.objects.get(shipment=shipment).milestone)
            latest = max(
                (e for e in script if e in order_of_arrival[: len(seen)]), key=lambda e: e.occurred_at
            )
            assert seen[-1] == latest.milestone  # never behind the newest event received so far
        assert seen[-1] == Milestone.OUT_FOR_DELIVERY


def test_delivery_rolls_up_to_the_shipment_and_the_order_and_scores_the_eta(shipped):
    ingest(shipped, event("SBX-PU", 0), event("SBX-OFD", 30), event("SBX-DL", 34))
    shipped.refresh_from_db()
    assert shipped.status == ShipmentStatus.DELIVERED
    order = shipped.order
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED
    assert all(line.qty_delivered == line.quantity for line in order.lines.all())
    state = TrackingState.objects.get(shipment=shipped)
    assert (state.is_active, state.next_poll_at) == (False, None)
    scored = EtaPrediction.objects.filter(shipment=shipped)
    assert scored.exists() and all(p.actual_date == state.delivered_at.date() for p in scored)
    assert DomainEvent.objects.filter(name="shipment.delivered").count() == 1
    assert ingest(shipped, event("SBX-DL", 34)) == 0  # delivered twice is still once


def test_failed_attempt_raises_an_exception_event(shipped):
    ingest(shipped, event("SBX-OFD", 30), event("SBX-NH", 34, "Nobody at home"))
    exception = DomainEvent.objects.get(name="shipment.exception")
    assert exception.payload["milestone"] == Milestone.ATTEMPTED_DELIVERY
    assert exception.payload["direction"] == "outbound"
    assert selectors.tracking_exceptions().filter(shipment=shipped).exists()


# ---------------------------------------------------------------------------------------------- webhooks


def signed_sandbox_call(client, body: bytes, *, secret=SECRET, at=None, header=True):
    timestamp = int((at or timezone.now()).timestamp())
    headers = (
        {"HTTP_X_SANDBOX_SIGNATURE": sandbox.webhook_signature(body, secret, timestamp)} if header else {}
    )
    return client.post("/api/v1/tracking/webhooks/sandbox/", body, content_type="application/json", **headers)


@pytest.mark.django_db(transaction=True)
def test_signed_webhooks_are_stored_acknowledged_and_processed(shipped, client):
    body = sandbox.webhook_body(
        shipped.tracking_number, [event("SBX-PU", 0), event("SBX-IT", 6)], event_id="sbx-evt-1"
    )
    response = signed_sandbox_call(client, body)
    assert response.status_code == 200 and response.json() == {"received": True, "duplicate": False}
    # the worker (eager here) read it after the commit
    assert WebhookDelivery.objects.get().status == "processed"
    assert TrackingState.objects.get(shipment=shipped).milestone == Milestone.IN_TRANSIT
    again = signed_sandbox_call(client, body)
    assert again.json() == {"received": True, "duplicate": True}
    assert WebhookDelivery.objects.count() == 1 and TrackingEvent.objects.count() == 2


@pytest.mark.parametrize(
    ("case", "code"),
    [("missing", "webhook_unsigned"), ("bad", "webhook_bad_signature"), ("stale", "webhook_stale")],
)
def test_unsigned_badly_signed_and_stale_webhooks_are_refused_with_nothing_stored(
    shipped, client, case, code
):
    body = sandbox.webhook_body(shipped.tracking_number, [event("SBX-PU", 0)], event_id=f"sbx-{case}")
    if case == "missing":
        response = signed_sandbox_call(client, body, header=False)
    elif case == "bad":
        response = signed_sandbox_call(client, body, secret="someone-else")
    else:
        response = signed_sandbox_call(client, body, at=timezone.now() - timedelta(minutes=6))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == code
    assert WebhookDelivery.objects.count() == 0 and TrackingEvent.objects.count() == 0


def test_a_tampered_body_fails_the_signature(shipped, client):
    body = sandbox.webhook_body(shipped.tracking_number, [event("SBX-PU", 0)], event_id="sbx-1")
    timestamp = int(timezone.now().timestamp())
    signature = sandbox.webhook_signature(body, SECRET, timestamp)
    tampered = body.replace(b"SBX-PU", b"SBX-DL")
    response = client.post(
        "/api/v1/tracking/webhooks/sandbox/",
        tampered,
        content_type="application/json",
        HTTP_X_SANDBOX_SIGNATURE=signature,
    )
    assert response.status_code == 401 and WebhookDelivery.objects.count() == 0


def easypost_event(tracker: dict, created_at: datetime) -> bytes:
    return json.dumps(
        {
            "id": "evt_7e5c3e4a4e7b11f0a5a1",
            "object": "Event",
            "mode": "test",
            "description": "tracker.updated",
            "previous_attributes": {"status": "in_transit"},
            "created_at": created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "updated_at": created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "pending_urls": [],
            "completed_urls": [],
            "result": tracker,
        }
    ).encode()


def test_easypost_webhook_signature_scheme():
    tracker = json.loads((PAYLOADS / "tracker.json").read_text())
    now = datetime(2026, 11, 27, 15, tzinfo=UTC)
    body = easypost_event(tracker, now - timedelta(minutes=2))
    headers = {"X-Hmac-Signature": easypost.webhook_signature(body, "s3cr\u00e9t")}
    easypost.verify_webhook(headers, body, "s3cr\u00e9t", now)  # the secret is NFKD-normalised on both sides
    event_id, trackings = easypost.parse_webhook(body)
    assert event_id == "evt_7e5c3e4a4e7b11f0a5a1"
    assert trackings[0].tracking_number == "9400100105442285876350"
    assert trackings[0].events[-1].milestone == Milestone.DELIVERED
    for bad_headers, body_used, at, code in [
        ({}, body, now, "unsigned"),
        ({"X-Hmac-Signature": "hmac-sha256-hex=00"}, body, now, "bad_signature"),
        (headers, body, now + timedelta(days=4), "stale"),
    ]:
        with pytest.raises(easypost.WebhookRejected) as rejected:
            easypost.verify_webhook(bad_headers, body_used, "s3cr\u00e9t", at)
        assert rejected.value.code == code


# --------------------------------------------------------------------------------------------- polling


@responses.activate
def test_a_feed_that_fails_then_recovers_loses_nothing_and_the_breaker_opens_and_closes(shipped, monkeypatch):
    monkeypatch.setenv("EASYPOST_TEST_KEY", "EZTK_test")
    gateway = Carrier.objects.create(
        code="easypost", name="EasyPost", adapter="easypost", credentials_env="EASYPOST_TEST_KEY"
    )
    service = CarrierService.objects.create(
        carrier=gateway, code="Priority", carrier_name="USPS", name="USPS Priority", service_level="standard"
    )
    type(shipped).objects.filter(pk=shipped.pk).update(
        service=service, tracking_number="9400100105442285876350"
    )
    tracker = json.loads((PAYLOADS / "tracker.json").read_text())
    now = datetime(2026, 11, 27, 15, tzinfo=UTC)
    TrackingState.objects.filter(shipment=shipped).update(next_poll_at=now)
    down = responses.post(
        "https://api.easypost.com/v2/trackers", status=503, json={"error": {"message": "down"}}
    )

    for minute in range(3):  # three failed polls open the breaker
        TrackingState.objects.filter(shipment=shipped).update(next_poll_at=now)
        assert tracking.tracking_poll_due(now=now + timedelta(minutes=minute))["failed"] == 1
    assert CarrierBreaker.objects.get(carrier=gateway).state == "open"
    TrackingState.objects.filter(shipment=shipped).update(next_poll_at=now)
    assert tracking.tracking_poll_due(now=now + timedelta(minutes=4))["skipped"] == 1  # open: not asked
    assert len(down.calls) == 3

    responses.replace(responses.POST, "https://api.easypost.com/v2/trackers", json=tracker)
    later = now + timedelta(minutes=10)  # the cool-down is over: one trial call
    TrackingState.objects.filter(shipment=shipped).update(next_poll_at=later)
    result = tracking.tracking_poll_due(now=later)
    assert (result["polled"], result["new_events"]) == (1, 6)  # every event the carrier kept
    assert CarrierBreaker.objects.get(carrier=gateway).state == "closed"
    shipped.refresh_from_db()
    assert shipped.status == ShipmentStatus.DELIVERED


def test_polling_follows_the_milestone_cadence(shipped):
    # a parcel on the sandbox's plain script (121 is neither a 5th nor a 7th parcel)
    type(shipped).objects.filter(pk=shipped.pk).update(tracking_number=sandbox.tracking_number_for("SH-121"))
    shipped.refresh_from_db()
    assert sandbox.script_for(shipped.tracking_number, sandbox.SandboxOptions()) == sandbox.NORMAL_SCRIPT
    start = shipped.shipped_at
    TrackingState.objects.filter(shipment=shipped).update(next_poll_at=start)
    tracking.tracking_poll_due(now=start + timedelta(hours=31))  # the sandbox is out for delivery by then
    state = TrackingState.objects.get(shipment=shipped)
    assert state.milestone == Milestone.OUT_FOR_DELIVERY
    assert state.next_poll_at - (start + timedelta(hours=31)) == timedelta(minutes=20)


def test_a_silent_feed_is_flagged_once(shipped):
    later = shipped.shipped_at + timedelta(hours=30)
    assert tracking.tracking_watch(now=later)["silent"] == 1
    assert tracking.tracking_watch(now=later + timedelta(hours=1))["silent"] == 0
    delayed = DomainEvent.objects.get(name="shipment.delayed")
    assert delayed.payload["reason"].startswith("no scan for 30 h")
    assert delayed.payload["direction"] == "outbound"  # a return parcel's would say "return"
    ingest(shipped, event("SBX-PU", 0))
    assert TrackingState.objects.get(shipment=shipped).silent_since is None


# ------------------------------------------------------------------------------------------------- ETA


def test_eta_comes_from_the_lanes_delivery_history(shipped):
    # seed the lane: eight earlier deliveries of 2 to 4 days from the same warehouse and service to 104xx
    for n, days in enumerate([2, 2, 3, 3, 3, 3, 4, 4]):
        twin = type(shipped).objects.get(pk=shipped.pk)
        twin.pk = None
        twin.shipped_at = shipped.shipped_at - timedelta(days=30 + n)
        twin.save()
        TrackingState.objects.create(
            shipment=twin, is_active=False, delivered_at=twin.shipped_at + timedelta(days=days)
        )
    assert sorted(tracking.lane_transit_days(shipped)) == [2, 2, 3, 3, 3, 3, 4, 4]
    state = TrackingState.objects.get(shipment=shipped)
    ingest(shipped, event("SBX-PU", 0, shipped_at=shipped.shipped_at))
    state.refresh_from_db()
    shipped_on = timezone.localdate(shipped.shipped_at)
    assert state.predicted_date == shipped_on + timedelta(days=3)
    assert (state.predicted_earliest, state.predicted_latest) == (
        max(shipped_on + timedelta(days=2), timezone.localdate()),
        shipped_on + timedelta(days=4),
    )
    assert EtaPrediction.objects.filter(shipment=shipped).last().basis.startswith("lane of 8 deliveries")


# ------------------------------------------------------------------------------------ the customer's page


def test_the_tracking_page_shows_progress_without_personal_data(shipped, client):
    ingest(shipped, event("SBX-PU", 0), event("SBX-WX", 12, "Held by a storm"))
    token = TrackingLink.objects.get(order=shipped.order).token
    page = client.get(f"/track/{token}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Hello Maria" in text and "Athens" in text
    assert "Held up on the way because of the weather" in text and "Delivery estimate" in text
    customer, address = shipped.order.customer, shipped.order.shipping_address
    for private in (customer.email, customer.phone, customer.last_name, address.line1, address.postal_code):
        assert private not in text
    data = client.get(f"/api/v1/track/{token}/").json()
    assert data["first_name"] == "Maria" and data["city"] == "Athens"
    assert [e["milestone"] for e in data["parcels"][0]["events"]] == ["exception", "picked_up"]
    assert customer.email not in json.dumps(data) and customer.last_name not in json.dumps(data)


def test_an_unknown_token_is_a_404(client, db):
    assert client.get("/track/not-a-real-token/").status_code == 404
    response = client.get("/api/v1/track/not-a-real-token/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_ops_see_the_timeline_and_the_metrics(shipped, ops_client):
    ingest(shipped, event("SBX-PU", 0), event("SBX-IT", 6), source="webhook")
    page = ops_client.get(f"/dashboard/orders/{shipped.order_id}/").content.decode()
    assert 'id="tracking"' in page and "SBX-IT" in page
    metrics = ops_client.get("/dashboard/tracking/").content.decode()
    assert "Update latency" in metrics and "2</strong> events" in metrics
    # the events happened at hand-over and six hours later, and arrived now (the pinned clock)
    assert "Pushed (webhooks):" in metrics and "(2 events)" in metrics
    # a metric without data says so in words, not with a dash
    assert "no polled events in the last 30 days" in metrics
    assert "p50 <strong>—" not in metrics and "— s" not in metrics


def test_metrics_without_any_data_say_so_in_words(ops_client):
    page = ops_client.get("/dashboard/tracking/").content.decode()
    assert "no webhook events in the last 30 days" in page
    assert "No carrier events in the last 30 days." in page
    assert "No delivery scored yet." in page
    assert "—" not in page.split("Needs a look")[0]


@responses.activate
def test_while_the_breaker_is_open_the_fallback_source_is_asked(shipped, monkeypatch):
    monkeypatch.setenv("EASYPOST_TEST_KEY", "EZTK_test")
    sandbox_carrier = Carrier.objects.get(code="sandbox")
    sandbox_carrier.options = {**sandbox_carrier.options, "fallback_carrier": "sandbox-mirror"}
    sandbox_carrier.save()
    Carrier.objects.create(code="sandbox-mirror", name="Sandbox mirror", adapter="sandbox")
    now = shipped.shipped_at + timedelta(hours=7)
    CarrierBreaker.objects.create(carrier=sandbox_carrier, state="open", failures=3, opened_at=now)
    TrackingState.objects.filter(shipment=shipped).update(next_poll_at=now)
    result = tracking.tracking_poll_due(now=now)
    assert result["polled"] == 1 and result["new_events"] >= 1
    assert set(TrackingEvent.objects.filter(shipment=shipped).values_list("source", flat=True)) == {
        "fallback"
    }
    assert (
        CarrierBreaker.objects.get(carrier=sandbox_carrier).state == "open"
    )  # the carrier itself is not asked


def test_an_estimate_past_the_promise_is_reported_once(shipped):
    state = TrackingState.objects.get(shipment=shipped)
    state.promised_date = timezone.localdate() - timedelta(days=1)
    state.save()
    now = timezone.now()
    assert tracking.tracking_watch(now=now)["late"] == 1
    assert tracking.tracking_watch(now=now)["late"] == 0
    reasons = [e.payload["reason"] for e in DomainEvent.objects.filter(name="shipment.delayed")]
    assert any(reason.startswith("expected") and "promised" in reason for reason in reasons)
    assert selectors.tracking_exceptions().filter(shipment=shipped).exists()


@pytest.mark.django_db(transaction=True)
def test_an_easypost_webhook_through_http_updates_the_shipment(shipped, client, monkeypatch):
    monkeypatch.setenv("EASYPOST_WEBHOOK_SECRET", "ep-secret")
    gateway = Carrier.objects.create(
        code="easypost",
        name="EasyPost",
        adapter="easypost",
        options={"webhook_secret_env": "EASYPOST_WEBHOOK_SECRET"},
    )
    service = CarrierService.objects.create(
        carrier=gateway, code="Priority", carrier_name="USPS", name="USPS Priority", service_level="standard"
    )
    type(shipped).objects.filter(pk=shipped.pk).update(
        service=service, tracking_number="9400100105442285876350"
    )
    shipped.packages.update(tracking_number="9400100105442285876350")
    tracker = json.loads((PAYLOADS / "tracker.json").read_text())
    body = easypost_event(tracker, timezone.now() - timedelta(minutes=1))
    unsigned = client.post("/api/v1/tracking/webhooks/easypost/", body, content_type="application/json")
    assert unsigned.status_code == 401 and not WebhookDelivery.objects.exists()
    response = client.post(
        "/api/v1/tracking/webhooks/easypost/",
        body,
        content_type="application/json",
        HTTP_X_HMAC_SIGNATURE=easypost.webhook_signature(body, "ep-secret"),
    )
    assert response.status_code == 200 and response.json()["duplicate"] is False
    assert TrackingEvent.objects.filter(shipment=shipped).count() == 6
    shipped.refresh_from_db()
    assert shipped.status == ShipmentStatus.DELIVERED
    assert shipped.order.status == OrderStatus.DELIVERED


def test_the_channel_sees_shipments_tracking_numbers_and_the_tracking_link(shipped, api, settings):
    settings.PUBLIC_BASE_URL = "https://shop.example.gr"
    ingest(shipped, event("SBX-PU", 0), event("SBX-IT", 6))
    detail = api.get(f"/api/v1/orders/{shipped.order_id}/").json()
    token = TrackingLink.objects.get(order=shipped.order).token
    assert detail["tracking_url"] == f"https://shop.example.gr/track/{token}/"
    (entry,) = detail["shipments"]
    assert entry["reference"] == shipped.reference
    assert (entry["status"], entry["milestone"], entry["carrier"]) == (
        "shipped",
        "in_transit",
        "Sandbox Post",
    )
    assert entry["tracking_numbers"] == [shipped.tracking_number]
    assert entry["lines"] == {"1": 2, "2": 1, "3": 3}
    assert entry["estimated_delivery"] is not None and entry["delivered_at"] is None


def test_an_order_not_shipped_yet_has_no_shipments_in_its_detail(api, products):
    from tests.factories import order_payload

    order_id = api.post("/api/v1/orders/", order_payload("NS-1"), format="json").json()["id"]
    detail = api.get(f"/api/v1/orders/{order_id}/").json()
    assert (detail["shipments"], detail["tracking_url"]) == ([], None)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("event_id", ["sbx-race", ""])
def test_the_same_webhook_at_once_is_stored_once_with_or_without_an_event_id(shipped, event_id):
    """Without an id, the call is known by a hash of its signed body."""
    import threading

    from django.db import connections

    body = sandbox.webhook_body(shipped.tracking_number, [event("SBX-PU", 0)], event_id=event_id)
    headers = {
        "X-Sandbox-Signature": sandbox.webhook_signature(body, SECRET, int(timezone.now().timestamp()))
    }
    outcomes: list[object] = []
    barrier = threading.Barrier(8)

    def call() -> None:
        try:
            barrier.wait()
            outcomes.append(tracking.webhook_receive(carrier_code="sandbox", headers=headers, body=body)[1])
        except BaseException as exc:  # anything but an answer fails the test
            outcomes.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == [False] * 7 + [True]
    assert WebhookDelivery.objects.count() == 1
    # replayed later, by the carrier or by someone who captured it within the signature's tolerance
    assert tracking.webhook_receive(carrier_code="sandbox", headers=headers, body=body)[1] is False
    assert WebhookDelivery.objects.count() == 1


def test_a_poll_run_does_not_start_while_another_runs(shipped):
    from django.core.cache import cache

    TrackingState.objects.filter(shipment=shipped).update(next_poll_at=shipped.shipped_at)
    later = shipped.shipped_at + timedelta(hours=7)
    cache.add(tracking.POLL_LOCK, "1", 60)  # another worker is polling
    assert tracking.tracking_poll_due(now=later)["polled"] == 0
    cache.delete(tracking.POLL_LOCK)
    assert tracking.tracking_poll_due(now=later)["polled"] == 1


def test_a_carrier_without_a_webhook_secret_accepts_no_calls(shipped, client, monkeypatch):
    monkeypatch.delenv("SANDBOX_WEBHOOK_SECRET")
    body = sandbox.webhook_body(shipped.tracking_number, [event("SBX-PU", 0)], event_id="sbx-nosecret")
    response = signed_sandbox_call(client, body, secret="anything")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "webhook_not_configured"
    assert "webhook_secret_env" in response.json()["error"]["message"]
    assert not WebhookDelivery.objects.exists()


def test_a_payload_repeating_an_event_stores_it_once(shipped):
    assert ingest(shipped, event("SBX-PU", 0), event("SBX-PU", 0), event("SBX-IT", 6)) == 2
    assert TrackingEvent.objects.filter(shipment=shipped).count() == 2


def test_the_shipment_and_its_tracking_say_the_same_thing_in_words(shipped, ops_client, client):
    page = ops_client.get(f"/dashboard/orders/{shipped.order_id}/").content.decode()
    assert "Handed to the carrier" in page and "Packed and waiting" not in page
    shipment_page = ops_client.get(f"/dashboard/fulfilment/shipments/{shipped.pk}/").content.decode()
    assert "Label purchased → <strong>Handed to the carrier</strong>" in shipment_page
    assert "label_purchased" not in shipment_page and "label_pending" not in shipment_page
    token = TrackingLink.objects.get(order_id=shipped.order_id).token
    assert "Handed to the carrier" in client.get(f"/track/{token}/").content.decode()


def test_tracking_tokens_have_no_look_alike_characters():
    from tracking.models import new_token

    tokens = {new_token() for _ in range(2000)}
    assert len(tokens) == 2000
    assert all(len(token) == 24 for token in tokens)
    assert not set("".join(tokens)) & set("Il1O0o")


def test_an_unknown_tracking_link_shows_the_customer_frame(client):
    response = client.get("/track/no-such-token/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "cannot find this tracking link" in page
    assert "mainnav" not in page and "Back to orders" not in page and "/dashboard/" not in page


def test_the_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.svg")


def deliver_quickly(api, network, external_id):  # noqa: F811
    """A one-hoodie order from Athens, handed over and delivered an hour later (an odd lane history)."""
    from routing import services as routing
    from tests.test_fulfilment import pick_everything

    body = order_payload(external_id, lines=[{"sku": "HOODIE-GRY-L", "quantity": 1, "unit_price": "49.00"}])
    order_id = api.post("/api/v1/orders/", body, format="json").json()["id"]
    routing.route_order(order_id=order_id)
    pick_list = fulfilment.wave_release(warehouse_id=network["ATH"].pk, actor=OPS)
    fulfilment.pick_list_confirm(pick_list_id=pick_list.pk, picked=pick_everything(pick_list), actor=OPS)
    order = Order.objects.get(pk=order_id)
    box = pack(order, network["ATH"], {"HOODIE-GRY-L": 1})
    shipment = fulfilment.shipment_create(package_ids=[box.pk], actor=OPS)
    fulfilment.shipment_buy_labels(shipment_id=shipment.pk, actor=OPS)
    shipment = fulfilment.shipment_hand_over(shipment_id=shipment.pk, actor=OPS)
    tracking.tracking_start(shipment_id=shipment.pk)
    ingest(
        shipment,
        event("SBX-PU", 0, shipped_at=shipment.shipped_at),
        event("SBX-DL", 1, shipped_at=shipment.shipped_at),
    )


def test_an_estimate_never_comes_before_the_lanes_fastest_transit_unless_the_carrier_says_so(
    shipped,
    api,
    network,  # noqa: F811
):
    """A "Standard (2 days)" parcel moved from Thursday to today after its first scan: the lane's
    history was odd (parcels "delivered" within the hour), and the predictor followed it."""
    from routing.models import LaneTransit

    for n in range(5):
        deliver_quickly(api, network, f"QUICK-{n}")
    assert tracking.lane_transit_days(shipped) and max(tracking.lane_transit_days(shipped)) < 0.1
    LaneTransit.objects.create(warehouse=shipped.warehouse, country="GR", postal_prefix="", transit_days=2)
    TrackingState.objects.filter(shipment=shipped).update(carrier_estimate=None)
    handed_over = timezone.localdate(shipped.shipped_at)
    ingest(shipped, event("SBX-PU", 0, shipped_at=shipped.shipped_at))  # the first scan, no estimate
    state = TrackingState.objects.get(shipment=shipped)
    assert state.predicted_date >= handed_over + timedelta(days=2)
    assert state.predicted_earliest >= handed_over + timedelta(days=2)
    # the carrier itself says tomorrow: then it is tomorrow
    tomorrow = handed_over + timedelta(days=1)
    tracking.events_ingest(
        shipment_id=shipped.pk,
        tracking=Tracking(
            shipped.tracking_number, (event("SBX-IT", 2, shipped_at=shipped.shipped_at),), tomorrow
        ),
        source="poll",
    )
    state.refresh_from_db()
    assert (state.carrier_estimate, state.predicted_date) == (tomorrow, tomorrow)
