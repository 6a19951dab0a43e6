"""The status sync back to the shops at their REST APIs' HTTP boundary (answers recorded as the
platforms document them, tests/payloads/): a shipment handed over becomes the shop's fulfilment with
the carrier and tracking number, a cancellation here cancels the shop's order, a cancellation from
the shop is not told back; failures are retried with backoff without repeating what succeeded, and
the order page shows what the shop was told."""

import base64
import json
from datetime import timedelta
from pathlib import Path

import pytest
import responses

from integrations.models import Platform, ShopConnection, ShopSync, ShopSyncKind, ShopSyncStatus
from integrations.shops import services as shops
from integrations.shops import sync
from oms.events import outbox_publish_pending
from orders import services as orders
from orders.models import Order
from routing import services as routing
from shipments import services as fulfilment
from tests.test_fulfilment import OPS, network, pack, pick_everything  # noqa: F401 (fixture)
from tests.test_shop_adapters import post_shopify, post_woo, shopify_order, woo_order

pytestmark = pytest.mark.django_db

PAYLOADS = Path(__file__).resolve().parent / "payloads"
SHOP = "https://jsmith.myshopify.com/admin/api/2024-10"
WOO = "https://example.com/wp-json/wc/v3"


def recorded(platform: str, name: str) -> dict:
    return json.loads((PAYLOADS / platform / name).read_text())


@pytest.fixture
def shopify(channel, network):  # noqa: F811
    connection = ShopConnection.objects.create(
        code="jsmith",
        platform=Platform.SHOPIFY,
        channel=channel,
        shop_url="https://jsmith.myshopify.com",
        webhook_secret="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",
        api_secret="shpat_5e6f7a8b9c0d1e2f",
    )
    shops.sku_mapping_set(connection=connection, channel_sku="SKU2006-001", sku="TSHIRT-BLK-M")
    shops.sku_mapping_set(connection=connection, channel_sku="SKU2006-020", sku="CAP-NAVY")
    return connection


@pytest.fixture
def woo(other_channel, network):  # noqa: F811
    connection = ShopConnection.objects.create(
        code="woo-shop",
        platform=Platform.WOOCOMMERCE,
        channel=other_channel,
        shop_url="https://example.com",
        webhook_secret="wc-webhook-secret-7d9c",
        api_user="ck_4a2b",
        api_secret="cs_9f8e",
    )
    shops.sku_mapping_set(connection=connection, channel_sku="product:93", sku="TSHIRT-BLK-M")
    shops.sku_mapping_set(connection=connection, channel_sku="Bar3", sku="HOODIE-GRY-L")
    return connection


def taken(client, post, payload, django_capture_on_commit_callbacks) -> Order:
    with django_capture_on_commit_callbacks(execute=True):
        post(client, payload)
    return Order.objects.get()


def ship_everything(order: Order, network) -> int:  # noqa: F811
    routing.route_order(order_id=order.pk)
    pick_list = fulfilment.wave_release(warehouse_id=network["ATH"].pk, actor=OPS)
    fulfilment.pick_list_confirm(pick_list_id=pick_list.pk, picked=pick_everything(pick_list), actor=OPS)
    order.refresh_from_db()
    box = pack(order, network["ATH"], {line.sku: line.quantity for line in order.lines.all()})
    shipment = fulfilment.shipment_create(package_ids=[box.pk], actor=OPS)
    fulfilment.shipment_buy_labels(shipment_id=shipment.pk, actor=OPS)
    shipment = fulfilment.shipment_hand_over(shipment_id=shipment.pk, actor=OPS)
    outbox_publish_pending()  # the handlers of shipment.shipped run
    return shipment.pk


@responses.activate
def test_a_shipment_becomes_the_shops_fulfilment_with_its_tracking_number_retried_until_taken(
    client,
    shopify,
    network,  # noqa: F811
    clock,
    ops_client,
    django_capture_on_commit_callbacks,
):
    order = taken(client, post_shopify, shopify_order(), django_capture_on_commit_callbacks)
    shipment_id = ship_everything(order, network)
    from shipments.models import Shipment

    tracking_number = Shipment.objects.get(pk=shipment_id).tracking_number
    responses.get(
        f"{SHOP}/orders/820982911946154508/fulfillment_orders.json",
        json=recorded("shopify", "fulfillment_orders.json"),
    )
    responses.post(f"{SHOP}/fulfillments.json", status=502, body="Bad gateway")
    responses.post(
        f"{SHOP}/fulfillments.json", status=201, json=recorded("shopify", "fulfillment_created.json")
    )
    assert sync.shop_syncs_send_due() == {"retry": 1}
    row = ShopSync.objects.get()
    assert (row.kind, row.status, row.attempts, row.response_status) == (
        ShopSyncKind.FULFILMENT,
        "pending",
        1,
        502,
    )
    assert sync.shop_syncs_send_due() == {}  # it backs off
    clock.shift(timedelta(minutes=1))
    assert sync.shop_syncs_send_due() == {"sent": 1}
    posts = [c for c in responses.calls if c.request.method == "POST"]
    assert len(posts) == 2
    assert json.loads(posts[-1].request.body) == {
        "fulfillment": {
            "line_items_by_fulfillment_order": [
                {
                    "fulfillment_order_id": 1046000778,
                    "fulfillment_order_line_items": [
                        {"id": 1058737482, "quantity": 1},
                        {"id": 1058737483, "quantity": 1},
                    ],
                }
            ],
            "tracking_info": {"company": "Sandbox Post", "number": tracking_number},
            "notify_customer": False,
        }
    }
    assert posts[-1].request.headers["X-Shopify-Access-Token"] == "shpat_5e6f7a8b9c0d1e2f"
    row.refresh_from_db()
    assert (row.status, row.attempts, row.response_status) == (ShopSyncStatus.SUCCEEDED, 2, 201)
    # the event again (the outbox redelivers): the shop is not told twice
    sync.sync_fulfilment_record(shipment_id=shipment_id, order_id=order.pk)
    assert ShopSync.objects.count() == 1 and sync.shop_syncs_send_due() == {}
    page = ops_client.get(f"/dashboard/orders/{order.pk}/").content.decode()
    assert 'id="shop-sync"' in page and "Told the shop" in page and "POST fulfillments.json" in page


@responses.activate
def test_a_cancellation_here_is_told_to_the_shop_and_one_from_the_shop_is_not_told_back(
    client, shopify, django_capture_on_commit_callbacks
):
    order = taken(client, post_shopify, shopify_order(), django_capture_on_commit_callbacks)
    responses.post(
        f"{SHOP}/orders/820982911946154508/cancel.json",
        json=recorded("shopify", "order_cancel_response.json"),
    )
    orders.order_cancel(order_id=order.pk, actor=OPS, reason="out of stock")
    outbox_publish_pending()
    assert sync.shop_syncs_send_due() == {"sent": 1}
    (call,) = responses.calls
    assert json.loads(call.request.body) == {"reason": "other", "email": False}
    # another order, cancelled by the shop: the shop knows; no call is made
    responses.calls.reset()
    other = shopify_order()
    other["id"], other["name"] = 820982911946154509, "#10000"
    for item in other["line_items"]:
        item["id"] += 1
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, other, webhook_id="create-2")
        cancelled = shopify_order("orders_cancelled.json")
        cancelled["id"], cancelled["name"] = other["id"], other["name"]
        post_shopify(client, cancelled, topic="orders/cancelled", webhook_id="cancel-2")
    outbox_publish_pending()
    assert Order.objects.get(external_id="#10000").status == "cancelled"
    skipped = ShopSync.objects.get(link__platform_order_id="820982911946154509")
    assert skipped.status == ShopSyncStatus.SKIPPED
    assert sync.shop_syncs_send_due() == {} and len(responses.calls) == 0


@responses.activate
def test_woocommerce_hears_a_note_with_the_tracking_number_and_completed_and_a_retry_repeats_neither(
    client,
    woo,
    network,  # noqa: F811
    clock,
    django_capture_on_commit_callbacks,
):
    order = taken(client, post_woo, woo_order(), django_capture_on_commit_callbacks)
    ship_everything(order, network)
    from shipments.models import Shipment

    tracking_number = Shipment.objects.get().tracking_number
    responses.post(
        f"{WOO}/orders/727/notes", status=201, json=recorded("woocommerce", "order_note_created.json")
    )
    responses.put(f"{WOO}/orders/727", status=500, body="Internal Server Error")
    responses.put(f"{WOO}/orders/727", status=200, json={**woo_order(), "status": "completed"})
    assert sync.shop_syncs_send_due() == {"retry": 1}
    clock.shift(timedelta(minutes=1))
    assert sync.shop_syncs_send_due() == {"sent": 1}
    notes = [c for c in responses.calls if c.request.url.endswith("/notes")]
    puts = [c for c in responses.calls if c.request.method == "PUT"]
    assert len(notes) == 1 and len(puts) == 2  # the note was not posted again on the retry
    assert json.loads(notes[0].request.body) == {
        "note": f"Shipped with Sandbox Post (Standard): {tracking_number}.",
        "customer_note": True,
    }
    assert json.loads(puts[-1].request.body) == {"status": "completed"}
    assert (
        puts[-1].request.headers["Authorization"] == "Basic " + base64.b64encode(b"ck_4a2b:cs_9f8e").decode()
    )


@responses.activate
def test_a_refused_key_is_given_up_at_once_and_sent_again_from_the_order_page(
    client, woo, ops_client, django_capture_on_commit_callbacks
):
    order = taken(client, post_woo, woo_order(), django_capture_on_commit_callbacks)
    responses.put(
        f"{WOO}/orders/727", status=401, json={"code": "woocommerce_rest_cannot_edit", "message": "Sorry"}
    )
    responses.put(f"{WOO}/orders/727", status=200, json={**woo_order(), "status": "cancelled"})
    orders.order_cancel(order_id=order.pk, actor=OPS, reason="customer asked")
    outbox_publish_pending()
    assert sync.shop_syncs_send_due() == {"failed": 1}  # a wrong key does not get better by waiting
    row = ShopSync.objects.get()
    assert row.status == ShopSyncStatus.FAILED and row.response_status == 401
    page = ops_client.get(f"/dashboard/orders/{order.pk}/").content.decode()
    assert "Given up" in page and "Send again" in page
    answer = ops_client.post(f"/dashboard/integrations/shops/syncs/{row.pk}/retry/", follow=True)
    assert "The shop has been told." in answer.content.decode()
    row.refresh_from_db()
    assert row.status == ShopSyncStatus.SUCCEEDED
