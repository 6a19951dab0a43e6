"""The credit for a return: what the units that came back were paid, less the policy's fees, in the
order's currency; issued once, whatever retries or concurrent calls there are."""

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import Sum

from orders.models import OrderLine
from orders.services import Actor
from returns.models import Credit, CreditLine, CreditMethod, Return, ReturnStatus
from returns.services.exchanges import replacement_create
from returns.services.policy import lines_paid, policy_for, quantum, units_value
from returns.services.states import emit, ensure_can_move, history, move, return_lock


def _credited_before(order_line_ids: list[int], ret: Return) -> dict[int, int]:
    return dict(
        CreditLine.objects.filter(order_line_id__in=order_line_ids)
        .exclude(credit__ret=ret)
        .values("order_line_id")
        .annotate(n=Sum("units"))
        .values_list("order_line_id", "n")
    )


@transaction.atomic
def return_credit(*, return_id: int, actor: Actor) -> Credit:
    """Issue the credit of an inspected return and close it. The return row is locked and the credit is
    one per return (a unique key backs the lock), so calling this twice, or twice at once, gives the
    same credit back and credits nothing twice."""
    ret = return_lock(return_id)
    existing = Credit.objects.filter(ret=ret).first()
    if existing is not None:
        return existing
    ensure_can_move(ret, ReturnStatus.CLOSED)
    policy = policy_for(ret.channel)
    lines = list(ret.lines.select_related("order_line__order", "reason"))
    orders = {line.order_line.order_id: line.order_line.order for line in lines}
    all_order_lines: dict[int, list[OrderLine]] = defaultdict(list)
    for order_line in OrderLine.objects.filter(order_id__in=list(orders)):
        all_order_lines[order_line.order_id].append(order_line)
    paid: dict[int, Decimal] = {}
    for order_id, order_lines in all_order_lines.items():
        paid |= lines_paid(orders[order_id], order_lines)
    before = _credited_before([line.order_line_id for line in lines], ret)
    currency = next(iter(orders.values())).currency
    step = quantum(currency)
    fee_share = policy.restocking_fee_percent / Decimal(100)
    credit_lines = []
    goods = fee = Decimal(0)
    for line in lines:
        if not line.received_quantity:
            continue
        order_line = line.order_line
        value = units_value(
            paid[order_line.pk],
            order_line.quantity,
            before.get(order_line.pk, 0),
            line.received_quantity,
            currency,
        )
        line_fee = (
            Decimal(0) if line.reason.merchant_fault else (value * fee_share).quantize(step, ROUND_HALF_UP)
        )
        goods += value
        fee += line_fee
        credit_lines.append(
            CreditLine(
                line=line,
                order_line=order_line,
                units=line.received_quantity,
                amount=value,
                restocking_fee=line_fee,
            )
        )
    merchant_fault = all(line.reason.merchant_fault for line in lines if line.received_quantity)
    shipping = Decimal(0)
    if policy.refund_shipping and merchant_fault and credit_lines:
        for order_id, order in orders.items():
            everything_back = all(ol.qty_returned >= ol.qty_shipped for ol in all_order_lines[order_id])
            refunded_before = Credit.objects.filter(
                lines__order_line__order_id=order_id, shipping__gt=0
            ).exists()
            if everything_back and not refunded_before:
                shipping += order.shipping_total
    label_fee = Decimal(0)
    if not merchant_fault and ret.events.filter(to_status=ReturnStatus.LABEL_ISSUED).exists():
        label_fee = policy.customer_label_fee
    amount = goods + shipping - fee - label_fee
    if amount < 0:
        label_fee = max(label_fee + amount, Decimal(0))
        amount = max(goods + shipping - fee - label_fee, Decimal(0))
    credit = Credit.objects.create(
        ret=ret,
        method=ret.credit_method,
        currency=currency,
        goods=goods,
        shipping=shipping,
        restocking_fee=fee,
        label_fee=label_fee,
        amount=amount,
    )
    for credit_line in credit_lines:
        credit_line.credit = credit
    CreditLine.objects.bulk_create(credit_lines)
    if ret.credit_method == CreditMethod.EXCHANGE and ret.replacement_order_id is None:
        ret.replacement_order = replacement_create(
            ret=ret, actor=actor, units={line.pk: line.received_quantity for line in lines}
        )
        ret.save(update_fields=["replacement_order"])
        if ret.replacement_order is not None:
            history(ret, actor, note=f"replacement {ret.replacement_order.number} ordered")
    history(
        ret,
        actor,
        note=f"{CreditMethod(credit.method).label}: {amount:f} {currency}",
        data={"credit_id": credit.pk, "amount": f"{amount:f}", "currency": currency},
    )
    emit(
        "credited",
        ret,
        credit_id=credit.pk,
        method=credit.method,
        amount=f"{amount:f}",
        currency=currency,
        replacement_order_id=ret.replacement_order_id,
    )
    move(ret, ReturnStatus.CLOSED, actor)
    return credit
