"""Every write of replenishment besides the evaluation (replenishment.evaluation): ops' decisions on
suggestions, the orders made from approved ones, and purchase orders sent and received. One
transaction each; rows locked in one order (suggestions by id, then purchase orders, then stock)."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from inventory import services as stock
from inventory.models import ReferenceType, Warehouse
from oms.errors import Conflict, IllegalTransition, NotFound, ValidationFailed
from replenishment.models import (
    PURCHASE_ORDER_TRANSITIONS,
    ProductionOrder,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    ReorderRule,
    Suggestion,
    SuggestionKind,
    SuggestionStatus,
)


@transaction.atomic
def rules_apply_suggested(*, rule_ids: list[int], actor: str) -> list[ReorderRule]:
    """Set each rule's reorder point and order-up-to level to the values its demand suggests."""
    from replenishment.demand import suggested_values

    rules = list(
        ReorderRule.objects.select_for_update(of=("self",))
        .filter(pk__in=rule_ids)
        .select_related("supplier", "production_site")
        .order_by("pk")
    )
    values = suggested_values(rules)
    for rule in rules:
        rule.reorder_point = values[rule.pk].reorder_point
        rule.order_up_to = values[rule.pk].order_up_to
        rule.save(update_fields=["reorder_point", "order_up_to", "updated_at"])
    return rules


def _open_suggestion(suggestion_id: int) -> Suggestion:
    suggestion = Suggestion.objects.select_for_update().filter(pk=suggestion_id).first()
    if suggestion is None:
        raise NotFound("No such suggestion.")
    return suggestion


@transaction.atomic
def suggestion_decide(
    *, suggestion_id: int, approve: bool, actor: str, quantity: int | None = None
) -> Suggestion:
    """Ops approve (with the quantity they choose) or reject an open suggestion. An approved one counts
    as on order until it is ordered; a rejected one leaves the position to the next evaluation."""
    suggestion = _open_suggestion(suggestion_id)
    if suggestion.status != SuggestionStatus.OPEN:
        raise IllegalTransition(
            f"This suggestion is {suggestion.get_status_display().lower()} already.",
            details={"status": suggestion.status},
        )
    if quantity is not None:
        if quantity < 1:
            raise ValidationFailed("The quantity is invalid.", details={"quantity": ["Must be at least 1."]})
        suggestion.quantity = quantity
    suggestion.status = SuggestionStatus.APPROVED if approve else SuggestionStatus.REJECTED
    suggestion.decided_by = actor[:120]
    suggestion.save(update_fields=["status", "quantity", "decided_by", "updated_at"])
    return suggestion


@dataclass
class OrdersMade:
    purchase_orders: list[PurchaseOrder] = field(default_factory=list)
    transfers: list = field(default_factory=list)
    production_orders: list[ProductionOrder] = field(default_factory=list)


@transaction.atomic
def suggestions_order(*, suggestion_ids: list[int], actor: str) -> OrdersMade:
    """Approved suggestions become orders: purchases gathered into one draft purchase order per
    supplier and warehouse (added to a draft already open for them), transfers planned between the
    warehouses, production orders planned at the site; each due after its lead time."""
    made = OrdersMade()
    suggestions = list(
        Suggestion.objects.select_for_update(of=("self",))
        .filter(pk__in=suggestion_ids)
        .select_related("rule", "supplier", "production_site", "position__product", "position__warehouse")
        .order_by("pk")
    )
    refused = {
        s.pk: s.get_status_display().lower() for s in suggestions if s.status != SuggestionStatus.APPROVED
    }
    if refused or len(suggestions) != len(set(suggestion_ids)):
        missing = sorted(set(suggestion_ids) - {s.pk for s in suggestions})
        raise Conflict(
            "Only approved suggestions can be ordered; nothing was ordered.",
            details={
                "suggestions": [f"{pk}: {status}" for pk, status in refused.items()]
                + [f"{pk}: no such suggestion" for pk in missing]
            },
        )
    today = timezone.localdate()
    drafts: dict[tuple[int, int], PurchaseOrder] = {}
    for suggestion in suggestions:
        position = suggestion.position
        if suggestion.kind == SuggestionKind.PURCHASE:
            key = (suggestion.supplier_id, position.warehouse_id)
            if key not in drafts:
                draft = (
                    PurchaseOrder.objects.select_for_update()
                    .filter(supplier_id=key[0], warehouse_id=key[1], status=PurchaseOrderStatus.DRAFT)
                    .order_by("pk")
                    .first()
                )
                if draft is None:
                    draft = PurchaseOrder.objects.create(
                        supplier_id=key[0], warehouse_id=key[1], status=PurchaseOrderStatus.DRAFT
                    )
                drafts[key] = draft
                made.purchase_orders.append(draft)
            draft = drafts[key]
            lead = suggestion.rule.lead_time_days or suggestion.supplier.lead_time_days
            expected = today + timedelta(days=lead)
            if draft.expected_date is None or expected > draft.expected_date:
                draft.expected_date = expected
                draft.save(update_fields=["expected_date", "updated_at"])
            suggestion.purchase_order_line = PurchaseOrderLine.objects.create(
                purchase_order=draft, product=position.product, quantity=suggestion.quantity
            )
        elif suggestion.kind == SuggestionKind.TRANSFER:
            suggestion.transfer = stock.transfer_plan(
                product=position.product,
                from_warehouse=Warehouse.objects.get(pk=suggestion.source_warehouse_id),
                to_warehouse=position.warehouse,
                quantity=suggestion.quantity,
                actor=actor,
            )
            made.transfers.append(suggestion.transfer)
        else:
            site = suggestion.production_site
            lead = suggestion.rule.lead_time_days or site.lead_time_days
            suggestion.production_order = ProductionOrder.objects.create(
                site=site,
                product=position.product,
                quantity=suggestion.quantity,
                due_date=today + timedelta(days=lead),
            )
            made.production_orders.append(suggestion.production_order)
        suggestion.status = SuggestionStatus.ORDERED
        suggestion.save(
            update_fields=["status", "purchase_order_line", "transfer", "production_order", "updated_at"]
        )
    return made


def _locked_purchase_order(purchase_order_id: int) -> PurchaseOrder:
    purchase_order = PurchaseOrder.objects.select_for_update().filter(pk=purchase_order_id).first()
    if purchase_order is None:
        raise NotFound("No such purchase order.")
    return purchase_order


def _move(purchase_order: PurchaseOrder, to_status: str) -> None:
    if to_status not in PURCHASE_ORDER_TRANSITIONS[purchase_order.status]:
        raise IllegalTransition(
            f"{purchase_order} cannot go from {PurchaseOrderStatus(purchase_order.status).label.lower()} "
            f"to {PurchaseOrderStatus(to_status).label.lower()}.",
            details={"from_status": purchase_order.status, "to_status": to_status},
        )
    purchase_order.status = to_status


@transaction.atomic
def purchase_order_send(*, purchase_order_id: int, actor: str) -> PurchaseOrder:
    """The draft goes to the supplier: from now on it is what the supplier is to deliver."""
    purchase_order = _locked_purchase_order(purchase_order_id)
    if not purchase_order.lines.exists():
        raise ValidationFailed(f"{purchase_order} has no lines.", details={"lines": ["Add a line first."]})
    _move(purchase_order, PurchaseOrderStatus.SENT)
    purchase_order.save(update_fields=["status", "updated_at"])
    return purchase_order


@dataclass(frozen=True)
class ReceiptLine:
    line_id: int
    quantity: int
    lot_code: str = ""
    expiry_date: object = None


@transaction.atomic
def purchase_order_receive(
    *,
    purchase_order_id: int,
    lines: list[ReceiptLine],
    actor: str,
    delivery_note: str = "",
    extra_errors: dict[str, list[str]] | None = None,
) -> PurchaseOrder:
    """Goods of a sent purchase order arrived, all or part: each line's units are booked through the
    ledger at the order's warehouse (lots and expiry for lot-tracked SKUs), which offers them to
    backorders oldest first as any receipt does. More than a line still expects is refused, with
    nothing booked. ``extra_errors``: the request's shape problems, answered with the lines' own."""
    purchase_order = _locked_purchase_order(purchase_order_id)
    if purchase_order.status not in (PurchaseOrderStatus.SENT, PurchaseOrderStatus.PARTIALLY_RECEIVED):
        raise IllegalTransition(
            f"{purchase_order} is {purchase_order.get_status_display().lower()}: "
            "nothing can be received on it.",
            details={"status": purchase_order.status},
        )
    own = {
        line.pk: line
        for line in purchase_order.lines.select_for_update().select_related("product").order_by("pk")
    }
    errors: dict[str, list[str]] = defaultdict(list)
    for path, problems in (extra_errors or {}).items():
        errors[path].extend(problems)
    booked: dict[int, int] = defaultdict(int)
    for n, receipt in enumerate(lines):
        line = own.get(receipt.line_id)
        if line is None:
            errors[f"lines.{n}.line_id"].append(f"{purchase_order} has no line {receipt.line_id}.")
            continue
        booked[line.pk] += receipt.quantity
        expected = line.quantity - line.received_quantity
        if receipt.quantity < 1:
            errors[f"lines.{n}.quantity"].append("Must be at least 1.")
        elif booked[line.pk] > expected:
            errors[f"lines.{n}.quantity"].append(
                f"{line.product.sku}: {expected} still expected, not {booked[line.pk]}."
            )
        if line.product.lot_tracked and not receipt.lot_code.strip():
            errors[f"lines.{n}.lot_code"].append(
                f"{line.product.sku} is lot-tracked: give the lot code (and its expiry date)."
            )
    if not lines and not errors:
        errors["lines"].append("Name at least one line.")
    if errors:
        raise ValidationFailed("The receipt is invalid; nothing was booked.", details=dict(errors))
    warehouse = purchase_order.warehouse
    for receipt in lines:
        line = own[receipt.line_id]
        stock.stock_receive(
            warehouse=warehouse,
            product=line.product,
            quantity=receipt.quantity,
            actor=actor,
            lot_code=receipt.lot_code,
            expiry_date=receipt.expiry_date,
            reference_type=ReferenceType.PURCHASE_ORDER,
            reference=purchase_order.pk,
            reason=f"received on {purchase_order}"
            + (f", delivery note {delivery_note}" if delivery_note else ""),
        )
        line.received_quantity += receipt.quantity
        line.save(update_fields=["received_quantity"])
    complete = all(line.received_quantity == line.quantity for line in own.values())
    _move(
        purchase_order, PurchaseOrderStatus.RECEIVED if complete else PurchaseOrderStatus.PARTIALLY_RECEIVED
    )
    purchase_order.save(update_fields=["status", "updated_at"])
    return purchase_order
