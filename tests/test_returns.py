"""Returns through the services: what may be asked back, the policy's verdict, receipt, inspection and
restock, credits to the cent and never twice, exchanges."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connections

from inventory.models import MovementKind, StockMovement, StockPosition
from inventory.selectors import stock_drifts
from oms.errors import IllegalTransition, ValidationFailed
from oms.models import DomainEvent
from orders.models import Order, OrderLine, OrderStatus
from returns import services as returns
from returns.models import (
    Credit,
    CreditMethod,
    Return,
    ReturnEvent,
    ReturnInspection,
    ReturnPolicy,
    ReturnSource,
    ReturnStatus,
)
from returns.services import InspectionInput, ReturnLineInput
from tests.factories import order_payload
from tests.returns_world import delivered_order, shipped_order
from tests.test_fulfilment import OPS, network  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def set_policy(**values) -> None:
    """Change the default policy (a transactional test before this one may have emptied the table)."""
    ReturnPolicy.objects.update_or_create(channel=None, defaults=values)


def line(order: Order, sku: str) -> OrderLine:
    return order.lines.get(sku=sku)


def ask(
    order: Order,
    *items: tuple[str, int, str],
    source=ReturnSource.CHANNEL,
    method=CreditMethod.REFUND,
    note="",
):
    return returns.return_request(
        channel=order.channel if source == ReturnSource.CHANNEL else None,
        source=source,
        actor=OPS,
        credit_method=method,
        lines=[
            ReturnLineInput(
                order_id=order.pk,
                line_number=line(order, sku).line_number,
                quantity=n,
                reason=reason,
                note=note,
            )
            for sku, n, reason in items
        ],
    )


def everything_back(ret: Return, *, disposition="restock", grade="good") -> Return:
    lines = list(ret.lines.all())
    return returns.return_receive(
        return_id=ret.pk,
        actor=OPS,
        received={rl.pk: rl.quantity for rl in lines},
        inspections=[
            InspectionInput(line_id=rl.pk, quantity=rl.quantity, grade=grade, disposition=disposition)
            for rl in lines
        ],
    )


def test_a_delivered_order_can_be_asked_back_and_the_policy_approves_it(api, network):  # noqa: F811
    order = delivered_order(api, network)
    ret = ask(order, ("TSHIRT-BLK-M", 1, "too_small"))
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.AUTHORISED
    assert ret.policy_verdict["auto_approve"] is True and ret.policy_verdict["why"] == []
    # the nearest warehouse that stocks the T-shirt takes it back
    assert ret.return_location.code == "ATH"
    assert list(ret.events.values_list("from_status", "to_status")) == [
        ("", ReturnStatus.REQUESTED),
        (ReturnStatus.REQUESTED, ReturnStatus.AUTHORISED),
    ]
    names = list(DomainEvent.objects.filter(aggregate_type="return").values_list("name", flat=True))
    assert names == ["return.requested", "return.authorised"]


def test_units_not_delivered_or_already_asked_back_or_late_are_refused(api, network, clock):  # noqa: F811
    shipped, _ = shipped_order(api, network, "R-SHIPPED")
    with pytest.raises(ValidationFailed) as refused:
        ask(shipped, ("CAP-NAVY", 1, "changed_mind"))
    assert refused.value.details == {
        "lines.0.quantity": [
            "0 unit(s) of CAP-NAVY can be returned (0 delivered, 0 returned, 0 already asked back)."
        ]
    }
    # ops may take back a parcel the customer refused, that was never delivered
    refused_parcel = ask(shipped, ("CAP-NAVY", 3, "changed_mind"), source=ReturnSource.OPS)
    assert refused_parcel.policy_verdict["why"] == ["Some units were never delivered."]
    assert refused_parcel.status == ReturnStatus.REQUESTED

    order = delivered_order(api, network, "R-2")
    ask(order, ("CAP-NAVY", 2, "changed_mind"))
    with pytest.raises(ValidationFailed) as refused:
        ask(order, ("CAP-NAVY", 2, "changed_mind"))
    assert refused.value.details == {
        "lines.0.quantity": [
            "1 unit(s) of CAP-NAVY can be returned (3 delivered, 0 returned, 2 already asked back)."
        ]
    }
    clock.move_to(order.shipments.get().shipped_at + timedelta(days=31))
    with pytest.raises(ValidationFailed) as refused:
        ask(order, ("CAP-NAVY", 1, "changed_mind"))
    closes = (order.shipments.get().tracking.delivered_at + timedelta(days=30)).date()
    assert refused.value.details == {
        "lines.0.quantity": [f"The return window for CAP-NAVY closed on {closes}."]
    }
    assert Return.objects.filter(customer=order.customer).count() == 2  # nothing half-written


def test_other_needs_a_note_and_an_unknown_reason_is_named(api, network):  # noqa: F811
    order = delivered_order(api, network)
    with pytest.raises(ValidationFailed) as refused:
        ask(order, ("CAP-NAVY", 1, "other"), ("HOODIE-GRY-L", 1, "bored"))
    details = refused.value.details
    assert details["lines.0.note"] == ["Say why ('Other (please say why)')."]
    assert details["lines.1.reason"][0].startswith("Unknown reason 'bored'; one of changed_mind, damaged,")
    assert (
        ask(order, ("CAP-NAVY", 1, "other"), note="the colour is not navy").lines.get().note
        == "the colour is not navy"
    )


def test_the_policy_leaves_big_frequent_or_unlisted_returns_to_a_person(api, network):  # noqa: F811
    set_policy(
        auto_approve_max_value=Decimal("40"),
        auto_approve_reasons=["too_small", "damaged"],
        auto_approve_max_recent_returns=1,
    )
    order = delivered_order(api, network)
    big = ask(order, ("HOODIE-GRY-L", 1, "changed_mind"))
    # the hoodie: 45.00 after its discount, less its share of the 5.00 order discount (45/129.80)
    assert big.policy_verdict["value"] == {"EUR": "43.27"}
    assert big.policy_verdict["why"] == [
        "Reason not approved automatically: changed_mind.",
        "Worth more than 40.",
    ]
    assert big.status == ReturnStatus.REQUESTED
    ask(order, ("CAP-NAVY", 1, "damaged"))
    third = ask(order, ("CAP-NAVY", 1, "damaged"))
    assert third.policy_verdict["why"] == ["2 returns by this customer in the last 90 days (more than 1)."]
    returns.return_reject(return_id=third.pk, actor=OPS, reason="Two returns this month already; call us.")
    third.refresh_from_db()
    assert (third.status, third.decision_note) == (
        ReturnStatus.REJECTED,
        "Two returns this month already; call us.",
    )
    with pytest.raises(ValidationFailed):
        returns.return_reject(return_id=big.pk, actor=OPS, reason=" ")
    returns.return_authorise(return_id=big.pk, actor=OPS, note="good customer")
    big.refresh_from_db()
    assert big.status == ReturnStatus.AUTHORISED
    with pytest.raises(IllegalTransition):
        returns.return_reject(return_id=big.pk, actor=OPS, reason="too late")


@pytest.mark.django_db(transaction=True)
def test_two_requests_for_the_last_unit_at_once_one_wins(api, network):  # noqa: F811
    order = delivered_order(api, network)
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def request() -> None:
        try:
            barrier.wait()
            outcomes.append(ask(order, ("HOODIE-GRY-L", 1, "too_large")).pk)
        except ValidationFailed as exc:
            outcomes.append(exc.details)
        except BaseException as exc:  # a deadlock or a constraint error fails the test
            outcomes.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=request) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    winners = [o for o in outcomes if isinstance(o, int)]
    losers = [o for o in outcomes if isinstance(o, dict)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert losers[0] == {
        "lines.0.quantity": [
            "0 unit(s) of HOODIE-GRY-L can be returned (1 delivered, 0 returned, 1 already asked back)."
        ]
    }
    assert Return.objects.count() == 1


def test_partial_receipt_each_disposition_and_the_restock_in_the_ledger(api, network):  # noqa: F811
    order = delivered_order(api, network)
    ret = ask(order, ("CAP-NAVY", 3, "damaged"), ("TSHIRT-BLK-M", 2, "too_small"))
    caps, shirts = ret.lines.order_by("order_line__sku")[0], ret.lines.order_by("order_line__sku")[1]
    before = StockPosition.objects.get(warehouse=network["ATH"], product__sku="CAP-NAVY").on_hand
    with pytest.raises(ValidationFailed) as refused:
        returns.return_receive(
            return_id=ret.pk,
            actor=OPS,
            received={caps.pk: 3, shirts.pk: 1},
            inspections=[InspectionInput(line_id=caps.pk, quantity=2, grade="new", disposition="restock")],
        )
    assert refused.value.details == {
        f"lines.{caps.pk}": ["3 unit(s) of CAP-NAVY came back; 2 have a disposition."],
        f"lines.{shirts.pk}": ["1 unit(s) of TSHIRT-BLK-M came back; 0 have a disposition."],
    }
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.AUTHORISED  # nothing half-written
    set_policy(credit_after_inspection=False)
    returns.return_receive(
        return_id=ret.pk,
        actor=OPS,
        received={caps.pk: 3, shirts.pk: 1},  # one T-shirt stayed with the customer
        inspections=[
            InspectionInput(line_id=caps.pk, quantity=1, grade="new", disposition="restock", bin_code="R-01"),
            InspectionInput(line_id=caps.pk, quantity=1, grade="damaged", disposition="scrap"),
            InspectionInput(line_id=caps.pk, quantity=1, grade="damaged", disposition="return_to_vendor"),
            InspectionInput(line_id=shirts.pk, quantity=1, grade="good", disposition="refurbish"),
            # a hoodie nobody asked about was in the box too
            InspectionInput(sku="hoodie-gry-l", quantity=1, grade="good", disposition="quarantine"),
        ],
    )
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.INSPECTED
    assert sorted(
        ReturnInspection.objects.filter(ret=ret).values_list("product__sku", "disposition", "quantity")
    ) == [
        ("CAP-NAVY", "restock", 1),
        ("CAP-NAVY", "return_to_vendor", 1),
        ("CAP-NAVY", "scrap", 1),
        ("HOODIE-GRY-L", "quarantine", 1),
        ("TSHIRT-BLK-M", "refurbish", 1),
    ]
    position = StockPosition.objects.get(warehouse=network["ATH"], product__sku="CAP-NAVY")
    assert position.on_hand == before + 1
    restock = StockMovement.objects.get(position=position, kind=MovementKind.RETURN_RESTOCK)
    assert (restock.quantity, restock.reference_type, restock.reference) == (1, "return", ret.number)
    assert stock_drifts() == []
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_RETURNED
    assert {ol.sku: ol.qty_returned for ol in order.lines.all()} == {
        "CAP-NAVY": 3,
        "TSHIRT-BLK-M": 1,
        "HOODIE-GRY-L": 0,
    }
    # the T-shirt left with the customer may still be asked back; the caps may not
    assert (
        returns.returnable(list(order.lines.all()), window_days=30)[line(order, "TSHIRT-BLK-M").pk].free()
        == 1
    )
    assert returns.returnable(list(order.lines.all()), window_days=30)[line(order, "CAP-NAVY").pk].free() == 0


def test_a_lot_tracked_restock_needs_its_lot(api, network):  # noqa: F811
    from orders.models import Product

    order = delivered_order(api, network)
    Product.objects.filter(sku="CAP-NAVY").update(lot_tracked=True)
    ret = ask(order, ("CAP-NAVY", 1, "changed_mind"))
    caps = ret.lines.get()
    returns.return_receive(return_id=ret.pk, actor=OPS, received={caps.pk: 1})
    with pytest.raises(ValidationFailed) as refused:
        returns.return_inspect(
            return_id=ret.pk,
            actor=OPS,
            inspections=[InspectionInput(line_id=caps.pk, quantity=1, grade="new", disposition="restock")],
        )
    assert refused.value.details == {"inspections.0.lot_code": ["CAP-NAVY is lot-tracked: give the lot."]}
    returns.return_inspect(
        return_id=ret.pk,
        actor=OPS,
        inspections=[
            InspectionInput(line_id=caps.pk, quantity=1, grade="new", disposition="restock", lot_code="L-77")
        ],
    )
    assert StockMovement.objects.get(kind=MovementKind.RETURN_RESTOCK).lot.code == "L-77"


def test_credit_amounts_with_discounts_tax_and_fees_to_the_cent(api, network):  # noqa: F811
    set_policy(restocking_fee_percent=Decimal("10"))
    # goods 129.80 after line discounts, 5.00 off the order, 24.00 tax: 148.80 charged for the goods,
    # shared 45.62 / 51.59 / 51.59 over T-shirts, hoodie and caps (the two cents left over go to the
    # largest remainders)
    order = delivered_order(api, network, tax_total="24.00")
    assert returns.lines_paid(order, order.lines.all()) == {
        line(order, "TSHIRT-BLK-M").pk: Decimal("45.62"),
        line(order, "HOODIE-GRY-L").pk: Decimal("51.59"),
        line(order, "CAP-NAVY").pk: Decimal("51.59"),
    }
    first = everything_back(ask(order, ("TSHIRT-BLK-M", 1, "too_small"), ("CAP-NAVY", 2, "damaged")))
    credit = Credit.objects.get(ret=first)
    # one T-shirt: 22.81, less a 10 % fee (2.28); two damaged caps: 2/3 of 51.59 = 34.39, no fee
    assert (credit.goods, credit.restocking_fee, credit.shipping, credit.amount) == (
        Decimal("57.200"),
        Decimal("2.280"),
        Decimal("0.000"),
        Decimal("54.920"),
    )
    assert sorted(
        (cl.order_line.sku, cl.units, cl.amount, cl.restocking_fee) for cl in credit.lines.all()
    ) == [
        ("CAP-NAVY", 2, Decimal("34.390"), Decimal("0.000")),
        ("TSHIRT-BLK-M", 1, Decimal("22.810"), Decimal("2.280")),
    ]
    first.refresh_from_db()
    assert first.status == ReturnStatus.CLOSED
    # the last cap is worth what is left of the line, so the line never credits more than was paid
    last = everything_back(ask(order, ("CAP-NAVY", 1, "damaged")))
    assert Credit.objects.get(ret=last).amount == Decimal("17.20")


def test_a_zero_decimal_currency_is_shared_in_whole_units():
    lines = [
        OrderLine(pk=1, total=Decimal(1000)),
        OrderLine(pk=2, total=Decimal(1000)),
        OrderLine(pk=3, total=Decimal(1000)),
    ]
    order = Order(currency="JPY", order_discount=Decimal(0), tax_total=Decimal(100))
    # 3100 yen over three equal lines: 1033 each and the one left over to the first
    assert returns.lines_paid(order, lines) == {1: Decimal(1034), 2: Decimal(1033), 3: Decimal(1033)}
    assert returns.units_value(Decimal(1033), 3, 0, 1, "JPY") == Decimal(344)
    assert returns.units_value(Decimal(1033), 3, 1, 2, "JPY") == Decimal(689)


def test_everything_back_for_the_merchants_fault_refunds_the_shipping_once(api, network):  # noqa: F811
    set_policy(refund_shipping=True)
    order = delivered_order(api, network)
    ret = everything_back(
        ask(
            order,
            ("TSHIRT-BLK-M", 2, "wrong_item"),
            ("HOODIE-GRY-L", 1, "wrong_item"),
            ("CAP-NAVY", 3, "wrong_item"),
        )
    )
    credit = Credit.objects.get(ret=ret)
    assert (credit.goods, credit.shipping, credit.amount) == (
        Decimal("124.80"),
        Decimal("4.90"),
        Decimal("129.70"),
    )
    assert credit.amount == order.total  # every cent the customer paid
    order.refresh_from_db()
    assert order.status == OrderStatus.RETURNED


@pytest.mark.django_db(transaction=True)
def test_concurrent_credit_calls_credit_once(api, network):  # noqa: F811
    set_policy(credit_after_inspection=False)
    order = delivered_order(api, network)
    ret = everything_back(ask(order, ("CAP-NAVY", 3, "damaged")))
    barrier = threading.Barrier(4)
    credits: list[object] = []

    def credit() -> None:
        try:
            barrier.wait()
            credits.append(returns.return_credit(return_id=ret.pk, actor=OPS).pk)
        except BaseException as exc:
            credits.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=credit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(credits) == 4 and len(set(credits)) == 1 and isinstance(credits[0], int), credits
    assert Credit.objects.count() == 1
    assert DomainEvent.objects.filter(name="return.credited").count() == 1
    assert ReturnEvent.objects.filter(ret=ret, to_status=ReturnStatus.CLOSED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_exchange_orders_the_replacement_and_routes_it(
    api,
    network,  # noqa: F811
    settings,
):
    settings.ROUTING_ON_RECEIPT = True
    order = delivered_order(api, network)
    ret = returns.return_request(
        channel=order.channel,
        source=ReturnSource.CHANNEL,
        actor=OPS,
        credit_method=CreditMethod.EXCHANGE,
        lines=[
            ReturnLineInput(
                order_id=order.pk,
                line_number=line(order, "TSHIRT-BLK-M").line_number,
                quantity=1,
                reason="too_small",
                exchange_sku="hoodie-gry-l",
            )
        ],
    )
    assert ret.replacement_order is None  # made when the T-shirt is back, by default
    ret = everything_back(ret)
    ret.refresh_from_db()
    replacement = ret.replacement_order
    assert replacement.external_id == f"{ret.number}-EXCHANGE"
    assert replacement.customer_id == order.customer_id and replacement.channel_id == order.channel_id
    assert [(ol.sku, ol.quantity, ol.unit_price) for ol in replacement.lines.all()] == [
        ("HOODIE-GRY-L", 1, Decimal(0))
    ]
    assert replacement.status == OrderStatus.ALLOCATED  # routed by the rules, stock reserved
    assert replacement.shipping_address.line1 == order.shipping_address.line1
    assert Credit.objects.get(ret=ret).method == CreditMethod.EXCHANGE


@pytest.mark.django_db(transaction=True)
def test_an_instant_exchange_is_reserved_at_authorisation_and_cancelled_with_the_return(
    api,
    network,  # noqa: F811
    settings,
):
    settings.ROUTING_ON_RECEIPT = True
    set_policy(instant_exchange=True)
    order = delivered_order(api, network)
    ret = ask(order, ("CAP-NAVY", 1, "damaged"), method=CreditMethod.EXCHANGE)
    ret.refresh_from_db()
    assert ret.replacement_order.status == OrderStatus.ALLOCATED
    returns.return_cancel(return_id=ret.pk, actor=OPS, reason="found the other cap")
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.CANCELLED
    assert Order.objects.get(pk=ret.replacement_order_id).status == OrderStatus.CANCELLED
    # cancelled, the return no longer claims its cap
    assert ask(order, ("CAP-NAVY", 3, "damaged")).lines.get().quantity == 3


def test_a_return_can_span_orders_of_one_customer_but_not_two_customers(api, network):  # noqa: F811
    first = delivered_order(api, network, "R-A")
    second = delivered_order(api, network, "R-B")
    ret = returns.return_request(
        channel=first.channel,
        source=ReturnSource.CHANNEL,
        actor=OPS,
        lines=[
            ReturnLineInput(
                order_id=first.pk,
                line_number=line(first, "CAP-NAVY").line_number,
                quantity=1,
                reason="damaged",
            ),
            ReturnLineInput(
                order_id=second.pk,
                line_number=line(second, "CAP-NAVY").line_number,
                quantity=2,
                reason="damaged",
            ),
        ],
    )
    assert sorted(ret.lines.values_list("order_line__order__external_id", "quantity")) == [
        ("R-A", 1),
        ("R-B", 2),
    ]
    other = delivered_order(api, network, "R-C", customer={"email": "someone.else@example.gr"})
    with pytest.raises(ValidationFailed) as refused:
        returns.return_request(
            channel=first.channel,
            source=ReturnSource.CHANNEL,
            actor=OPS,
            lines=[
                ReturnLineInput(
                    order_id=first.pk,
                    line_number=line(first, "HOODIE-GRY-L").line_number,
                    quantity=1,
                    reason="damaged",
                ),
                ReturnLineInput(
                    order_id=other.pk,
                    line_number=line(other, "CAP-NAVY").line_number,
                    quantity=1,
                    reason="damaged",
                ),
            ],
        )
    assert refused.value.details == {"lines": ["A return holds the orders of one customer on one channel."]}


def test_a_restock_fills_a_backorder_and_the_ledger_reconciles(api, network):  # noqa: F811
    from io import StringIO

    from django.core.management import call_command

    from inventory import services as stock
    from oms.events import outbox_publish_pending

    order = delivered_order(api, network)
    # the Athens hoodies are all promised or gone: a new order for one waits for stock
    hoodies = StockPosition.objects.get(warehouse=network["ATH"], product__sku="HOODIE-GRY-L")
    stock.stock_adjust(
        warehouse=network["ATH"],
        product=hoodies.product,
        delta=-hoodies.on_hand,
        reason="counted empty",
        actor="t",
    )
    waiting = api.post(
        "/api/v1/orders/",
        order_payload("R-WAITS", lines=[{"sku": "HOODIE-GRY-L", "quantity": 1, "unit_price": "49.00"}]),
        format="json",
    ).json()["id"]
    stock.stock_allocate(order_id=waiting, actor="t")
    assert Order.objects.get(pk=waiting).status == OrderStatus.BACKORDERED
    everything_back(ask(order, ("HOODIE-GRY-L", 1, "too_large")))
    outbox_publish_pending()  # stock.received reaches the backorders
    assert Order.objects.get(pk=waiting).status == OrderStatus.ALLOCATED
    out = StringIO()
    call_command("reconcile_stock", stdout=out)
    assert "matches" in out.getvalue()


def test_units_that_came_back_cannot_be_asked_back_again(api, network):  # noqa: F811
    order = delivered_order(api, network)
    everything_back(ask(order, ("CAP-NAVY", 3, "damaged")))
    with pytest.raises(ValidationFailed) as refused:
        ask(order, ("CAP-NAVY", 1, "damaged"))
    assert refused.value.details == {
        "lines.0.quantity": [
            "0 unit(s) of CAP-NAVY can be returned (3 delivered, 3 returned, 0 already asked back)."
        ]
    }
