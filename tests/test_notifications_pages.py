"""Customer messages in admin and the dashboard: templates refused at save when they cannot render,
previewed on a real order; the sent-messages list, a message as the customer reads it, rates, CSV,
sending again, and the order page's message log."""

import csv
import io

import pytest
from django.contrib.auth.models import User

from notifications import services
from notifications.models import ChannelMessaging, Message, MessageStatus, MessageTemplate, Trigger
from tests.returns_world import shipped_order
from tests.test_fulfilment import network  # noqa: F401 (fixture)
from tests.test_notifications import CUSTOMER, send_due, smtp  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root", password="pw-root-123"))
    return client


def template_form(**fields) -> dict:
    return {
        "trigger": "shipped",
        "language": "en",
        "channel": "",
        "subject": "",
        "html": "",
        "text": "",
        "sms": "",
        **fields,
    }


def test_a_template_that_cannot_render_is_refused_at_save_with_the_reason(admin_client):
    url = "/admin/notifications/messagetemplate/add/"
    typo = admin_client.post(url, template_form(subject="Order {{ ordr.reference }} shipped"))
    assert typo.status_code == 200
    assert "This template cannot be rendered: unknown variable ordr.reference" in typo.content.decode()
    syntax = admin_client.post(url, template_form(html="<p>{% if order.reference %}open</p>"))
    assert "This template cannot be rendered" in syntax.content.decode()
    assert "endif" in syntax.content.decode()
    long_sms = admin_client.post(url, template_form(sms="{{ order.lines }} " + "x" * 600))
    assert "keep it to three at most" in long_sms.content.decode()
    assert not MessageTemplate.objects.exists()
    ok = admin_client.post(url, template_form(sms="{{ brand.name }}: {{ order.reference }} is on its way!"))
    assert ok.status_code == 302
    assert MessageTemplate.objects.get().sms.endswith("on its way!")


def test_the_add_form_starts_from_the_built_in_wording(admin_client):
    page = admin_client.get("/admin/notifications/messagetemplate/add/?trigger=delayed&language=el")
    assert "Καθυστέρηση στην παραγγελία" in page.content.decode()


def test_a_template_is_previewed_on_a_real_order_with_its_channels_template(
    admin_client,
    api,
    network,  # noqa: F811
    smtp,  # noqa: F811
):
    order, _ = shipped_order(api, network, "P-1")
    ChannelMessaging.objects.create(channel=order.channel, brand_name="Papadopoulos & Co", colour="#aa3300")
    template = MessageTemplate.objects.create(
        trigger=Trigger.SHIPPED,
        language="en",
        channel=order.channel,
        sms="{{ brand.name }}: {{ order.reference }} left with {{ shipment.carrier }}",
    )
    page = admin_client.get(f"/admin/notifications/messagetemplate/{template.pk}/preview/?order={order.pk}")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Subject: Your order P-1 is on its way" in text
    assert (
        "Papadopoulos &amp;amp; Co: P-1 left with Sandbox Post" in text
        or "Papadopoulos &amp; Co: P-1 left with Sandbox Post" in text
    )
    assert "segment" in text and "GSM-7" in text
    assert "#aa3300" in text  # the channel's colour in the e-mail


def test_the_sent_messages_pages_show_what_the_customer_read(
    ops_client,
    api,
    network,  # noqa: F811
    smtp,  # noqa: F811
):
    order, _ = shipped_order(api, network, "M-1")
    send_due()
    shipped = Message.objects.get(trigger=Trigger.SHIPPED)
    listing = ops_client.get("/dashboard/messages/")
    text = listing.content.decode()
    assert listing.status_code == 200 and "Your order M-1 is on its way" in text
    assert 'data-queue="sent">Sent <b>2</b>' in text
    assert ops_client.get("/dashboard/messages/?status=failed").content.decode().count("<tr>") == 0
    found = ops_client.get(f"/dashboard/messages/?q={CUSTOMER}").content.decode()
    assert "Order M-1 confirmed" in found
    by_number = ops_client.get(f"/dashboard/messages/?q={order.number}").content.decode()
    assert "Order M-1 confirmed" in by_number
    detail = ops_client.get(f"/dashboard/messages/{shipped.pk}/").content.decode()
    assert "srcdoc=" in detail and "Sandbox Post" in detail and 'sandbox=""' in detail
    # ops looking at the e-mail do not count as the customer opening it: the preview has no pixel
    assert "/n/o/" in shipped.body_html and "/n/o/" not in detail
    rows = list(
        csv.reader(
            io.StringIO(b"".join(ops_client.get("/dashboard/messages/export.csv").streaming_content).decode())
        )
    )
    assert rows[0][:4] == ["message", "created_at", "sent_at", "status"] and len(rows) == 3
    rates = ops_client.get("/dashboard/messages/rates/").content.decode()
    assert 'id="total-sent">2<' in rates
    # sending again makes a new message, rendered afresh; the original stays in the log
    again = ops_client.post(f"/dashboard/messages/{shipped.pk}/resend/")
    copy = Message.objects.latest("pk")
    assert again.status_code == 302 and copy.pk != shipped.pk and copy.trigger == Trigger.SHIPPED
    assert services.message_send(message_id=copy.pk).result == "sent"
    assert len(smtp.to(CUSTOMER)) == 3
    superseded = Message.objects.create(
        order=order,
        channel=order.channel,
        trigger=Trigger.DELIVERED,
        category="delivery",
        medium="email",
        recipient=CUSTOMER,
        language="en",
        status=MessageStatus.SUPERSEDED,
        send_after=copy.send_after,
    )
    refused = ops_client.post("/dashboard/messages/resend/", {"message": [superseded.pk]}, follow=True)
    assert "cannot be sent again" in refused.content.decode()
    panel = ops_client.get(f"/dashboard/orders/{order.pk}/").content.decode()
    assert "Messages to the customer" in panel and panel.count("/dashboard/messages/") >= 3


def test_the_message_pages_are_for_ops_only(client, db):
    assert client.get("/dashboard/messages/").status_code == 302
    assert client.get("/dashboard/messages/rates/").status_code == 302


def test_customer_data_in_a_preview_or_a_message_page_is_text_not_markup(
    ops_client,
    api,
    network,  # noqa: F811
    smtp,  # noqa: F811
):
    from tests.factories import order_payload

    hostile = "<script>alert(1)</script>"
    body = order_payload("X-1")
    body["customer"]["first_name"] = hostile
    order, _ = shipped_order(api, network, "X-1", customer=body["customer"])
    send_due()
    template = MessageTemplate.objects.create(trigger=Trigger.SHIPPED, language="en")
    from django.test import Client

    admin_client = Client()
    admin_client.force_login(User.objects.create_superuser("root", password="pw-root-123"))
    for page in (
        admin_client.get(f"/admin/notifications/messagetemplate/{template.pk}/preview/?order={order.pk}"),
        ops_client.get(f"/dashboard/messages/{Message.objects.get(trigger=Trigger.SHIPPED).pk}/"),
    ):
        text = page.content.decode()
        assert hostile not in text
        assert 'srcdoc="&lt;!doctype html&gt;' in text
