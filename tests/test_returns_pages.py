"""The returns pages ops work in: the queue with its counts, a return's page and its decisions, the
receiving bench, returns opened for a customer, the order page's panel, return rates."""

import csv
import io

import pytest

from inventory.models import MovementKind, StockMovement
from inventory.selectors import stock_drifts
from orders.models import OrderStatus
from returns.models import Credit, Return, ReturnPolicy, ReturnStatus
from tests.returns_world import delivered_order, shipped_order
from tests.test_fulfilment import network  # noqa: F401 (fixture)
from tests.test_returns import ask

pytestmark = pytest.mark.django_db


def test_the_queue_counts_each_status_and_puts_approval_first(api, network, ops_client):  # noqa: F811
    ReturnPolicy.objects.update_or_create(channel=None, defaults={"auto_approve": False})
    order = delivered_order(api, network)
    waiting = ask(order, ("CAP-NAVY", 1, "damaged"))
    approved = ask(order, ("HOODIE-GRY-L", 1, "too_large"))
    approved_id = approved.pk
    ops_client.post(f"/dashboard/returns/{approved_id}/authorise/", {"note": "fine"})
    page = ops_client.get("/dashboard/returns/").content.decode()
    assert 'data-queue="requested">Requested <b>1</b>' in page
    assert 'data-queue="authorised">Authorised <b>1</b>' in page
    # the queues in the order ops work them: approval first, then the warehouse's, then what travels
    queues = ["requested", "received", "inspected", "authorised", "label_issued", "in_transit"]
    positions = [page.index(f'data-queue="{q}"') for q in queues]
    assert positions == sorted(positions)
    only_waiting = ops_client.get("/dashboard/returns/", {"status": "requested"}).content.decode()
    assert waiting.number in only_waiting and approved.number not in only_waiting
    exported = ops_client.get("/dashboard/returns/export.csv", {"status": "open"})
    rows = list(csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode("utf-8-sig"))))
    assert {(r["return"], r["sku"], r["reason"]) for r in rows} == {
        (waiting.number, "CAP-NAVY", "damaged"),
        (approved.number, "HOODIE-GRY-L", "too_large"),
    }


def test_bulk_approval_and_rejection_from_the_queue(api, network, ops_client):  # noqa: F811
    ReturnPolicy.objects.update_or_create(channel=None, defaults={"auto_approve": False})
    order = delivered_order(api, network)
    first, second = ask(order, ("CAP-NAVY", 1, "damaged")), ask(order, ("CAP-NAVY", 1, "damaged"))
    response = ops_client.post(
        "/dashboard/returns/bulk/",
        {"action": "reject", "return": [first.pk, second.pk], "note": ""},
        follow=True,
    )
    assert "Say why the return is refused." in response.content.decode()
    ops_client.post("/dashboard/returns/bulk/", {"action": "authorise", "return": [first.pk, second.pk]})
    assert set(Return.objects.values_list("status", flat=True)) == {ReturnStatus.AUTHORISED}


def test_a_returns_page_shows_the_verdict_and_ops_buy_the_label_and_reject(api, network, ops_client):  # noqa: F811
    ReturnPolicy.objects.update_or_create(channel=None, defaults={"auto_approve": False})
    order = delivered_order(api, network)
    ret = ask(order, ("HOODIE-GRY-L", 1, "changed_mind"))
    page = ops_client.get(f"/dashboard/returns/{ret.pk}/").content.decode()
    assert "The channel&#x27;s policy has every return approved by a person." in page
    assert "43.27 EUR" in page  # what the hoodie was paid, its share of the order discount taken off
    ops_client.post(f"/dashboard/returns/{ret.pk}/authorise/", {"note": "ok"})
    response = ops_client.post(f"/dashboard/returns/{ret.pk}/label/", follow=True)
    assert "Return label bought." in response.content.decode()
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.LABEL_ISSUED
    page = ops_client.get(f"/dashboard/returns/{ret.pk}/").content.decode()
    assert ret.shipment.tracking_number in page and "Label (PDF)" in page
    other = ask(order, ("CAP-NAVY", 2, "changed_mind"))
    ops_client.post(f"/dashboard/returns/{other.pk}/reject/", {"note": "Worn, see photos."})
    other.refresh_from_db()
    assert (other.status, other.decision_note) == (ReturnStatus.REJECTED, "Worn, see photos.")
    assert ops_client.post(f"/dashboard/returns/{other.pk}/explode/").status_code == 404


def test_the_receiving_bench_counts_inspects_restocks_and_credits(api, network, ops_client):  # noqa: F811
    order = delivered_order(api, network)
    ret = ask(order, ("CAP-NAVY", 3, "damaged"))
    line = ret.lines.get()
    bench = ops_client.get(f"/dashboard/returns/{ret.pk}/receive/").content.decode()
    assert 'data-sku="CAP-NAVY"' in bench and f'name="received-{line.pk}"' in bench
    response = ops_client.post(
        f"/dashboard/returns/{ret.pk}/receive/",
        {
            f"received-{line.pk}": "3",
            f"grade-{line.pk}": "good",
            f"restock-{line.pk}": "1",
            f"scrap-{line.pk}": "1",
        },
        follow=True,
    )
    assert "3 unit(s) of CAP-NAVY came back; 2 have a disposition." in response.content.decode()
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.AUTHORISED
    response = ops_client.post(
        f"/dashboard/returns/{ret.pk}/receive/",
        {
            f"received-{line.pk}": "3",
            f"grade-{line.pk}": "good",
            f"restock-{line.pk}": "2",
            f"scrap-{line.pk}": "1",
            f"warehouse-{line.pk}": "ATH",
            f"bin-{line.pk}": "R-2",
            "extra-sku": "tshirt-blk-m",
            "extra-quantity": "1",
            "extra-grade": "new",
            "extra-disposition": "quarantine",
        },
        follow=True,
    )
    page = response.content.decode()
    assert "received and inspected" in page
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.CLOSED
    assert StockMovement.objects.get(kind=MovementKind.RETURN_RESTOCK).quantity == 2
    assert stock_drifts() == []
    assert "not on the return" in page and "Credited" in page
    assert Credit.objects.get(ret=ret).amount > 0


def test_ops_open_a_return_for_a_refused_parcel_from_the_order_page(api, network, ops_client):  # noqa: F811
    order, _ = shipped_order(api, network, "R-REFUSED")
    panel = ops_client.get(f"/dashboard/orders/{order.pk}/").content.decode()
    assert "Open a return for the customer" in panel
    form = ops_client.get(f"/dashboard/returns/new/{order.pk}/").content.decode()
    cap = order.lines.get(sku="CAP-NAVY")
    assert f'name="units-{cap.pk}"' in form and "not delivered" in form
    response = ops_client.post(
        f"/dashboard/returns/new/{order.pk}/",
        {f"units-{cap.pk}": "3", f"reason-{cap.pk}": "changed_mind", "credit_method": "refund"},
        follow=True,
    )
    ret = Return.objects.get()
    assert ret.source == "ops" and ret.status == ReturnStatus.REQUESTED  # never delivered: a person decides
    assert "Some units were never delivered." in response.content.decode()
    panel = ops_client.get(f"/dashboard/orders/{order.pk}/").content.decode()
    assert ret.number in panel and '3 \N{MULTIPLICATION SIGN} <span class="mono">CAP-NAVY</span>' in panel
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED


def test_return_rates_by_reason_product_and_channel_drill_down(api, network, ops_client):  # noqa: F811
    order = delivered_order(api, network)
    ask(order, ("CAP-NAVY", 2, "damaged"), ("TSHIRT-BLK-M", 1, "too_small"))
    page = ops_client.get("/dashboard/returns/rates/", {"days": 30}).content.decode()
    # 3 of 6 delivered units asked back
    assert '<p class="big" id="overall-rate">50.0 %</p>' in page
    assert "?status=&amp;reason=damaged" in page and "?status=&amp;sku=CAP-NAVY" in page
    assert "2 / 3 · 66.7 %" in page  # the caps: two of three came back
    drill = ops_client.get("/dashboard/returns/", {"status": "", "sku": "CAP-NAVY"}).content.decode()
    assert Return.objects.get().number in drill


def test_the_pages_are_for_ops_only(client, api, network):  # noqa: F811
    for url in ("/dashboard/returns/", "/dashboard/returns/rates/"):
        assert client.get(url)["Location"].startswith("/login/")


def test_a_return_counted_through_the_api_is_inspected_on_the_bench(api, network, ops_client):  # noqa: F811
    from returns import services as returns
    from tests.test_fulfilment import OPS

    order = delivered_order(api, network)
    ret = ask(order, ("CAP-NAVY", 2, "too_large"))
    line = ret.lines.get()
    returns.return_receive(return_id=ret.pk, actor=OPS, received={line.pk: 2})
    bench = ops_client.get(f"/dashboard/returns/{ret.pk}/receive/").content.decode()
    assert "Save the inspection" in bench and "readonly" in bench
    ops_client.post(
        f"/dashboard/returns/{ret.pk}/receive/",
        {
            f"received-{line.pk}": "2",
            f"grade-{line.pk}": "new",
            f"restock-{line.pk}": "2",
            f"warehouse-{line.pk}": "SKG",
        },
    )
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.CLOSED
    assert StockMovement.objects.get(kind=MovementKind.RETURN_RESTOCK).position.warehouse.code == "SKG"
