"""Waves of pick lists, pick confirmation (short picks sent back to routing) and packing."""

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef, Sum
from django.utils import timezone

from inventory import services as stock
from inventory.models import Allocation, AllocationStatus, Warehouse
from oms.errors import (
    Errors,
    IllegalTransition,
    NotFound,
    ValidationFailed,
    merge_errors,
)
from oms.events import event_emit
from orders import services as order_services
from orders.models import Order, OrderLine, OrderStatus, order_pk_from_number
from orders.services import Actor
from routing import services as routing
from shipments.models import (
    PICK_LIST_TRANSITIONS,
    Package,
    PackageLine,
    PickLineStatus,
    PickList,
    PickListLine,
    PickListStatus,
    ShipmentStatus,
    WaveSchedule,
)

# Orders whose allocated units may be picked.
PICKABLE_ORDER_STATUSES = (
    OrderStatus.ALLOCATED,
    OrderStatus.PARTIALLY_ALLOCATED,
    OrderStatus.IN_FULFILLMENT,
    OrderStatus.PARTIALLY_SHIPPED,
)


# ----------------------------------------------------------------------------------------------- waves


def _allocations_to_pick(warehouse_id: int, order_ids: list[int] | None = None):
    already_listed = PickListLine.objects.filter(allocation=OuterRef("pk")).exclude(
        status=PickLineStatus.CANCELLED
    )
    query = Allocation.objects.filter(
        status=AllocationStatus.ACTIVE,
        position__warehouse_id=warehouse_id,
        order_line__order__status__in=PICKABLE_ORDER_STATUSES,
    )
    if order_ids is not None:
        query = query.filter(order_line__order_id__in=order_ids)
    return (
        query.exclude(Exists(already_listed))
        .select_related("order_line__order", "lot__bin", "position__default_bin")
        .order_by("order_line__order__placed_at", "order_line__order_id", "pk")
    )


def pick_lists_for_orders(*, order_ids: list[int], actor: Actor) -> list[PickList]:
    """Pick lists for these orders only, one per warehouse that holds units of them not yet listed
    (ops expediting a handful of orders); each warehouse's wave in its own transaction."""
    warehouse_ids = sorted(
        set(
            Allocation.objects.filter(
                status=AllocationStatus.ACTIVE,
                order_line__order_id__in=order_ids,
                order_line__order__status__in=PICKABLE_ORDER_STATUSES,
            ).values_list("position__warehouse_id", flat=True)
        )
    )
    lists = []
    for warehouse_id in warehouse_ids:
        pick_list = wave_release(warehouse_id=warehouse_id, actor=actor, order_ids=order_ids)
        if pick_list is not None:
            lists.append(pick_list)
    return lists


@transaction.atomic
def wave_release(
    *, warehouse_id: int, actor: Actor, max_orders: int | None = None, order_ids: list[int] | None = None
) -> PickList | None:
    """Put the warehouse's allocated, not yet listed units on one pick list, oldest orders first
    (up to ``max_orders`` orders, or only ``order_ids`` when ops expedite some), sorted by bin so
    that the picker walks once. None when there is nothing to pick."""
    # One wave at a time per warehouse: the lock makes a concurrent release wait and then find
    # that these allocations are listed already.
    warehouse = Warehouse.objects.select_for_update().filter(pk=warehouse_id).first()
    if warehouse is None:
        raise NotFound(f"Warehouse {warehouse_id} does not exist.")
    chosen: list[Allocation] = []
    orders: list[int] = []
    for allocation in _allocations_to_pick(warehouse_id, order_ids):
        order_id = allocation.order_line.order_id
        if order_id not in orders:
            if max_orders is not None and len(orders) >= max_orders:
                continue
            orders.append(order_id)
        chosen.append(allocation)
    if not chosen:
        return None
    pick_list = PickList.objects.create(warehouse=warehouse, released_by=actor.label[:120])
    lines = []
    for allocation in chosen:
        lot = allocation.lot
        bin_location = (
            lot.bin if lot is not None and lot.bin_id else None
        ) or allocation.position.default_bin
        lines.append(
            PickListLine(
                pick_list=pick_list,
                allocation=allocation,
                order_line=allocation.order_line,
                sku=allocation.order_line.sku,
                bin_code=bin_location.code if bin_location else "",
                lot_code=lot.code if lot else "",
                lot_expiry=lot.expiry_date if lot else None,
                quantity=allocation.quantity,
            )
        )
    PickListLine.objects.bulk_create(lines)
    for order_id in orders:
        order = order_services.order_lock(order_id)
        if order.status in (OrderStatus.ALLOCATED, OrderStatus.PARTIALLY_ALLOCATED):
            order_services.order_transition(
                order_id=order_id,
                to_status=OrderStatus.IN_FULFILLMENT,
                actor=actor,
                note=f"on pick list {pick_list.number}",
                locked=order,
            )
    event_emit(
        name="pick_list.released",
        aggregate_type="pick_list",
        aggregate_id=pick_list.pk,
        payload={"pick_list_id": pick_list.pk, "warehouse": warehouse.code, "orders": orders},
    )
    return pick_list


def waves_release_due(*, now: datetime | None = None) -> list[PickList]:
    """The beat job: release a wave for every warehouse whose schedule is due."""
    now = now or timezone.now()
    released = []
    for schedule in WaveSchedule.objects.filter(is_active=True, warehouse__is_active=True):
        due = schedule.last_released_at is None or (
            (now - schedule.last_released_at).total_seconds() >= schedule.every_minutes * 60
        )
        if not due:
            continue
        with transaction.atomic():
            pick_list = wave_release(
                warehouse_id=schedule.warehouse_id,
                actor=Actor.system("wave schedule"),
                max_orders=schedule.max_orders,
            )
            WaveSchedule.objects.filter(pk=schedule.pk).update(last_released_at=now)
        if pick_list is not None:
            released.append(pick_list)
    return released


def _pick_list_transition(pick_list: PickList, to_status: str) -> None:
    if to_status not in PICK_LIST_TRANSITIONS[pick_list.status]:
        raise IllegalTransition(
            f"Pick list {pick_list.number} is {pick_list.get_status_display().lower()}: "
            f"it cannot become {PickListStatus(to_status).label.lower()}."
        )
    pick_list.status = to_status


def _follow_allocations(pick_list: PickList) -> None:
    """Open lines follow their allocations: a promise withdrawn since the release (a cancelled order,
    stock adjusted down) is not picked, a smaller one is picked smaller."""
    for line in pick_list.lines.filter(status=PickLineStatus.OPEN).select_related("allocation"):
        allocation = line.allocation
        if allocation.status != AllocationStatus.ACTIVE:
            line.status = PickLineStatus.CANCELLED
            line.save(update_fields=["status"])
        elif allocation.quantity < line.quantity:
            line.quantity = allocation.quantity
            line.save(update_fields=["quantity"])


def _locked_pick_list(pick_list_id: int) -> PickList:
    pick_list = PickList.objects.select_for_update().filter(pk=pick_list_id).first()
    if pick_list is None:
        raise NotFound(f"Pick list {pick_list_id} does not exist.")
    return pick_list


def pick_list_confirm(
    *, pick_list_id: int, picked: Mapping[int, int], actor: Actor, extra_errors: Errors | None = None
) -> PickList:
    """Record what the picker found, line by line (``picked``: pick line id -> units found).

    Units found short are taken off the shelf's figure and out of their allocation, and each order
    with a shortfall is routed again at once (the next best warehouse, or a backorder), each in its
    own transaction after the confirmation is saved.
    """
    with transaction.atomic():
        pick_list = _locked_pick_list(pick_list_id)
        _pick_list_transition(pick_list, PickListStatus.DONE)
        _follow_allocations(pick_list)
        # Lines of orders cancelled since the release were withdrawn; their counts are not asked for.
        lines = list(
            pick_list.lines.filter(status=PickLineStatus.OPEN).select_related("order_line").order_by("pk")
        )
        errors: dict[str, list[str]] = {}
        for line in lines:
            value = picked.get(line.pk)
            if value is None:
                errors[f"lines.{line.pk}"] = [
                    f"Say how many of {line.sku} were found (0 to {line.quantity})."
                ]
            elif not 0 <= value <= line.quantity:
                errors[f"lines.{line.pk}"] = [f"Between 0 and {line.quantity}."]
        withdrawn = set(pick_list.lines.filter(status=PickLineStatus.CANCELLED).values_list("pk", flat=True))
        unknown = set(picked) - {line.pk for line in lines} - withdrawn
        for line_id in sorted(unknown):
            errors[f"lines.{line_id}"] = ["Not a line of this pick list."]
        if errors or extra_errors:
            raise ValidationFailed(
                "The pick confirmation is incomplete; nothing was saved.",
                details=merge_errors(extra_errors or {}, errors),
            )

        short_orders: list[int] = []
        progress: dict[int, dict[int, int]] = defaultdict(dict)
        for line in lines:
            found = picked[line.pk]
            line.qty_picked = found
            line.status = PickLineStatus.PICKED
            missing = line.quantity - found
            if missing:
                stock.stock_short_pick(
                    allocation_id=line.allocation_id,
                    missing=missing,
                    actor=actor.label,
                    reference=pick_list.number,
                )
                short_orders.append(line.order_line.order_id)
            if found:
                number = line.order_line.line_number
                progress[line.order_line.order_id][number] = (
                    progress[line.order_line.order_id].get(number, 0) + found
                )
        PickListLine.objects.bulk_update(lines, ["qty_picked", "status"])
        for order_id, by_number in progress.items():
            current = {ln.line_number: ln.qty_picked for ln in OrderLine.objects.filter(order_id=order_id)}
            order_services.order_lines_record_progress(
                order_id=order_id,
                quantities={n: {"qty_picked": current[n] + units} for n, units in by_number.items()},
            )
        pick_list.confirmed_by = actor.label[:120]
        pick_list.confirmed_at = timezone.now()
        pick_list.save(update_fields=["status", "confirmed_by", "confirmed_at"])
        short_orders = list(dict.fromkeys(short_orders))
        for order_id in short_orders:
            order_services.order_note_add(
                order_id=order_id,
                actor=actor,
                note=(
                    f"Short pick on {pick_list.number}: the missing units go back to routing "
                    f"(not from {pick_list.warehouse.code} this time)."
                ),
            )
            event_emit(
                name="pick_list.short",
                aggregate_type="order",
                aggregate_id=order_id,
                payload={"order_id": order_id, "pick_list_id": pick_list.pk},
            )
    for order_id in short_orders:
        with transaction.atomic():
            # Not from the warehouse that just came up short: its figures are in doubt until counted.
            routing.route_order(order_id=order_id, exclude_warehouse_ids=frozenset({pick_list.warehouse_id}))
    return pick_list


@transaction.atomic
def pick_list_cancel(*, pick_list_id: int, actor: Actor) -> PickList:
    """Withdraw a list before picking; its allocations go on the next wave."""
    pick_list = _locked_pick_list(pick_list_id)
    _pick_list_transition(pick_list, PickListStatus.CANCELLED)
    pick_list.lines.update(status=PickLineStatus.CANCELLED)
    pick_list.confirmed_by = actor.label[:120]
    pick_list.confirmed_at = timezone.now()
    pick_list.save(update_fields=["status", "confirmed_by", "confirmed_at"])
    return pick_list


# ----------------------------------------------------------------------------------------------- packing


def packable_units(*, order_id: int, warehouse_id: int) -> dict[int, int]:
    """Order line id -> units picked at the warehouse and not packed yet."""
    picked = (
        PickListLine.objects.filter(
            order_line__order_id=order_id,
            pick_list__warehouse_id=warehouse_id,
            status=PickLineStatus.PICKED,
        )
        .values("order_line_id")
        .annotate(units=Sum("qty_picked"))
    )
    packed = (
        PackageLine.objects.filter(package__order_id=order_id, package__warehouse_id=warehouse_id)
        .exclude(package__shipment__status=ShipmentStatus.CANCELLED)
        .values("order_line_id")
        .annotate(units=Sum("quantity"))
    )
    left = {row["order_line_id"]: row["units"] or 0 for row in picked}
    for row in packed:
        left[row["order_line_id"]] = left.get(row["order_line_id"], 0) - (row["units"] or 0)
    return {line_id: units for line_id, units in left.items() if units > 0}


@transaction.atomic
def package_create(
    *,
    order_id: int,
    warehouse_id: int,
    contents: Mapping[int, int],
    weight_grams: int,
    length_mm: int,
    width_mm: int,
    height_mm: int,
    actor: Actor,
    extra_errors: Errors | None = None,
) -> Package:
    """Put picked units of an order (``contents``: order line id -> units) into one measured package.
    ``extra_errors``: problems the caller found in the request, answered with this check's own."""
    order_services.order_lock(order_id)
    left = packable_units(order_id=order_id, warehouse_id=warehouse_id)
    errors: dict[str, list[str]] = {}
    for name, value in (
        ("weight_grams", weight_grams),
        ("length_mm", length_mm),
        ("width_mm", width_mm),
        ("height_mm", height_mm),
    ):
        if not isinstance(value, int) or value <= 0:
            errors[name] = ["Must be a whole number above 0."]
    wanted = {line_id: units for line_id, units in contents.items() if units}
    if not wanted:
        errors["contents"] = ["Put at least one unit in the package."]
    for line_id, units in wanted.items():
        if units < 0 or units > left.get(line_id, 0):
            errors[f"contents.{line_id}"] = [
                f"{left.get(line_id, 0)} picked unit(s) of this line wait to be packed."
            ]
    if errors or extra_errors:
        raise ValidationFailed(
            "The package cannot be packed like this; nothing was saved.",
            details=merge_errors(extra_errors or {}, errors),
        )
    package = Package.objects.create(
        order_id=order_id,
        warehouse_id=warehouse_id,
        weight_grams=weight_grams,
        length_mm=length_mm,
        width_mm=width_mm,
        height_mm=height_mm,
        packed_by=actor.label[:120],
    )
    PackageLine.objects.bulk_create(
        PackageLine(package=package, order_line_id=line_id, quantity=units)
        for line_id, units in wanted.items()
    )
    return package


def package_pack(
    *,
    order_number: str,
    warehouse_code: str,
    contents: Mapping[int, int],
    weight_grams: int,
    length_mm: int,
    width_mm: int,
    height_mm: int,
    actor: Actor,
    extra_errors: Errors | None = None,
) -> Package:
    """``package_create`` as a warehouse system asks for it: the order by its number, the warehouse by its
    code, the contents by line number. An unknown order or warehouse is 404, unless the request has
    other problems too: then all of them are answered at once."""
    extra_errors = dict(extra_errors or {})
    order = Order.objects.filter(pk=order_pk_from_number(order_number)).first()
    warehouse = Warehouse.objects.filter(code=warehouse_code.strip().upper()).first()
    if order is None or warehouse is None:
        if not extra_errors:
            raise NotFound("No such order or warehouse.")
        if order is None and "order" not in extra_errors:
            extra_errors["order"] = [f"No order '{order_number}'."]
        if warehouse is None and "warehouse" not in extra_errors:
            extra_errors["warehouse"] = [f"No warehouse '{warehouse_code}'."]
        raise ValidationFailed(
            "The package cannot be packed like this; nothing was saved.", details=extra_errors
        )
    numbers = dict(order.lines.values_list("line_number", "pk"))
    unknown = [number for number in contents if number not in numbers]
    if unknown:
        extra_errors.setdefault("contents", []).extend(f"No line {n}." for n in unknown)
    return package_create(
        order_id=order.pk,
        warehouse_id=warehouse.pk,
        contents={numbers[number]: units for number, units in contents.items() if number in numbers},
        weight_grams=weight_grams,
        length_mm=length_mm,
        width_mm=width_mm,
        height_mm=height_mm,
        actor=actor,
        extra_errors=extra_errors,
    )
