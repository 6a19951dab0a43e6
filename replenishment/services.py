"""Every write of replenishment besides the evaluation (replenishment.evaluation): ops' decisions on
suggestions, the orders made from approved ones, and purchase orders sent and received. One
transaction each; rows locked in one order (suggestions by id, then purchase orders, then stock)."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from inventory import services as stock
from inventory.models import ReferenceType, Warehouse
from oms.errors import Conflict, IllegalTransition, NotFound, ValidationFailed
from oms.events import event_emit
from replenishment.documents import purchase_order_csv, purchase_order_pdf
from replenishment.models import (
    PRODUCTION_ORDER_TRANSITIONS,
    PURCHASE_ORDER_TRANSITIONS,
    ProductionOrder,
    ProductionOrderStatus,
    ProductionSite,
    ProductionSlot,
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
    for site_id in sorted({mo.site_id for mo in made.production_orders}):
        production_schedule(site_id=site_id)
    for mo in made.production_orders:
        mo.refresh_from_db(fields=["status", "scheduled_date"])
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
    purchase_order.sent_at = timezone.now()
    purchase_order.save(update_fields=["status", "sent_at", "updated_at"])
    event_emit(
        name="purchase_order.sent",
        aggregate_type="purchase_order",
        aggregate_id=purchase_order.pk,
        payload={"purchase_order_id": purchase_order.pk, "supplier_id": purchase_order.supplier_id},
    )
    return purchase_order


@transaction.atomic
def purchase_order_email(*, purchase_order_id: int) -> bool:
    """E-mail a sent purchase order to its supplier, with its PDF and CSV, once: the row lock and
    ``emailed_at`` make a redelivered event send nothing (the window is the SMTP round trip, as for
    customer messages). False when the supplier has no address: ops send the PDF themselves."""
    purchase_order = (
        PurchaseOrder.objects.select_for_update(of=("self",))
        .select_related("supplier", "warehouse")
        .filter(pk=purchase_order_id)
        .first()
    )
    if purchase_order is None:
        raise NotFound("No such purchase order.")
    if purchase_order.emailed_at or not purchase_order.supplier.email:
        return False
    message = EmailMessage(
        subject=f"Purchase order {purchase_order} for delivery to {purchase_order.warehouse.name}",
        body=(
            f"Dear {purchase_order.supplier.name},\n\nplease find our purchase order {purchase_order} "
            f"attached (PDF, and CSV for your order entry), for delivery to {purchase_order.warehouse.name}"
            + (f" by {purchase_order.expected_date:%d %b %Y}" if purchase_order.expected_date else "")
            + f".\nPlease quote {purchase_order} on the delivery note.\n"
        ),
        from_email=settings.REPLENISHMENT_PURCHASING_FROM,
        to=[purchase_order.supplier.email],
    )
    message.attach(f"{purchase_order}.pdf", purchase_order_pdf(purchase_order), "application/pdf")
    message.attach(f"{purchase_order}.csv", purchase_order_csv(purchase_order), "text/csv")
    message.send()
    purchase_order.emailed_to = purchase_order.supplier.email
    purchase_order.emailed_at = timezone.now()
    purchase_order.save(update_fields=["emailed_to", "emailed_at", "updated_at"])
    return True


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


# --- production: the schedule of each site's daily capacity, and what is made

SCHEDULE_HORIZON_DAYS = 365
NOT_STARTED = [ProductionOrderStatus.PLANNED, ProductionOrderStatus.SCHEDULED]


def _production_move(order: ProductionOrder, to_status: str) -> None:
    if to_status not in PRODUCTION_ORDER_TRANSITIONS[order.status]:
        raise IllegalTransition(
            f"{order} cannot go from {ProductionOrderStatus(order.status).label.lower()} "
            f"to {ProductionOrderStatus(to_status).label.lower()}.",
            details={"from_status": order.status, "to_status": to_status},
        )
    order.status = to_status


def _locked_site(site_id: int) -> ProductionSite:
    site = ProductionSite.objects.select_for_update().filter(pk=site_id).first()
    if site is None:
        raise NotFound("No such production site.")
    return site


@transaction.atomic
def production_schedule(*, site_id: int, today: date | None = None) -> list[ProductionOrder]:
    """Fill the site's daily capacity with its orders not started yet, earliest due first (then the
    oldest), from today on. Orders in progress keep their slots and use the capacity first. Each order
    takes what is left of a day, then the next days, until all its units fit; its scheduled date is
    the day its last unit is made, when its stock is expected. What does not fit within a year stays
    planned, with no date (the page shows it). The site's row lock serialises its schedulers."""
    site = _locked_site(site_id)
    today = today or timezone.localdate()
    orders = list(
        ProductionOrder.objects.select_for_update()
        .filter(site=site, status__in=NOT_STARTED)
        .order_by(F("due_date").asc(nulls_last=True), "pk")
    )
    ProductionSlot.objects.filter(production_order__in=[o.pk for o in orders]).delete()
    used = dict(
        ProductionSlot.objects.filter(site=site, day__gte=today)
        .values_list("day")
        .annotate(units=Sum("units"))
        .values_list("day", "units")
    )
    last_day = today + timedelta(days=SCHEDULE_HORIZON_DAYS - 1)
    day = today
    free = max(site.capacity_per_day - used.get(day, 0), 0)
    slots: list[ProductionSlot] = []
    for order in orders:
        left = order.quantity - order.produced_quantity
        own: list[ProductionSlot] = []
        while left > 0 and day <= last_day:
            if free == 0:
                day += timedelta(days=1)
                free = max(site.capacity_per_day - used.get(day, 0), 0)
                continue
            take = min(free, left)
            own.append(ProductionSlot(production_order=order, site=site, day=day, units=take))
            free -= take
            left -= take
        fits = left == 0 and bool(own)
        if fits:
            slots += own
        status = ProductionOrderStatus.SCHEDULED if fits else ProductionOrderStatus.PLANNED
        scheduled = own[-1].day if fits else None
        if (order.status, order.scheduled_date) != (status, scheduled):
            _production_move(order, status)
            order.scheduled_date = scheduled
            order.save(update_fields=["status", "scheduled_date"])
    ProductionSlot.objects.bulk_create(slots)
    return orders


def _locked_production_order(production_order_id: int) -> ProductionOrder:
    site_id = ProductionOrder.objects.filter(pk=production_order_id).values_list("site_id", flat=True).first()
    if site_id is None:
        raise NotFound("No such production order.")
    _locked_site(site_id)  # the site before its orders, as the scheduler locks them
    return (
        ProductionOrder.objects.select_for_update()
        .select_related("site", "product")
        .get(pk=production_order_id)
    )


@transaction.atomic
def production_order_start(*, production_order_id: int, actor: str) -> ProductionOrder:
    """The site began making a scheduled order: its slots stay where they are from now on."""
    order = _locked_production_order(production_order_id)
    _production_move(order, ProductionOrderStatus.IN_PROGRESS)
    order.save(update_fields=["status"])
    return order


@transaction.atomic
def production_order_report(
    *, production_order_id: int, quantity: int, actor: str, lot_code: str = "", expiry_date=None
) -> ProductionOrder:
    """Units made: booked through the ledger at the site's warehouse (serving backorders oldest first,
    as any receipt does). A scheduled order is started by its first report; the last units make it
    done, and the days it no longer needs go back to the site's other orders."""
    order = _locked_production_order(production_order_id)
    if order.status == ProductionOrderStatus.SCHEDULED:
        _production_move(order, ProductionOrderStatus.IN_PROGRESS)
    if order.status != ProductionOrderStatus.IN_PROGRESS:
        raise IllegalTransition(
            f"{order} is {order.get_status_display().lower()}: nothing can be reported on it.",
            details={"status": order.status},
        )
    outstanding = order.quantity - order.produced_quantity
    if not 1 <= quantity <= outstanding:
        raise ValidationFailed(
            "The quantity is invalid; nothing was booked.",
            details={"quantity": [f"From 1 to {outstanding} ({order.product.sku} still to make)."]},
        )
    stock.stock_receive(
        warehouse=order.site.warehouse,
        product=order.product,
        quantity=quantity,
        actor=actor,
        lot_code=lot_code,
        expiry_date=expiry_date,
        reference_type=ReferenceType.PRODUCTION_ORDER,
        reference=order.pk,
        reason=f"made on {order} at {order.site.code}",
    )
    order.produced_quantity += quantity
    if order.produced_quantity == order.quantity:
        _production_move(order, ProductionOrderStatus.DONE)
    order.save(update_fields=["status", "produced_quantity"])
    if order.status == ProductionOrderStatus.DONE:
        ProductionSlot.objects.filter(production_order=order, day__gt=timezone.localdate()).delete()
        production_schedule(site_id=order.site_id)
    return order
