"""Orders from Shopify's and WooCommerce's own webhooks, on bodies shaped as the platforms document
them (tests/payloads/): each signature checked over the raw body (forged, unsigned and another shop's
refused, nothing stored), each delivery applied once however often it comes, and each platform's
order mapped onto exactly the order it describes: SKUs (through the mapping table where the shop's
differ from ours), quantities, prices, discounts, shipping, taxes, customer and address. Updates
move the address, cancellations cancel, and what cannot be applied waits for ops with its reason."""

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from integrations.models import Platform, ShopConnection, ShopWebhook, ShopWebhookStatus
from integrations.shops import services as shops
from orders import services as orders
from orders.models import Order, OrderStatus
from tests.clock import at, iso

pytestmark = pytest.mark.django_db

PAYLOADS = Path(__file__).resolve().parent / "payloads"
SHOPIFY_SECRET = "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"
WOO_SECRET = "wc-webhook-secret-7d9c"


@pytest.fixture
def catalogue(db):
    orders.products_upsert(
        products=[
            orders.ProductInput(sku=sku, name=name)
            for sku, name in (
                ("SKU2006-001", "Aviator sunglasses"),
                ("LOUNGER-MC", "Mid-century lounger"),
                ("WOO-SINGLE", "Woo Single #1"),
                ("BAR3", "Ship Your Idea, black M"),
            )
        ]
    )


@pytest.fixture
def shopify(channel, catalogue):
    connection = ShopConnection.objects.create(
        code="jsmith",
        platform=Platform.SHOPIFY,
        channel=channel,
        shop_url="https://jsmith.myshopify.com",
        webhook_secret=SHOPIFY_SECRET,
    )
    shops.sku_mapping_set(connection=connection, channel_sku="SKU2006-020", sku="lounger-mc")
    return connection


@pytest.fixture
def woo(other_channel, catalogue):
    connection = ShopConnection.objects.create(
        code="woo-shop",
        platform=Platform.WOOCOMMERCE,
        channel=other_channel,
        shop_url="https://example.com",
        webhook_secret=WOO_SECRET,
    )
    shops.sku_mapping_set(connection=connection, channel_sku="product:93", sku="WOO-SINGLE")
    return connection


def shopify_order(name: str = "orders_create.json") -> dict:
    payload = json.loads((PAYLOADS / "shopify" / name).read_text())
    payload["created_at"] = payload["processed_at"] = iso(at(hours=-2), -5)
    payload["updated_at"] = iso(at(minutes=-5), -5)
    if payload["cancelled_at"]:
        payload["cancelled_at"] = payload["updated_at"]
    return payload


def woo_order(name: str = "order_created.json") -> dict:
    payload = json.loads((PAYLOADS / "woocommerce" / name).read_text())
    if "date_created_gmt" in payload:
        placed = at(hours=-3).replace(tzinfo=None)
        payload["date_created_gmt"] = placed.isoformat()
        payload["date_paid_gmt"] = (placed + timedelta(seconds=6)).isoformat()
    return payload


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def post_shopify(
    client,
    payload,
    *,
    topic="orders/create",
    webhook_id="b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
    secret=SHOPIFY_SECRET,
    code="jsmith",
):
    body = json.dumps(payload).encode()
    return client.post(
        f"/api/v1/shops/{code}/webhooks/",
        data=body,
        content_type="application/json",
        HTTP_X_SHOPIFY_TOPIC=topic,
        HTTP_X_SHOPIFY_HMAC_SHA256=sign(secret, body),
        HTTP_X_SHOPIFY_SHOP_DOMAIN="jsmith.myshopify.com",
        HTTP_X_SHOPIFY_WEBHOOK_ID=webhook_id,
        HTTP_X_SHOPIFY_API_VERSION="2024-10",
    )


def post_woo(client, payload, *, topic="order.created", delivery="a7c3ae1e2f6d4d5a8b1c", secret=WOO_SECRET):
    body = json.dumps(payload).encode()
    return client.post(
        "/api/v1/shops/woo-shop/webhooks/",
        data=body,
        content_type="application/json",
        HTTP_X_WC_WEBHOOK_SOURCE="https://example.com/",
        HTTP_X_WC_WEBHOOK_TOPIC=topic,
        HTTP_X_WC_WEBHOOK_RESOURCE=topic.split(".")[0],
        HTTP_X_WC_WEBHOOK_EVENT=topic.split(".")[1],
        HTTP_X_WC_WEBHOOK_SIGNATURE=sign(secret, body),
        HTTP_X_WC_WEBHOOK_ID="12",
        HTTP_X_WC_WEBHOOK_DELIVERY_ID=delivery,
    )


def lines_of(order: Order) -> list[tuple]:
    return [
        (line.sku, line.quantity, line.unit_price, line.discount, line.total)
        for line in order.lines.order_by("line_number")
    ]


def test_a_shopify_order_becomes_exactly_the_order_it_describes(
    client, shopify, other_api, django_capture_on_commit_callbacks
):
    payload = shopify_order()
    with django_capture_on_commit_callbacks(execute=True):
        answer = post_shopify(client, payload)
    assert answer.status_code == 200 and answer.json() == {
        "received": True,
        "duplicate": False,
        "ignored": False,
    }
    hook = ShopWebhook.objects.get()
    assert hook.status == ShopWebhookStatus.PROCESSED, (hook.outcome, hook.errors)
    order = Order.objects.select_related("shipping_address", "customer").get()
    assert hook.order_id == order.pk and hook.outcome.startswith(f"Order {order.number} created.")
    assert "555-555-SHIP" in hook.outcome  # the phone nobody can call was left out, and said so
    assert (order.channel_id, order.external_id, order.currency, order.payment_status) == (
        shopify.channel_id,
        "#9999",
        "USD",
        "paid",
    )
    assert order.placed_at == at(hours=-2)
    assert (order.contact_email, order.contact_phone, order.contact_first_name, order.contact_last_name) == (
        "jon@example.com",
        None,
        "John",
        "Smith",
    )
    address = order.shipping_address
    assert (address.name, address.company, address.line1, address.line2, address.city) == (
        "Steve Shipper",
        "Shipping Company",
        "123 Shipping Street",
        "",
        "Shippington",
    )
    assert (address.region, address.postal_code, address.country, address.phone) == ("KY", "40003", "US", "")
    # the lounger is SKU2006-020 in the shop and LOUNGER-MC here: the mapping table says so
    assert lines_of(order) == [
        ("SKU2006-001", 1, Decimal("89.99"), Decimal("0.00"), Decimal("89.99")),
        ("LOUNGER-MC", 1, Decimal("159.99"), Decimal("5.00"), Decimal("154.99")),
    ]
    assert (order.subtotal, order.discount_total, order.order_discount) == (
        Decimal("249.98"),
        Decimal("5.00"),
        Decimal("0.00"),
    )
    assert (order.shipping_total, order.tax_total, order.total) == (
        Decimal("10.00"),
        Decimal("0.00"),
        Decimal(payload["total_price"]),
    )
    # the order is the shop's channel's: another channel's key does not see it
    assert other_api.get(f"/api/v1/orders/{order.pk}/").status_code == 404


def test_a_delivery_again_or_the_same_order_again_is_applied_once(
    client, shopify, django_capture_on_commit_callbacks
):
    payload = shopify_order()
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, payload)
        again = post_shopify(client, payload)  # Shopify's retry: the same X-Shopify-Webhook-Id
        other = post_shopify(client, payload, webhook_id="0d2f0f3a-second-delivery")
    assert again.json() == {"received": True, "duplicate": True, "ignored": False}
    assert other.json()["duplicate"] is False
    assert Order.objects.count() == 1
    second = ShopWebhook.objects.get(webhook_id="0d2f0f3a-second-delivery")
    assert second.status == ShopWebhookStatus.PROCESSED and "was already here" in second.outcome
    assert ShopWebhook.objects.count() == 2


@pytest.mark.parametrize(
    "forge",
    [
        {"secret": "shpss_another_apps_secret"},
        {"tamper": True},
        {"unsigned": True},
    ],
)
def test_forged_tampered_and_unsigned_calls_are_refused_and_nothing_is_stored(client, shopify, forge):
    payload = shopify_order()
    body = json.dumps(payload).encode()
    signature = sign(forge.get("secret", SHOPIFY_SECRET), body)
    if forge.get("tamper"):
        body = body.replace(b'"89.99"', b'"0.01"')
    headers = {"HTTP_X_SHOPIFY_TOPIC": "orders/create", "HTTP_X_SHOPIFY_WEBHOOK_ID": "x-1"}
    if not forge.get("unsigned"):
        headers["HTTP_X_SHOPIFY_HMAC_SHA256"] = signature
    answer = client.post(
        "/api/v1/shops/jsmith/webhooks/", data=body, content_type="application/json", **headers
    )
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "webhook_bad_signature"
    assert not ShopWebhook.objects.exists() and not Order.objects.exists()


def test_an_unknown_shop_is_a_404_and_another_topic_is_acknowledged_and_ignored(client, shopify):
    assert post_shopify(client, shopify_order(), code="no-such-shop").status_code == 404
    answer = post_shopify(client, {"id": 1, "title": "Hat"}, topic="products/update")
    assert answer.status_code == 200 and answer.json()["ignored"] is True
    assert not ShopWebhook.objects.exists()


def test_an_unknown_sku_waits_for_ops_and_is_applied_once_mapped(
    client, shopify, django_capture_on_commit_callbacks
):
    shopify.sku_mappings.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, shopify_order())
    hook = ShopWebhook.objects.get()
    assert hook.status == ShopWebhookStatus.FAILED and not Order.objects.exists()
    assert list(hook.errors) == ["lines.1.sku"] and "SKU2006-020" in hook.errors["lines.1.sku"][0]
    # the webhooks page's shop queue shows it, with the problem, to ops
    shops.sku_mapping_set(connection=shopify, channel_sku="SKU2006-020", sku="LOUNGER-MC")
    hook = shops.shop_webhook_retry(webhook_id=hook.pk)
    assert hook.status == ShopWebhookStatus.PROCESSED and hook.attempts == 2
    assert [line[0] for line in lines_of(Order.objects.get())] == ["SKU2006-001", "LOUNGER-MC"]


def test_an_update_moves_the_address_and_a_cancellation_cancels(
    client, shopify, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, shopify_order())
        post_shopify(client, shopify_order("orders_updated.json"), topic="orders/updated", webhook_id="u-1")
    order = Order.objects.select_related("shipping_address").get()
    assert order.shipping_address.line1 == "456 Moving Avenue"
    assert "shipping address changed" in ShopWebhook.objects.get(webhook_id="u-1").outcome
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(
            client, shopify_order("orders_cancelled.json"), topic="orders/cancelled", webhook_id="c-1"
        )
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert ShopWebhook.objects.get(webhook_id="c-1").outcome == f"Order {order.number} cancelled."


def test_an_update_before_its_creation_creates_the_order(client, shopify, django_capture_on_commit_callbacks):
    """Shopify does not promise order: orders/updated may come first, or orders/create be lost."""
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, shopify_order("orders_updated.json"), topic="orders/updated", webhook_id="u-0")
        post_shopify(client, shopify_order())
    order = Order.objects.select_related("shipping_address").get()
    assert order.shipping_address.line1 == "456 Moving Avenue"


def test_a_woocommerce_order_becomes_exactly_the_order_it_describes(
    client, woo, django_capture_on_commit_callbacks
):
    payload = woo_order()
    with django_capture_on_commit_callbacks(execute=True):
        answer = post_woo(client, payload)
    assert answer.json() == {"received": True, "duplicate": False, "ignored": False}
    hook = ShopWebhook.objects.get()
    assert hook.status == ShopWebhookStatus.PROCESSED, (hook.outcome, hook.errors)
    order = Order.objects.select_related("shipping_address").get()
    assert (order.channel_id, order.external_id, order.currency, order.payment_status) == (
        woo.channel_id,
        "727",
        "USD",
        "paid",
    )
    assert order.placed_at == at(hours=-3)
    assert (order.contact_email, order.contact_first_name, order.contact_last_name) == (
        "john.doe@example.com",
        "John",
        "Doe",
    )
    address = order.shipping_address
    assert (
        address.name,
        address.line1,
        address.city,
        address.region,
        address.postal_code,
        address.country,
    ) == (
        "John Doe",
        "969 Market",
        "San Francisco",
        "CA",
        "94103",
        "US",
    )
    # "Woo Single #1" has no SKU: product 93 is mapped; Bar3 is our BAR3 as it stands
    assert lines_of(order) == [
        ("WOO-SINGLE", 2, Decimal("3.00"), Decimal("0.00"), Decimal("6.00")),
        ("BAR3", 1, Decimal("12.00"), Decimal("0.00"), Decimal("12.00")),
    ]
    assert (order.shipping_total, order.tax_total, order.order_discount, order.total) == (
        Decimal("10.00"),
        Decimal("1.35"),
        Decimal("0.00"),
        Decimal("29.35"),
    )


def test_woocommerce_ping_cancellation_and_deletion(client, woo, django_capture_on_commit_callbacks):
    # the ping WooCommerce sends when a webhook is saved: unsigned, form-encoded, answered 200
    ping = client.post(
        "/api/v1/shops/woo-shop/webhooks/",
        data=b"webhook_id=12",
        content_type="application/x-www-form-urlencoded",
    )
    assert ping.status_code == 200 and ping.json()["ignored"] is True
    with django_capture_on_commit_callbacks(execute=True):
        post_woo(client, woo_order())
        post_woo(client, woo_order("order_updated_cancelled.json"), topic="order.updated", delivery="d-2")
    order = Order.objects.get()
    assert order.status == OrderStatus.CANCELLED
    with django_capture_on_commit_callbacks(execute=True):
        post_woo(client, woo_order("order_deleted.json"), topic="order.deleted", delivery="d-3")
    assert ShopWebhook.objects.get(webhook_id="d-3").outcome == f"Order {order.number} was already cancelled."
    # a deletion of an order we never had: nothing to do
    with django_capture_on_commit_callbacks(execute=True):
        post_woo(client, {"id": 8080}, topic="order.deleted", delivery="d-4")
    assert ShopWebhook.objects.get(webhook_id="d-4").status == ShopWebhookStatus.IGNORED


@pytest.mark.parametrize(
    "body",
    [
        b"[1, 2, 3]",
        b"not json at all",
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_hostile_signed_bodies_get_a_4xx_and_nothing_is_stored(client, shopify, body):
    answer = client.post(
        "/api/v1/shops/jsmith/webhooks/",
        data=body,
        content_type="application/json",
        HTTP_X_SHOPIFY_TOPIC="orders/create",
        HTTP_X_SHOPIFY_HMAC_SHA256=sign(SHOPIFY_SECRET, body),
    )
    assert answer.status_code == 400, answer.content
    assert not ShopWebhook.objects.exists()


def test_a_signed_order_of_the_wrong_shape_is_kept_with_its_reason(
    client, shopify, django_capture_on_commit_callbacks
):
    payload = shopify_order()
    payload["line_items"] = [{"sku": "SKU2006-001", "quantity": "lots", "price": "NaN"}]
    with django_capture_on_commit_callbacks(execute=True):
        answer = post_shopify(client, payload)
    assert answer.status_code == 200
    hook = ShopWebhook.objects.get()
    assert hook.status == ShopWebhookStatus.FAILED and "could not be read" in hook.outcome
    assert not Order.objects.exists()


def test_a_call_stored_but_never_applied_is_picked_up_by_the_sweep(client, shopify, clock):
    post_shopify(client, shopify_order())  # acknowledged; the worker never got the task
    hook = ShopWebhook.objects.get()
    assert hook.status == ShopWebhookStatus.PENDING
    assert shops.shop_webhooks_sweep() == 0  # not yet: the worker may still be on it
    clock.shift(shops.STUCK_AFTER + timedelta(seconds=1))
    assert shops.shop_webhooks_sweep() == 1
    hook.refresh_from_db()
    assert hook.status == ShopWebhookStatus.PROCESSED and Order.objects.count() == 1


def test_ops_see_what_a_shop_call_lacks_and_try_it_again_from_the_dashboard(
    client, shopify, ops_client, django_capture_on_commit_callbacks
):
    shopify.sku_mappings.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, shopify_order())
    hook = ShopWebhook.objects.get()
    page = ops_client.get("/dashboard/orders/").content.decode()
    assert "1 shop order could not be taken: see why" in page  # the banner on every page
    page = ops_client.get("/dashboard/integrations/shops/?status=failed").content.decode()
    assert "#9999" in page and "lines.1.sku" in page and "SKU2006-020" in page
    # the mapping is added; ops try the call again
    shops.sku_mapping_set(connection=shopify, channel_sku="SKU2006-020", sku="LOUNGER-MC")
    answer = ops_client.post("/dashboard/integrations/shops/retry/", {"call": [hook.pk]}, follow=True)
    assert "1 shop call applied." in answer.content.decode()
    hook.refresh_from_db()
    assert hook.status == ShopWebhookStatus.PROCESSED and Order.objects.count() == 1
    # an applied call is not applied again
    answer = ops_client.post("/dashboard/integrations/shops/retry/", {"call": [hook.pk]}, follow=True)
    assert "is not retried" in answer.content.decode() and Order.objects.count() == 1


def test_nul_characters_from_a_shop_are_dropped_not_a_crash(
    client, shopify, django_capture_on_commit_callbacks
):
    payload = shopify_order()
    payload["name"] = "#99\u000099"
    payload["shipping_address"]["address2"] = "Floor 2\u0000"
    payload["phone"] = "+1 \u0000"
    with django_capture_on_commit_callbacks(execute=True):
        answer = post_shopify(client, payload)
    assert answer.status_code == 200
    hook = ShopWebhook.objects.get()
    assert hook.external_id == "#9999" and hook.status == ShopWebhookStatus.PROCESSED, hook.outcome
    assert Order.objects.select_related("shipping_address").get().shipping_address.line2 == "Floor 2"


def test_an_older_update_arriving_late_does_not_undo_a_newer_one(
    client, shopify, django_capture_on_commit_callbacks
):
    newer = shopify_order("orders_updated.json")
    newer["updated_at"] = iso(at(minutes=-1), -5)
    older = shopify_order("orders_updated.json")
    older["updated_at"] = iso(at(minutes=-30), -5)
    older["shipping_address"]["address1"] = "1 Old Road"
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, shopify_order())
        post_shopify(client, newer, topic="orders/updated", webhook_id="u-new")
        post_shopify(client, older, topic="orders/updated", webhook_id="u-old")
    order = Order.objects.select_related("shipping_address").get()
    assert order.shipping_address.line1 == "456 Moving Avenue"
    late = ShopWebhook.objects.get(webhook_id="u-old")
    assert late.status == ShopWebhookStatus.IGNORED and "older version" in late.outcome


def test_lines_changed_in_the_shop_are_said_not_applied(client, shopify, django_capture_on_commit_callbacks):
    edited = shopify_order("orders_updated.json")
    edited["shipping_address"]["address1"] = "123 Shipping Street"  # the address as it was
    edited["line_items"][0]["current_quantity"] = 3
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, shopify_order())
        post_shopify(client, edited, topic="orders/updated", webhook_id="u-lines")
    outcome = ShopWebhook.objects.get(webhook_id="u-lines").outcome
    assert "no change to its address" in outcome and "lines changed in the shop" in outcome
    assert Order.objects.get().lines.get(sku="SKU2006-001").quantity == 1
