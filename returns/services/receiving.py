"""What the warehouse does with a return that arrives: count what came back per line, then decide per
unit (restock through the stock ledger, refurbish, quarantine, scrap, back to the vendor)."""

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.utils import timezone

from inventory.models import MovementKind, ReferenceType, Warehouse
from inventory.services import stock_receive
from oms.errors import Conflict, Errors, ValidationFailed, merge_errors
from orders.models import OrderLine, OrderStatus, Product
from orders.services import Actor, order_lines_record_progress, order_lock, order_transition
from returns.models import Disposition, Grade, Return, ReturnInspection, ReturnLine, ReturnStatus
from returns.services.credits import return_credit
from returns.services.policy import policy_for
from returns.services.states import ensure_can_move, history, move, return_lock


@dataclass(frozen=True)
class InspectionInput:
    """Units that share a grade and a disposition. ``line_id`` names the return line they belong to;
    without it they match no line (a wrong item or an extra one) and ``sku`` says what they are."""

    quantity: int
    grade: str
    disposition: str
    line_id: int | None = None
    sku: str = ""
    warehouse_code: str = ""
    bin_code: str = ""
    lot_code: str = ""
    expiry_date: date | None = None


@transaction.atomic
def return_receive(
    *,
    return_id: int,
    actor: Actor,
    received: Mapping[int, int],
    inspections: list[InspectionInput] | None = None,
    extra_errors: Errors | None = None,
) -> Return:
    """The parcel is here: ``received`` maps each return line to the units that came back (fewer than
    asked is a partial return; a line left out came back empty). The order lines' returned quantities
    move and the orders become partially returned or returned. With ``inspections``, the units are
    inspected in the same step (the receiving screen does both)."""
    errors: Errors = {}
    ret = return_lock(return_id)
    # A parcel the carrier delivered is already received, not counted yet: this counts it.
    arrived = ret.status == ReturnStatus.RECEIVED and ret.counted_at is None
    if not arrived:
        ensure_can_move(ret, ReturnStatus.RECEIVED)
    lines = {line.pk: line for line in ret.lines.select_related("order_line")}
    for line_id, units in received.items():
        line = lines.get(line_id)
        if line is None:
            errors.setdefault(f"lines.{line_id}", []).append(f"{ret.number} has no line {line_id}.")
        elif not 0 <= units <= line.quantity:
            errors.setdefault(f"lines.{line_id}", []).append(f"Between 0 and {line.quantity} (asked back).")
    errors = merge_errors(extra_errors or {}, errors)
    if errors:
        raise ValidationFailed("The receipt is invalid; nothing was saved.", details=errors)
    by_order: dict[int, dict[int, int]] = defaultdict(dict)
    for line in lines.values():
        line.received_quantity = received.get(line.pk, 0)
        by_order[line.order_line.order_id][line.order_line.pk] = line.received_quantity
    ReturnLine.objects.bulk_update(lines.values(), ["received_quantity"])
    for order_id in sorted(by_order):
        order = order_lock(order_id)
        order_lines = list(OrderLine.objects.select_for_update().filter(order_id=order_id))
        returned_now = by_order[order_id]
        order_lines_record_progress(
            order_id=order_id,
            quantities={
                line.line_number: {"qty_returned": line.qty_returned + returned_now[line.pk]}
                for line in order_lines
                if returned_now.get(line.pk)
            },
            locked=order,
            locked_lines=order_lines,
        )
        returned = sum(line.qty_returned for line in order_lines)
        if not returned:
            continue
        shipped = sum(line.qty_shipped for line in order_lines)
        target = OrderStatus.RETURNED if returned >= shipped else OrderStatus.PARTIALLY_RETURNED
        if target != order.status and order.status in (
            OrderStatus.SHIPPED,
            OrderStatus.DELIVERED,
            OrderStatus.PARTIALLY_RETURNED,
        ):
            order_transition(
                order_id=order_id, to_status=target, actor=actor, note=f"{ret.number} received", locked=order
            )
    ret.counted_at = timezone.now()
    counts = {"received": {str(line.pk): line.received_quantity for line in lines.values()}}
    if arrived:
        ret.save(update_fields=["counted_at", "updated_at"])
        history(ret, actor, note="counted", data=counts)
    else:
        move(ret, ReturnStatus.RECEIVED, actor, data=counts, fields=("counted_at",))
    if inspections is not None:
        _inspect(ret, actor, inspections, {})
    return ret


@transaction.atomic
def return_inspect(
    *, return_id: int, actor: Actor, inspections: list[InspectionInput], extra_errors: Errors | None = None
) -> Return:
    """Every unit that came back gets a grade and a disposition; restocked units go back into stock
    (``return_restock`` in the ledger, which may fill backorders like any receipt). Then the credit is
    issued when the policy says so."""
    ret = return_lock(return_id)
    return _inspect(ret, actor, inspections, extra_errors or {})


def _inspect(ret: Return, actor: Actor, inspections: list[InspectionInput], extra_errors: Errors) -> Return:
    errors: Errors = {}
    ensure_can_move(ret, ReturnStatus.INSPECTED)
    if ret.counted_at is None:
        raise Conflict(
            f"{ret.number} arrived but was not counted yet: record what came back first.",
            code="return_not_counted",
        )
    lines = {line.pk: line for line in ret.lines.select_related("order_line__product")}
    decided: dict[int, int] = defaultdict(int)
    rows: list[tuple[int, InspectionInput, Product, Warehouse | None]] = []
    warehouses = {
        w.code: w
        for w in Warehouse.objects.filter(
            code__in={i.warehouse_code.strip() for i in inspections if i.warehouse_code.strip()}
        )
    }
    for i, item in enumerate(inspections):
        path = f"inspections.{i}"
        product = None
        if item.line_id is not None:
            line = lines.get(item.line_id)
            if line is None:
                errors.setdefault(f"{path}.line_id", []).append(f"{ret.number} has no line {item.line_id}.")
                continue
            product = line.order_line.product
            decided[line.pk] += item.quantity
        elif not item.sku.strip():
            errors.setdefault(f"{path}.sku", []).append("Units that match no line must say what they are.")
        else:
            product = Product.objects.filter(sku=item.sku.strip().upper()).first()
            if product is None:
                errors.setdefault(f"{path}.sku", []).append(f"No product {item.sku.strip()}.")
        if item.quantity < 1:
            errors.setdefault(f"{path}.quantity", []).append("Must be at least 1.")
        if item.grade not in Grade.values:
            errors.setdefault(f"{path}.grade", []).append(f"One of {', '.join(Grade.values)}.")
        if item.disposition not in Disposition.values:
            errors.setdefault(f"{path}.disposition", []).append(f"One of {', '.join(Disposition.values)}.")
        warehouse = None
        if item.disposition == Disposition.RESTOCK:
            code = item.warehouse_code.strip()
            warehouse = warehouses.get(code) if code else ret.return_location
            if warehouse is None:
                errors.setdefault(f"{path}.warehouse", []).append(
                    f"No warehouse {code}." if code else "Say which warehouse the units go back into."
                )
            if product is not None and product.lot_tracked and not item.lot_code.strip():
                errors.setdefault(f"{path}.lot_code", []).append(
                    f"{product.sku} is lot-tracked: give the lot."
                )
        if product is not None:
            rows.append((i, item, product, warehouse))
    for line in lines.values():
        if decided[line.pk] != line.received_quantity:
            errors.setdefault(f"lines.{line.pk}", []).append(
                f"{line.received_quantity} unit(s) of {line.order_line.sku} came back; "
                f"{decided[line.pk]} have a disposition."
            )
    errors = merge_errors(extra_errors, errors)
    if errors:
        raise ValidationFailed("The inspection is invalid; nothing was saved.", details=errors)
    for i, item, product, warehouse in rows:
        ReturnInspection.objects.create(
            ret=ret,
            line_id=item.line_id,
            product=product,
            quantity=item.quantity,
            grade=item.grade,
            disposition=item.disposition,
            warehouse=warehouse,
            bin_code=item.bin_code.strip(),
            lot_code=item.lot_code.strip(),
            inspected_by=actor.label[:120],
        )
        if item.disposition == Disposition.RESTOCK:
            try:
                stock_receive(
                    warehouse=warehouse,
                    product=product,
                    quantity=item.quantity,
                    actor=actor.label,
                    lot_code=item.lot_code,
                    expiry_date=item.expiry_date,
                    bin_code=item.bin_code.strip(),
                    reason=f"{ret.number}: {Grade(item.grade).label.lower()}",
                    reference_type=ReferenceType.RETURN,
                    reference=ret.number,
                    kind=MovementKind.RETURN_RESTOCK,
                )
            except ValidationFailed as exc:
                raise ValidationFailed(
                    "The inspection is invalid; nothing was saved.",
                    details={
                        f"inspections.{i}.{field}": problems
                        for field, problems in (exc.details or {}).items()
                    },
                ) from exc
    move(
        ret,
        ReturnStatus.INSPECTED,
        actor,
        data={
            "dispositions": {
                d: sum(item.quantity for _, item, _, _ in rows if item.disposition == d)
                for d in Disposition.values
            }
        },
    )
    if policy_for(ret.channel).credit_after_inspection:
        return_credit(return_id=ret.pk, actor=actor)
    return ret
