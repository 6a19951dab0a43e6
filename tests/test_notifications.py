"""Customer messages: every trigger renders and reaches a real SMTP server exactly once per event,
with debounce, quiet hours, unsubscribe, suppression, signed links, provider webhooks and failures."""

import hashlib
import hmac
import json
import re
from datetime import timedelta

import pytest
import responses
from django.utils import timezone

from notifications import handlers, services
from notifications.backends import email_connection_reset
from notifications.defaults import WORDING
from notifications.models import (
    ChannelMessaging,
    Message,
    MessageStatus,
    Suppression,
    Trigger,
)
from oms.events import outbox_publish_pending
from oms.models import DomainEvent
from orders.models import Order
from shipments.carriers import sandbox
from shipments.carriers.base import Tracking
from shipments.carriers.base import TrackingEvent as CarrierEvent
from shipments.models import Shipment
from tests.returns_world import deliver, delivered_order, shipped_order
from tests.smtp import SmtpServer
from tests.test_fulfilment import network  # noqa: F401 (fixture)
from tracking import services as tracking

pytestmark = pytest.mark.django_db
CUSTOMER = "maria.p@example.gr"
PHONE = "+306912345678"


@pytest.fixture
def smtp(settings, tmp_path):
    with SmtpServer() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = server.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.NOTIFICATION_DEBOUNCE_SECONDS = 0
        settings.VAR_DIR = tmp_path  # the SMS log backend writes here
        email_connection_reset()
        yield server.inbox
        email_connection_reset()


def send_due() -> list[str]:
    """Run the handlers of what happened, then send every message that is due (the beat's sweep)."""
    outbox_publish_pending()
    return [services.message_send(message_id=pk).result for pk in services.messages_due()]


def carrier_reports(shipment_id: int, *codes_and_hours: tuple[str, float]) -> None:
    shipment = Shipment.objects.get(pk=shipment_id)
    events = []
    for code, hours in codes_and_hours:
        milestone, incident = sandbox.STATUS_MAP[code]
        at = shipment.shipped_at + timedelta(hours=hours)
        events.append(CarrierEvent(code, f"{code} text", at, milestone, location="Athens", incident=incident))
    tracking.events_ingest(
        shipment_id=shipment_id, tracking=Tracking(shipment.tracking_number, tuple(events)), source="poll"
    )


def subjects(inbox, address: str = CUSTOMER) -> list[str]:
    return [m["Subject"].strip() for m in inbox.to(address)]


def test_an_orders_journey_tells_the_customer_each_step_once_through_smtp(api, network, smtp):  # noqa: F811
    order, shipment_id = shipped_order(api, network, "N-1")
    assert send_due() == ["sent", "sent"]
    deliver(shipment_id)
    assert send_due() == ["sent"]
    assert subjects(smtp) == ["Order N-1 confirmed", "Your order N-1 is on its way", "Delivered: order N-1"]
    shipped = smtp.to(CUSTOMER)[1]
    body = shipped.get_body(("plain",)).get_content()
    assert "Sandbox Post" in body and "/track/" in body
    assert shipped["From"] == "Web shop <orders@oms.example>"
    # delivery updates carry the RFC 8058 one-click unsubscribe; receipts do not
    assert shipped["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(r"<http://127\.0\.0\.1:8000/n/u/[^>]+/>", shipped["List-Unsubscribe"].strip())
    assert smtp.to(CUSTOMER)[0]["List-Unsubscribe"] is None

    # a redelivered event decides nothing new, alone or twice in one batch; a retried task sends
    # nothing twice
    events = list(
        DomainEvent.objects.filter(name__in=["order.allocated", "shipment.shipped", "shipment.delivered"])
    )
    for event in events:
        {
            "order.allocated": handlers.order_confirmed,
            "shipment.shipped": handlers.shipped,
            "shipment.delivered": handlers.delivered,
        }[event.name]([event])
    handlers.shipped([e for e in events if e.name == "shipment.shipped"] * 2)
    for message in Message.objects.all():
        assert services.message_send(message_id=message.pk).result == "done"
    assert send_due() == []
    assert len(smtp.received) == 3
    assert Message.objects.filter(order=order, status=MessageStatus.SENT).count() == 3
    assert set(Message.objects.values_list("event__name", flat=True)) == {
        "order.allocated",
        "shipment.shipped",
        "shipment.delivered",
    }


def _world(api, network, external_id: str, step=lambda: None, **payload):  # noqa: F811
    """A delivered order with a return that has a label and a credit (for the return triggers);
    ``step`` runs between the stages, as time passing would."""
    from returns import services as returns
    from returns.services import InspectionInput
    from tests.test_fulfilment import OPS
    from tests.test_returns import ask

    order = delivered_order(api, network, external_id, **payload)
    step()
    ret = ask(order, ("HOODIE-GRY-L", 1, "too_large"))
    ret = returns.return_label_issue(return_id=ret.pk, actor=OPS)
    step()
    line = ret.lines.get()
    returns.return_receive(
        return_id=ret.pk,
        actor=OPS,
        received={line.pk: 1},
        inspections=[InspectionInput(line_id=line.pk, quantity=1, grade="new", disposition="restock")],
    )
    shipment = Shipment.objects.filter(order=order, direction="outbound").get()
    return order, shipment, ret


@pytest.mark.parametrize("language", ["en", "el"])
def test_every_trigger_renders_in_english_and_greek_and_is_sent(api, network, smtp, language):  # noqa: F811
    order, shipment, ret = _world(api, network, f"L-{language}", language=language)
    Message.objects.all().delete()  # what the journey itself sent is not this test's business
    smtp.received.clear()
    ChannelMessaging.objects.create(channel=order.channel, brand_name="Maria's Shop", sms_triggers=[])
    for trigger in Trigger.values:
        data = {"return_id": ret.pk} if trigger.startswith("return_") else {"shipment_id": shipment.pk}
        (message,) = services.notify(trigger=trigger, order_id=order.pk, event=None, data=data)
        assert services.message_send(message_id=message.pk).result == "sent", trigger
        message.refresh_from_db()
        assert message.language == language
        assert "\x00" not in message.body_html + message.body_text + message.subject
    received = subjects(smtp)
    assert len(received) == len(Trigger.values)
    greek = [s for s in received if re.search("[\u0370-\u03ff]", s)]
    assert len(greek) == (len(received) if language == "el" else 0)
    assert all(order.external_id in s or ret.number in s for s in received)
    credit = ret.credit
    credited = smtp.received[-1].get_body(("plain",)).get_content()
    assert f"{credit.amount:.2f} {credit.currency}" in credited
    assert "Maria's Shop" in credited  # plain text is not HTML-escaped
    html = smtp.received[0].get_body(("html",)).get_content()
    assert "Maria&#x27;s Shop" in html  # HTML is


def test_shipped_and_out_for_delivery_in_one_poll_send_the_latest_state_once(
    api,
    network,  # noqa: F811
    smtp,
    settings,
    clock,
):
    settings.NOTIFICATION_DEBOUNCE_SECONDS = 30
    _order, shipment_id = shipped_order(api, network, "D-1")
    carrier_reports(shipment_id, ("SBX-PU", 0.1), ("SBX-OFD", 0.2))
    assert send_due() == []  # nothing before the debounce ends
    clock.shift(timedelta(seconds=31))
    assert send_due() == ["sent", "sent", "sent"]  # confirmation, out for delivery by e-mail and SMS
    assert subjects(smtp) == ["Order D-1 confirmed", "Your parcel for order D-1 arrives today"]
    shipped = Message.objects.get(trigger=Trigger.SHIPPED)
    assert shipped.status == MessageStatus.SUPERSEDED
    assert shipped.superseded_by.trigger == Trigger.OUT_FOR_DELIVERY
    sms = Message.objects.get(medium="sms")
    assert (sms.recipient, sms.trigger, sms.status) == (PHONE, Trigger.OUT_FOR_DELIVERY, MessageStatus.SENT)
    log = [json.loads(line) for line in (settings.VAR_DIR / "sms.log").read_text().splitlines()]
    assert [(entry["to"], entry["body"]) for entry in log] == [(PHONE, sms.body_text)]
    assert "D-1" in sms.body_text and "/track/" in sms.body_text


def test_quiet_hours_hold_updates_until_morning_in_the_customers_time_zone(
    api,
    network,  # noqa: F811
    smtp,
    clock,
):
    # 21:30 in Athens (UTC+2 in winter)
    evening = timezone.now().replace(hour=19, minute=30, second=0, microsecond=0)
    clock.move_to(evening)
    _order, shipment_id = shipped_order(api, network, "Q-1")
    carrier_reports(shipment_id, ("SBX-NH", 0.5))  # a failed attempt is urgent: it goes at once
    assert send_due() == ["sent", "sent"]  # the failed attempt, by e-mail and by SMS
    assert subjects(smtp) == ["We missed you: parcel for order Q-1"]
    held = Message.objects.filter(status=MessageStatus.SCHEDULED)
    assert list(held.values_list("trigger", flat=True)) == [Trigger.ORDER_CONFIRMED]
    # the held "shipped" gave way to the later state, already told
    assert Message.objects.get(trigger=Trigger.SHIPPED).status == MessageStatus.SUPERSEDED
    morning = (evening + timedelta(days=1)).replace(hour=6, minute=0)  # 08:00 in Athens
    assert {m.send_after for m in held} == {morning}
    clock.move_to(morning - timedelta(minutes=1))
    assert send_due() == []
    clock.move_to(morning + timedelta(seconds=1))
    assert send_due() == ["sent"]
    assert subjects(smtp)[1:] == ["Order Q-1 confirmed"]


def test_one_click_unsubscribe_stops_delivery_updates_but_not_receipts(api, network, smtp, client):  # noqa: F811
    order, shipment_id = shipped_order(api, network, "U-1")
    send_due()
    shipped = smtp.to(CUSTOMER)[1]
    url = shipped["List-Unsubscribe"].strip().strip("<>").replace("http://127.0.0.1:8000", "")
    # a link scanner's GET unsubscribes nobody
    page = client.get(url)
    assert page.status_code == 200 and b"Stop delivery updates" in page.content
    assert not Suppression.objects.exists()
    # the mail client's one-click POST (RFC 8058), without cookie or CSRF token
    done = client.post(url, {"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and b"You will not get delivery updates" in done.content
    assert Suppression.objects.get().category == "delivery"
    assert client.post(url, {"List-Unsubscribe": "One-Click"}).status_code == 200  # again: no change
    assert Suppression.objects.count() == 1
    deliver(shipment_id)
    assert send_due() == ["suppressed"]
    from orders.services import order_cancel  # noqa: F401 (receipts still go: a return's acceptance)

    message = Message.objects.get(trigger=Trigger.DELIVERED)
    assert message.status == MessageStatus.SUPPRESSED and "unsubscribed" in message.last_error
    (receipt,) = services.notify(trigger=Trigger.RETURN_REJECTED, order_id=order.pk, event=None, data={})
    assert services.message_send(message_id=receipt.pk).result == "sent"
    assert subjects(smtp)[-1].startswith("Return ")
    # a tampered token is refused, not followed
    assert client.post(url[:-3] + "xx/").status_code == 400


def test_signed_links_count_opens_and_clicks_and_refuse_forgeries(api, network, smtp, client):  # noqa: F811
    shipped_order(api, network, "K-1")
    send_due()
    html = smtp.to(CUSTOMER)[1].get_body(("html",)).get_content()
    message = Message.objects.get(trigger=Trigger.SHIPPED)
    click = re.search(r'href="http://127\.0\.0\.1:8000(/n/c/[^"]+)"', html).group(1)
    pixel = re.search(r'src="http://127\.0\.0\.1:8000(/n/o/[^"]+)"', html).group(1)
    assert client.get(pixel)["Content-Type"] == "image/gif"
    response = client.get(click)
    assert response.status_code == 302 and "/track/" in response["Location"]
    message.refresh_from_db()
    assert message.opened_at and message.clicked_at
    assert list(message.events.values_list("kind", flat=True)) == ["sent", "opened", "clicked"]
    # altered: one character of the signed token changed
    token = click.split("/")[3]
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert client.get(f"/n/c/{altered}/").status_code == 400
    # forged: a token for another address, signed with a key that is not ours
    from django.core import signing

    forged = signing.dumps(
        {"m": message.pk, "u": "https://evil.example/"},
        key="not-our-key",
        salt="notifications.click",
        compress=True,
    )
    refused = client.get(f"/n/c/{forged}/")
    assert refused.status_code == 400 and "evil" not in refused.get("Location", "")
    assert client.get("/n/o/forged.gif").status_code == 200  # an image answers whatever the token
    assert message.events.count() == 3


def test_a_refused_recipient_fails_for_good_shows_on_the_order_and_suppresses_the_address(
    api,
    network,  # noqa: F811
    smtp,
    ops_client,
):
    smtp.refuse["maria.p@"] = "550 5.1.1 <maria.p@example.gr>: Recipient address rejected: User unknown"
    order, _ = shipped_order(api, network, "F-1")
    assert send_due() == ["failed", "suppressed"]
    failed = Message.objects.get(trigger=Trigger.ORDER_CONFIRMED)
    assert failed.status == MessageStatus.FAILED and "550" in failed.last_error
    assert Suppression.objects.get().reason == "refused"
    page = ops_client.get(f"/dashboard/orders/{order.pk}/")
    assert b"Messages to the customer" in page.content and b"User unknown" in page.content


def test_a_temporary_failure_is_retried_with_growing_waits_then_sent(
    api,
    network,  # noqa: F811
    smtp,
    clock,
    settings,
):
    settings.NOTIFICATION_RETRY_SECONDS = 60
    smtp.refuse["maria.p@"] = "451 4.3.0 Mailbox busy, try later"
    shipped_order(api, network, "T-1")
    outbox_publish_pending()
    Message.objects.exclude(trigger=Trigger.ORDER_CONFIRMED).delete()
    assert send_due() == ["deferred"]
    message = Message.objects.get()
    assert message.attempts == 1
    assert timedelta(seconds=58) < message.send_after - timezone.now() <= timedelta(seconds=60)
    clock.shift(timedelta(seconds=61))
    assert send_due() == ["deferred"]
    message.refresh_from_db()
    assert timedelta(seconds=118) < message.send_after - timezone.now() <= timedelta(seconds=120)
    smtp.refuse.clear()
    clock.shift(timedelta(seconds=121))
    assert send_due() == ["sent"]
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.SENT, 3)
    assert list(message.events.values_list("kind", flat=True)) == ["deferred", "deferred", "sent"]
    assert len(smtp.received) == 1


def test_retries_give_up_after_the_last_attempt(api, network, smtp, clock, settings):  # noqa: F811
    settings.NOTIFICATION_MAX_ATTEMPTS = 2
    smtp.refuse["maria.p@"] = "451 4.3.0 Mailbox busy, try later"
    shipped_order(api, network, "G-1")
    outbox_publish_pending()
    Message.objects.exclude(trigger=Trigger.ORDER_CONFIRMED).delete()
    assert send_due() == ["deferred"]
    clock.shift(timedelta(hours=1))
    assert send_due() == ["failed"]
    assert Message.objects.get().last_error.startswith("gave up after 2 attempts")


def _mailgun_webhook(key: str, event_data: dict) -> dict:
    timestamp, token = (
        str(int(timezone.now().timestamp())),
        "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0",
    )
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": event_data,
    }


def test_mailgun_webhooks_are_verified_and_bounces_suppress_the_address(api, network, smtp, client, settings):  # noqa: F811
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": "key-webhook-signing"}
    shipped_order(api, network, "W-1")
    send_due()
    message = Message.objects.get(trigger=Trigger.SHIPPED)
    delivered = {
        "event": "delivered",
        "id": "hK7mQVt1QtqRiOfQXta4sw",
        "timestamp": timezone.now().timestamp(),
        "recipient": CUSTOMER,
        "message": {"headers": {"message-id": "20261125.1@mg.example.gr"}},
        "user-variables": {"oms_message_id": str(message.pk)},
        "delivery-status": {"code": 250, "message": "OK", "description": ""},
    }
    url = "/n/anymail/mailgun/tracking/"
    ok = client.post(url, _mailgun_webhook("key-webhook-signing", delivered), content_type="application/json")
    assert ok.status_code == 200
    message.refresh_from_db()
    assert message.delivered_at is not None
    bounced = {
        **delivered,
        "event": "failed",
        "severity": "permanent",
        "reason": "bounce",
        "delivery-status": {
            "code": 550,
            "message": "5.1.1 The email account does not exist",
            "description": "",
        },
    }
    forged = client.post(url, _mailgun_webhook("guessed-key", bounced), content_type="application/json")
    assert forged.status_code == 400
    assert not Suppression.objects.exists()
    assert (
        client.post(
            url, _mailgun_webhook("key-webhook-signing", bounced), content_type="application/json"
        ).status_code
        == 200
    )
    message.refresh_from_db()
    assert message.bounced_at is not None
    assert Suppression.objects.get(address=CUSTOMER).reason == "bounced"
    settings.ANYMAIL = {}
    assert client.post(url, _mailgun_webhook("", bounced), content_type="application/json").status_code == 404


TWILIO_CREATED = {
    "account_sid": "AC0123456789abcdef0123456789abcdef",
    "api_version": "2010-04-01",
    "body": "",
    "date_created": "Wed, 25 Nov 2026 09:00:00 +0000",
    "direction": "outbound-api",
    "error_code": None,
    "error_message": None,
    "from": "+15017122661",
    "num_segments": "1",
    "price": None,
    "sid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
    "status": "queued",
    "to": PHONE,
    "uri": "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages/"
    "SM1f0e8ae6ade43cb3c0ce4525424e404f.json",
}


@responses.activate
def test_sms_through_twilio_and_its_signed_status_callback(api, network, smtp, settings, client):  # noqa: F811
    settings.SMS_BACKEND = "notifications.backends.TwilioSmsBackend"
    settings.TWILIO_ACCOUNT_SID = TWILIO_CREATED["account_sid"]
    settings.TWILIO_AUTH_TOKEN = "twilio-auth-token"
    settings.TWILIO_STATUS_CALLBACK = "https://oms.example/n/twilio/status/"
    url = f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_CREATED['account_sid']}/Messages.json"
    responses.add(responses.POST, url, json=TWILIO_CREATED, status=201)
    _order, shipment_id = shipped_order(api, network, "S-1")
    carrier_reports(shipment_id, ("SBX-OFD", 1))
    send_due()
    sms = Message.objects.get(medium="sms")
    assert (sms.status, sms.provider_id) == (MessageStatus.SENT, TWILIO_CREATED["sid"])
    sent = responses.calls[0].request
    form = dict(pair.split("=", 1) for pair in sent.body.split("&"))
    assert form["To"] == "%2B306912345678" and form["From"] == "OMS"
    assert sent.headers["Authorization"].startswith("Basic ")

    from notifications.webhooks import twilio_signature

    params = {
        "MessageSid": TWILIO_CREATED["sid"],
        "MessageStatus": "undelivered",
        "ErrorCode": "30006",
        "To": PHONE,
        "AccountSid": TWILIO_CREATED["account_sid"],
    }
    assert client.post("/n/twilio/status/", params, HTTP_X_TWILIO_SIGNATURE="forged=").status_code == 400
    signature = twilio_signature(settings.TWILIO_STATUS_CALLBACK, params, "twilio-auth-token")
    assert client.post("/n/twilio/status/", params, HTTP_X_TWILIO_SIGNATURE=signature).status_code == 204
    sms.refresh_from_db()
    assert sms.bounced_at is not None and Suppression.objects.get().address == PHONE


@responses.activate
def test_twilio_refusing_a_number_fails_the_sms_for_good(api, network, smtp, settings):  # noqa: F811
    settings.SMS_BACKEND = "notifications.backends.TwilioSmsBackend"
    settings.TWILIO_ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
    settings.TWILIO_AUTH_TOKEN = "t"
    responses.add(
        responses.POST,
        "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json",
        json={
            "code": 21211,
            "message": "The 'To' number +306912345678 is not a valid phone number.",
            "more_info": "https://www.twilio.com/docs/errors/21211",
            "status": 400,
        },
        status=400,
    )
    _order, shipment_id = shipped_order(api, network, "S-2")
    carrier_reports(shipment_id, ("SBX-OFD", 1))
    send_due()
    sms = Message.objects.get(medium="sms")
    assert sms.status == MessageStatus.FAILED and "21211" in sms.last_error
    assert len(responses.calls) == 1


def test_return_parcels_and_disabled_triggers_tell_the_customer_nothing(api, network, smtp):  # noqa: F811
    order, _shipment, _ret = _world(api, network, "X-1", step=send_due)
    send_due()
    sent = [m.trigger for m in Message.objects.filter(status=MessageStatus.SENT).order_by("pk")]
    # the return label parcel's own tracking sends nothing; the return's steps do (received and
    # credited in one go: the latest state only)
    assert sent == [
        Trigger.ORDER_CONFIRMED,
        Trigger.DELIVERED,
        Trigger.RETURN_AUTHORISED,
        Trigger.RETURN_CREDITED,
    ]
    assert Message.objects.get(trigger=Trigger.RETURN_RECEIVED).status == MessageStatus.SUPERSEDED
    ChannelMessaging.objects.create(channel=order.channel, email_triggers=[], sms_triggers=[])
    assert services.notify(trigger=Trigger.SHIPPED, order_id=order.pk, event=None, data={}) == []


def test_the_order_language_falls_back_to_the_channels(api, network, smtp):  # noqa: F811
    response = api.post(
        "/api/v1/orders/",
        {**__import__("tests.factories").factories.order_payload("LG-1"), "language": "EL"},
        format="json",
    )
    assert response.status_code == 400 and "language" in response.json()["error"]["details"]
    order, _ = shipped_order(api, network, "LG-2", language="fr")
    assert Order.objects.get(pk=order.pk).language == "fr"
    ChannelMessaging.objects.create(channel=order.channel, language="el")
    send_due()
    assert all(m.language == "el" for m in Message.objects.all())
    greek = WORDING[Trigger.ORDER_CONFIRMED]["el"]["subject"].replace("{{ order.reference }}", "LG-2")
    assert subjects(smtp)[0] == greek


def test_a_message_opened_twice_counts_once_in_the_rates(api, network, smtp, client, clock):  # noqa: F811
    from notifications.selectors import message_rates

    shipped_order(api, network, "O-1")
    send_due()
    message = Message.objects.get(trigger=Trigger.SHIPPED)
    html = smtp.to(CUSTOMER)[1].get_body(("html",)).get_content()
    pixel = re.search(r'src="http://127\.0\.0\.1:8000(/n/o/[^"]+)"', html).group(1)
    client.get(pixel)
    first_open = Message.objects.get(pk=message.pk).opened_at
    clock.shift(timedelta(hours=3))
    client.get(pixel)
    message.refresh_from_db()
    assert message.opened_at == first_open  # the first open is the one stamped
    assert list(message.events.values_list("kind", flat=True)) == ["sent", "opened", "opened"]
    rates = message_rates(since=first_open - timedelta(days=1), until=first_open + timedelta(days=1))
    assert (rates.total.sent, rates.total.opened, rates.total.opened_rate) == (2, 1, 0.5)


@pytest.mark.parametrize(
    "path",
    [
        "/n/c/not-a-token/",
        "/n/u/not-a-token/",
        "/n/c/" + "A" * 5000 + "/",
        "/n/u/eyJtIjoxfQ:1xW8rA:" + "x" * 43 + "/",
        "/n/c/%00/",
    ],
)
def test_hostile_links_get_a_plain_refusal(client, path):
    for method in (client.get, client.post):
        response = method(path)
        assert response.status_code == 400, (path, response.status_code)
    assert client.get("/n/o/%00.gif").status_code in (200, 400)


def test_provider_webhooks_refuse_garbage(client, settings):
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": "k"}
    url = "/n/anymail/mailgun/tracking/"
    assert client.post(url, "{not json", content_type="application/json").status_code == 400
    assert client.post(url, {"token": "x"}).status_code == 400
    settings.TWILIO_AUTH_TOKEN, settings.TWILIO_STATUS_CALLBACK = "t", "https://oms.example/n/twilio/status/"
    assert client.post("/n/twilio/status/", {"MessageSid": "SM1"}).status_code == 400
    assert client.get("/n/twilio/status/").status_code == 405


def _hold_sending_lock(message_id: int):
    """Another session (another worker's batch) holding a message's sending lock."""
    import psycopg

    from tests.stack import database_url

    other = psycopg.connect(database_url(), autocommit=True)
    other.execute("SELECT pg_advisory_lock(%s, %s)", [services.SENDING_LOCK, message_id % 2147483647])
    return other


def test_the_sweeps_batches_send_each_due_message_once(api, network, smtp, clock):  # noqa: F811
    from notifications.tasks import send_due

    smtp.refuse["nobody@"] = "550 5.1.1 No such user"
    for n in range(2):
        shipped_order(api, network, f"BA-{n}")
    shipped_order(api, network, "BA-9", customer={"email": "nobody@example.gr"})
    outbox_publish_pending()
    Suppression.objects.create(address="maria.p@example.gr", category="delivery", reason="unsubscribed")
    clock.shift(timedelta(minutes=2))  # the sweep takes what is overdue
    assert send_due.apply().get() == 6
    by_status = {}
    for message in Message.objects.order_by("pk"):
        by_status.setdefault(message.status, []).append((message.order.external_id, message.trigger))
    # receipts go; the shipped updates were unsubscribed from; the bad address fails, for good
    assert by_status == {
        MessageStatus.SENT: [("BA-0", Trigger.ORDER_CONFIRMED), ("BA-1", Trigger.ORDER_CONFIRMED)],
        MessageStatus.SUPPRESSED: [("BA-0", Trigger.SHIPPED), ("BA-1", Trigger.SHIPPED)],
        MessageStatus.FAILED: [("BA-9", Trigger.ORDER_CONFIRMED), ("BA-9", Trigger.SHIPPED)],
    }
    assert len(smtp.received) == 2
    assert Suppression.objects.get(address="nobody@example.gr").reason == "refused"
    for message in Message.objects.filter(status=MessageStatus.SENT):
        assert list(message.events.values_list("kind", flat=True)) == ["sent"]
        assert message.attempts == 1 and message.subject.startswith("Order BA-")
        assert message.sent_at is not None and "BA-" in message.body_text
    # a second sweep, or a batch named again, sends nothing more
    assert services.messages_send_batch(message_ids=list(Message.objects.values_list("pk", flat=True))) == {}
    assert send_due.apply().get() == 0
    assert len(smtp.received) == 2


def test_a_message_another_worker_is_sending_is_left_alone(api, network, smtp, settings):  # noqa: F811
    settings.NOTIFICATION_DEBOUNCE_SECONDS = 30
    _, shipment_id = shipped_order(api, network, "LK-1")
    outbox_publish_pending()
    shipped = Message.objects.get(trigger=Trigger.SHIPPED)
    Message.objects.filter(pk=shipped.pk).update(send_after=timezone.now())
    other = _hold_sending_lock(shipped.pk)
    try:
        assert services.message_send(message_id=shipped.pk).result == "busy"
        assert services.messages_send_batch(message_ids=[shipped.pk]) == {}
        # the debounce does not replace what is being sent right now
        carrier_reports(shipment_id, ("SBX-OFD", 1))
        outbox_publish_pending()
        shipped.refresh_from_db()
        assert shipped.status == MessageStatus.SCHEDULED
    finally:
        other.close()
    assert services.message_send(message_id=shipped.pk).result == "sent"
    assert len(smtp.to(CUSTOMER)) == 1
