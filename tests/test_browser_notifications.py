"""The sent-messages pages in headless Chromium: the list with its queues, a message as the customer
reads it (the e-mail in a sandboxed frame), the rates, and the order page's message log."""

import pytest

from notifications.models import Message, Trigger
from tests.returns_world import deliver, shipped_order
from tests.test_browser import browser, log_in, page, shot  # noqa: F401 (fixtures)
from tests.test_fulfilment import network  # noqa: F401 (fixture)
from tests.test_notifications import send_due, smtp  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_ops_read_the_messages_the_customer_got(page, ops_user, api, network, smtp):  # noqa: F811
    order, shipment_id = shipped_order(api, network, "B-1")
    send_due()
    deliver(shipment_id)
    send_due()
    log_in(page)
    page.goto("/dashboard/messages/")
    assert page.inner_text("[data-queue=sent] b") == "3"
    rows = page.locator("#messages tbody tr")
    assert rows.count() == 3
    assert "Delivered: order B-1" in rows.first.inner_text()
    shot(page, "messages-list")
    page.click('#messages a:text-is("Shipped")')
    page.wait_for_selector("#rendered iframe")
    frame = page.frame_locator("#rendered iframe")
    assert "Good news, Maria" in frame.locator("body").inner_text()
    assert "Track your parcel" in frame.locator("body").inner_text()
    shot(page, "message-detail")
    page.goto("/dashboard/messages/rates/")
    assert page.inner_text("#total-sent") == "3"
    assert page.locator("#daily .column").count() == 14
    shot(page, "message-rates")
    page.goto(f"/dashboard/orders/{order.pk}/")
    assert page.locator("#messages tbody tr").count() == 3
    shipped = Message.objects.get(trigger=Trigger.SHIPPED)
    page.click(f"#messages a[href='/dashboard/messages/{shipped.pk}/']")
    page.wait_for_selector("#history")
    assert "Sent" in page.inner_text("#history")


def test_the_customer_unsubscribes_and_the_admin_previews_a_template(page, api, network, smtp):  # noqa: F811
    from django.contrib.auth.models import User

    from notifications.models import MessageTemplate, Suppression

    shipped_order(api, network, "U-1")
    send_due()
    link = smtp.to("maria.p@example.gr")[1]["List-Unsubscribe"].strip().strip("<>")
    page.goto(link.replace("http://127.0.0.1:8000", ""))
    assert "Stop delivery updates from Web shop?" in page.inner_text("h1")
    shot(page, "unsubscribe-ask")
    page.click('button:has-text("Stop delivery updates")')
    page.wait_for_selector("text=You will not get delivery updates any more")
    assert Suppression.objects.get().category == "delivery"
    shot(page, "unsubscribe-done")
    page.goto("/n/c/altered-token/")
    assert "This link is not valid" in page.inner_text("h1")

    User.objects.create_superuser("root", password="pw-root-123")
    log_in(page, "root", "pw-root-123")
    template = MessageTemplate.objects.create(
        trigger=Trigger.SHIPPED, language="el", sms="{{ brand.name }}: {{ order.reference }} στάλθηκε"
    )
    page.goto(f"/admin/notifications/messagetemplate/{template.pk}/preview/")
    assert "U-1" in page.inner_text("#sms")
    assert "UCS-2" in page.inner_text("#content")
    shot(page, "admin-template-preview")
    greeting = page.frame_locator("iframe[title='E-mail preview']").locator("text=Καλά νέα, Maria")
    greeting.wait_for()
