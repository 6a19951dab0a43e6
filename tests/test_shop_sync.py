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


@responses.activate
def test_a_return_credited_as_money_is_refunded_by_the_shop_once_even_when_its_answer_is_lost(
    client,
    shopify,
    network,  # noqa: F811
    clock,
    django_capture_on_commit_callbacks,
):
    from returns.models import Credit
    from tests.returns_world import deliver
    from tests.test_returns import ask, everything_back, set_policy

    set_policy(refund_shipping=False)
    order = taken(client, post_shopify, shopify_order(), django_capture_on_commit_callbacks)
    shipment_id = ship_everything(order, network)
    deliver(shipment_id)
    order.refresh_from_db()
    responses.get(
        f"{SHOP}/orders/820982911946154508/fulfillment_orders.json",
        json=recorded("shopify", "fulfillment_orders.json"),
    )
    responses.post(
        f"{SHOP}/fulfillments.json", status=201, json=recorded("shopify", "fulfillment_created.json")
    )
    sync.shop_syncs_send_due()
    ret = everything_back(ask(order, ("TSHIRT-BLK-M", 1, "wrong_item")))
    credit = Credit.objects.get(ret=ret)
    outbox_publish_pending()
    refund = ShopSync.objects.get(kind=ShopSyncKind.REFUND)
    assert refund.reference == f"credit:{credit.pk}"
    marker = f"[oms credit:{credit.pk}]"
    refunds_url = f"{SHOP}/orders/820982911946154508/refunds.json"
    responses.get(refunds_url, json={"refunds": []})
    responses.post(
        f"{SHOP}/orders/820982911946154508/refunds/calculate.json",
        json=recorded("shopify", "refund_calculate.json"),
    )
    responses.post(refunds_url, body=requests_timeout())  # the refund went through; its answer never came
    assert sync.shop_syncs_send_due() == {"retry": 1}
    (made,) = [c for c in responses.calls if c.request.url == refunds_url and c.request.method == "POST"]
    assert json.loads(made.request.body) == {
        "refund": {
            "currency": "USD",
            "notify": False,
            "note": f"Return {ret.number} {marker}",
            "shipping": {"amount": "0.00"},
            "refund_line_items": [
                {"line_item_id": 487817672276298554, "quantity": 1, "restock_type": "no_restock"}
            ],
            "transactions": [
                {
                    "parent_id": 801038806,
                    "amount": f"{credit.amount:.2f}",
                    "kind": "refund",
                    "gateway": "bogus",
                }
            ],
        }
    }
    # the retry finds the refund in the shop, with our mark: the customer is not paid twice
    responses.replace(
        responses.GET,
        refunds_url,
        json={"refunds": [{"id": 509562969, "note": f"Return {ret.number} {marker}"}]},
    )
    clock.shift(timedelta(minutes=1))
    assert sync.shop_syncs_send_due() == {"sent": 1}
    posts = [c for c in responses.calls if c.request.url == refunds_url and c.request.method == "POST"]
    assert len(posts) == 1


def requests_timeout():
    import requests

    return requests.ConnectionError("read timed out")


@responses.activate
def test_woocommerce_refunds_through_its_gateway_with_the_lines_and_amounts(
    client,
    woo,
    network,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    from returns.models import Credit
    from tests.returns_world import deliver
    from tests.test_returns import ask, everything_back, set_policy

    set_policy(refund_shipping=False)
    order = taken(client, post_woo, woo_order(), django_capture_on_commit_callbacks)
    deliver(ship_everything(order, network))
    order.refresh_from_db()
    responses.post(
        f"{WOO}/orders/727/notes", status=201, json=recorded("woocommerce", "order_note_created.json")
    )
    responses.put(f"{WOO}/orders/727", json={**woo_order(), "status": "completed"})
    sync.shop_syncs_send_due()
    ret = everything_back(ask(order, ("HOODIE-GRY-L", 1, "wrong_item")))
    credit = Credit.objects.get(ret=ret)
    outbox_publish_pending()
    responses.get(f"{WOO}/orders/727/refunds", json=[])
    responses.post(
        f"{WOO}/orders/727/refunds", status=201, json={"id": 726, "amount": f"{credit.amount:.2f}"}
    )
    assert sync.shop_syncs_send_due() == {"sent": 1}
    (made,) = [
        c
        for c in responses.calls
        if c.request.url == f"{WOO}/orders/727/refunds" and c.request.method == "POST"
    ]
    assert json.loads(made.request.body) == {
        "amount": f"{credit.amount:.2f}",
        "reason": f"Return {ret.number} [oms credit:{credit.pk}]",
        "api_refund": True,
        "line_items": [{"id": 316, "quantity": 1, "refund_total": f"{credit.amount:.2f}"}],
    }


@responses.activate
def test_what_a_shop_may_sell_is_pushed_when_it_changes_and_only_then(
    client,
    shopify,
    woo,
    network,  # noqa: F811
    api,
):
    from integrations.models import SkuMapping
    from integrations.shops import stock
    from tests.factories import order_payload

    shopify.location_id = "655441491"
    shopify.save(update_fields=["location_id"])
    SkuMapping.objects.filter(connection=shopify, sku="TSHIRT-BLK-M").update(stock_ref="808950810")
    SkuMapping.objects.filter(connection=shopify, sku="CAP-NAVY").update(stock_ref="808950811")
    SkuMapping.objects.filter(connection=woo, sku="HOODIE-GRY-L").update(stock_ref="22/23")
    responses.post(f"{SHOP}/inventory_levels/set.json", json={"inventory_level": {"available": 0}})
    responses.put(f"{WOO}/products/22/variations/23", json={"id": 23, "stock_quantity": 10})
    assert stock.shop_stock_push_all() == {"pushed": 3, "unchanged": 0, "failed": 0}

    def bodies():
        return [json.loads(c.request.body) for c in responses.calls]

    shopify_sent = {b["inventory_item_id"]: b for b in bodies() if "inventory_item_id" in b}
    # Athens holds 10 T-shirts and Thessaloniki none: the web shop may sell 10; caps: 10 + 10
    assert shopify_sent == {
        808950810: {"location_id": 655441491, "inventory_item_id": 808950810, "available": 10},
        808950811: {"location_id": 655441491, "inventory_item_id": 808950811, "available": 20},
    }
    assert [b for b in bodies() if "stock_quantity" in b] == [{"manage_stock": True, "stock_quantity": 10}]
    # nothing moved: nothing is sent, however often the beat runs
    responses.calls.reset()
    assert stock.shop_stock_push_all() == {"pushed": 0, "unchanged": 3, "failed": 0}
    assert len(responses.calls) == 0
    # an order takes 2 T-shirts, a hoodie and 3 caps: those figures go out again, once
    answer = api.post("/api/v1/orders/", order_payload("STOCK-1"), format="json")
    routing.route_order(order_id=answer.json()["id"])
    assert stock.shop_stock_push_all() == {"pushed": 3, "unchanged": 0, "failed": 0}
    after = {b.get("inventory_item_id", "woo"): b for b in bodies()}
    assert (after[808950810]["available"], after[808950811]["available"]) == (8, 17)
    assert after["woo"] == {"manage_stock": True, "stock_quantity": 9}
