"""Every write of fulfilment: waves of pick lists, pick confirmation (with short picks sent back to
routing), packing, shipments, label purchase through the carrier adapters, and hand-over.

Carrier calls never run inside a database transaction: a slow carrier must not hold row locks. A
label purchase therefore commits in steps - the shipment is marked ``label_pending``, the carrier's
parcel id is stored as soon as the carrier gives it, and the purchase is stored when it comes back -
so that a timeout leaves a shipment that can be retried, and the retry asks the carrier before it
buys (see ``shipments.carriers.base``).
"""

import time
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Exists, OuterRef, Sum
from django.utils import timezone

from inventory import services as stock
from inventory.models import Allocation, AllocationStatus, Warehouse
from oms.errors import (
    Conflict,
    IllegalTransition,
    NotFound,
    PartnerRefused,
    PartnerUnavailable,
    ValidationFailed,
)
from oms.events import event_emit
from orders import services as order_services
from orders.models import Order, OrderLine, OrderStatus
from orders.services import Actor
from routing import services as routing
from shipments import labels
from shipments.carriers import adapter_for
from shipments.carriers.base import (
    CarrierError,
    CarrierUnavailable,
    LabelFile,
    ParcelRequest,
    Party,
    Purchase,
)
from shipments.models import (
    PICK_LIST_TRANSITIONS,
    SHIPMENT_TRANSITIONS,
    CarrierCall,
    CarrierCallOutcome,
    CarrierService,
    Label,
    LabelFormat,
    LabelSource,
    Package,
    PackageLine,
    PickLineStatus,
    PickList,
    PickListLine,
    PickListStatus,
    Shipment,
    ShipmentEvent,
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


def pick_list_confirm(*, pick_list_id: int, picked: Mapping[int, int], actor: Actor) -> PickList:
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
        if errors:
            raise ValidationFailed("The pick confirmation is incomplete; nothing was saved.", details=errors)

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


def order_fulfilment_withdraw(*, order_id: int, actor: Actor) -> None:
    """An order was cancelled: take its units off open pick lists (a list left with nothing to pick
    is cancelled) and cancel its shipments that have not left, voiding their labels."""
    with transaction.atomic():
        lists = set(
            PickListLine.objects.filter(
                order_line__order_id=order_id, status=PickLineStatus.OPEN
            ).values_list("pick_list_id", flat=True)
        )
        for pick_list in PickList.objects.select_for_update().filter(pk__in=lists).order_by("pk"):
            pick_list.lines.filter(order_line__order_id=order_id, status=PickLineStatus.OPEN).update(
                status=PickLineStatus.CANCELLED
            )
            if not pick_list.lines.filter(status=PickLineStatus.OPEN).exists():
                _pick_list_transition(pick_list, PickListStatus.CANCELLED)
                pick_list.confirmed_by = actor.label[:120]
                pick_list.confirmed_at = timezone.now()
                pick_list.save(update_fields=["status", "confirmed_by", "confirmed_at"])
    for shipment in Shipment.objects.filter(
        order_id=order_id, status__in=[ShipmentStatus.DRAFT, ShipmentStatus.LABEL_PURCHASED]
    ).order_by("pk"):
        shipment_cancel(shipment_id=shipment.pk, actor=actor, reason="order cancelled")


def warehouse_reject_order(*, order_id: int, warehouse_id: int, actor: Actor, reason: str) -> None:
    """A warehouse cannot ship (its part of) an order - damaged goods, a closed dock, a blocked
    aisle: its promises for the order are withdrawn, its open pick lines with them, and the order is
    routed again without that warehouse. Units already packed or shipped stay as they are."""
    if not reason.strip():
        raise ValidationFailed("Say why the warehouse cannot ship it.", details={"reason": ["Required."]})
    with transaction.atomic():
        order = order_services.order_lock(order_id)
        warehouse = Warehouse.objects.filter(pk=warehouse_id).first()
        if warehouse is None:
            raise NotFound(f"Warehouse {warehouse_id} does not exist.")
        if Shipment.objects.filter(
            order=order,
            warehouse=warehouse,
            status__in=[ShipmentStatus.DRAFT, ShipmentStatus.LABEL_PENDING, ShipmentStatus.LABEL_PURCHASED],
        ).exists():
            raise Conflict(
                f"{warehouse.code} has a shipment of {order.number} under way: cancel it first.",
                code="shipment_under_way",
            )
        PickListLine.objects.filter(
            order_line__order=order, pick_list__warehouse=warehouse, status=PickLineStatus.OPEN
        ).update(status=PickLineStatus.CANCELLED)
        released = stock.stock_release(
            order_id=order.pk,
            actor=actor.label,
            reason=f"{warehouse.code} cannot ship it: {reason.strip()}",
            warehouse_id=warehouse.pk,
        )
        if not released:
            raise Conflict(f"{warehouse.code} holds nothing for {order.number}.", code="nothing_to_reject")
        order_services.order_note_add(
            order_id=order.pk,
            actor=actor,
            note=(
                f"{warehouse.code} cannot ship {released} unit(s): {reason.strip()}. Routed again without it."
            ),
        )
        event_emit(
            name="order.rejected_by_warehouse",
            aggregate_type="order",
            aggregate_id=order.pk,
            payload={"order_id": order.pk, "warehouse": warehouse.code, "units": released, "reason": reason},
        )
    with transaction.atomic():
        routing.route_order(order_id=order_id, exclude_warehouse_ids=frozenset({warehouse_id}))


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
) -> Package:
    """Put picked units of an order (``contents``: order line id -> units) into one measured package."""
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
    if errors:
        raise ValidationFailed("The package cannot be packed like this; nothing was saved.", details=errors)
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


# --------------------------------------------------------------------------------------------- shipments


def _history(
    shipment: Shipment, actor: Actor, *, from_status: str = "", to_status: str = "", note: str = "", **data
):
    ShipmentEvent.objects.create(
        shipment=shipment,
        from_status=from_status,
        to_status=to_status,
        actor=actor.label[:120],
        note=note,
        data=data,
    )


def _shipment_transition(shipment: Shipment, to_status: str, actor: Actor, note: str = "", **data) -> None:
    if to_status not in SHIPMENT_TRANSITIONS[shipment.status]:
        raise IllegalTransition(
            f"Shipment {shipment.reference} is {shipment.get_status_display().lower()}: "
            f"it cannot become {ShipmentStatus(to_status).label.lower()}.",
            details={"status": shipment.status},
        )
    _history(shipment, actor, from_status=shipment.status, to_status=to_status, note=note, **data)
    shipment.status = to_status


def _locked_shipment(shipment_id: int) -> Shipment:
    shipment = (
        Shipment.objects.select_for_update(of=("self",))
        .select_related("service__carrier", "warehouse", "order")
        .filter(pk=shipment_id)
        .first()
    )
    if shipment is None:
        raise NotFound(f"Shipment {shipment_id} does not exist.")
    return shipment


def default_service_for(order: Order) -> CarrierService | None:
    return (
        CarrierService.objects.filter(
            service_level=order.service_level, is_active=True, carrier__is_active=True
        )
        .select_related("carrier")
        .order_by("carrier__code", "pk")
        .first()
    )


@transaction.atomic
def shipment_create(*, package_ids: list[int], actor: Actor, service_id: int | None = None) -> Shipment:
    """Group packages of one order from one warehouse into a shipment with a carrier service (the
    one mapped to the order's service level unless ``service_id`` says otherwise)."""
    packages = list(Package.objects.select_for_update().filter(pk__in=package_ids).order_by("pk"))
    if not packages or len(packages) != len(set(package_ids)):
        raise ValidationFailed("Choose existing packages.", details={"package_ids": ["Unknown package."]})
    if len({(p.order_id, p.warehouse_id) for p in packages}) != 1:
        raise ValidationFailed(
            "A shipment holds packages of one order from one warehouse.",
            details={"package_ids": ["Mixed orders or warehouses."]},
        )
    taken = [p.pk for p in packages if p.shipment_id is not None]
    if (
        taken
        and Shipment.objects.filter(
            pk__in=[p.shipment_id for p in packages if p.shipment_id],
            status__in=[s for s in ShipmentStatus if s != ShipmentStatus.CANCELLED],
        ).exists()
    ):
        raise Conflict("Some of these packages are already in a shipment.", details={"package_ids": taken})
    order = order_services.order_lock(packages[0].order_id)
    if order.status not in (OrderStatus.IN_FULFILLMENT, OrderStatus.PARTIALLY_SHIPPED):
        raise Conflict(f"Order {order.number} is {order.get_status_display().lower()}: it cannot ship now.")
    service = (
        CarrierService.objects.select_related("carrier").filter(pk=service_id, is_active=True).first()
        if service_id
        else default_service_for(order)
    )
    if service is None:
        raise ValidationFailed(
            "No carrier service is set up for this order's service level.",
            details={
                "service_id": [f"Map a carrier service to '{order.service_level}' in admin, or choose one."]
            },
        )
    shipment = Shipment.objects.create(order=order, warehouse_id=packages[0].warehouse_id, service=service)
    Package.objects.filter(pk__in=[p.pk for p in packages]).update(
        shipment=shipment, tracking_number="", carrier_parcel_id=""
    )
    _history(shipment, actor, to_status=ShipmentStatus.DRAFT, note=f"{len(packages)} package(s)")
    return shipment


def _party_of_warehouse(warehouse: Warehouse) -> Party:
    return Party(
        name=warehouse.name,
        line1=warehouse.line1,
        city=warehouse.city,
        postal_code=warehouse.postal_code,
        country=warehouse.country,
    )


def _party_of_order(order: Order) -> Party:
    address = order.shipping_address
    customer = order.customer
    return Party(
        name=address.name,
        company=address.company,
        line1=address.line1,
        line2=address.line2,
        city=address.city,
        region=address.region,
        postal_code=address.postal_code,
        country=address.country,
        phone=address.phone or (customer.phone or ""),
        email=customer.email or "",
    )


def _parcel_request(shipment: Shipment, package: Package, index: int) -> ParcelRequest:
    return ParcelRequest(
        reference=f"{shipment.reference}/{index}",
        sender=_party_of_warehouse(shipment.warehouse),
        recipient=_party_of_order(shipment.order),
        weight_grams=package.weight_grams,
        length_mm=package.length_mm,
        width_mm=package.width_mm,
        height_mm=package.height_mm,
        service_code=shipment.service.code,
        carrier_name=shipment.service.carrier_name,
        order_number=shipment.order.number,
    )


def _record_call(shipment: Shipment, operation: str, outcome: str, started: float, detail: str = "") -> None:
    CarrierCall.objects.create(
        carrier=shipment.service.carrier,
        shipment=shipment,
        operation=operation,
        outcome=outcome,
        detail=detail[:2000],
        duration_ms=round((time.perf_counter() - started) * 1000),
    )


def _carrier_step(shipment: Shipment, operation: str, call):
    """Run one carrier call outside any transaction and record it; carrier errors become domain
    errors after the shipment is put back where a retry can start."""
    started = time.perf_counter()
    try:
        result = call()
    except CarrierError as exc:
        detail = "; ".join([exc.message, *exc.details])
        with transaction.atomic():
            _record_call(shipment, operation, CarrierCallOutcome.REFUSED, started, detail)
            locked = _locked_shipment(shipment.pk)
            if locked.status == ShipmentStatus.LABEL_PENDING:
                _shipment_transition(locked, ShipmentStatus.DRAFT, Actor.system("carrier"), note=detail)
            locked.label_error = detail
            locked.save(update_fields=["status", "label_error", "updated_at"])
        raise PartnerRefused(exc.message, details={"carrier": exc.details, "code": exc.code}) from exc
    except CarrierUnavailable as exc:
        with transaction.atomic():
            _record_call(shipment, operation, CarrierCallOutcome.UNKNOWN, started, str(exc))
            Shipment.objects.filter(pk=shipment.pk).update(
                label_error=f"{exc} Retry: the carrier is asked first, nothing is bought twice.",
                updated_at=timezone.now(),
            )
        raise PartnerUnavailable(
            f"{shipment.service.carrier.name} did not answer; the label purchase can be retried safely.",
            details={"shipment": shipment.reference},
        ) from exc
    with transaction.atomic():
        _record_call(shipment, operation, CarrierCallOutcome.OK, started)
    return result


def _store_purchase(shipment: Shipment, package: Package, index: int, count: int, purchase: Purchase) -> bool:
    """Store a package's purchase once (a concurrent attempt may have stored it already); returns
    whether this call stored it."""
    if not Package.objects.filter(pk=package.pk, tracking_number="").update(
        tracking_number=purchase.tracking_number
    ):
        return False
    package.tracking_number = purchase.tracking_number
    if purchase.cost is not None:
        shipment.cost = (shipment.cost or Decimal(0)) + purchase.cost
        shipment.currency = purchase.currency
    if purchase.estimated_delivery and (
        shipment.estimated_delivery is None or purchase.estimated_delivery > shipment.estimated_delivery
    ):
        shipment.estimated_delivery = purchase.estimated_delivery
    shipment.save(update_fields=["cost", "currency", "estimated_delivery", "updated_at"])
    files: list[LabelFile] = list(purchase.labels)
    if files:
        for file in files:
            Label.objects.update_or_create(
                package=package,
                format=file.format,
                defaults={"source": LabelSource.CARRIER, "content": file.content},
            )
        return True
    data = labels.LabelData(
        tracking_number=purchase.tracking_number,
        carrier=shipment.service.carrier.name,
        service=shipment.service.name,
        reference=shipment.reference,
        order_number=shipment.order.number,
        package_index=index,
        package_count=count,
        weight_grams=package.weight_grams,
        sender=_party_of_warehouse(shipment.warehouse),
        recipient=_party_of_order(shipment.order),
    )
    Label.objects.update_or_create(
        package=package,
        format=LabelFormat.PDF,
        defaults={"source": LabelSource.GENERATED, "content": labels.label_pdf(data)},
    )
    Label.objects.update_or_create(
        package=package,
        format=LabelFormat.ZPL,
        defaults={"source": LabelSource.GENERATED, "content": labels.label_zpl(data).encode()},
    )
    return True


def _adapter(carrier):
    try:
        return adapter_for(carrier)
    except CarrierError as exc:
        raise PartnerRefused(exc.message, details={"carrier": exc.details, "code": exc.code}) from exc


# An attempt that has neither finished nor failed within this time is taken as dead (its process
# stopped); the retry then asks the carrier what became of it.
LABEL_ATTEMPT_TIMEOUT = timedelta(minutes=5)


def shipment_buy_labels(*, shipment_id: int, actor: Actor) -> Shipment:
    """Buy a label for every package of the shipment that has none yet; safe to call again after a
    refusal (once the cause is fixed) or a timeout."""
    current = Shipment.objects.select_related("service__carrier").filter(pk=shipment_id).first()
    if current is None:
        raise NotFound(f"Shipment {shipment_id} does not exist.")
    adapter = _adapter(current.service.carrier)
    with transaction.atomic():
        shipment = _locked_shipment(shipment_id)
        if shipment.status == ShipmentStatus.LABEL_PURCHASED:
            return shipment
        in_flight = (
            shipment.status == ShipmentStatus.LABEL_PENDING
            and not shipment.label_error
            and shipment.updated_at > timezone.now() - LABEL_ATTEMPT_TIMEOUT
        )
        if in_flight:
            # One attempt at a time: a second one would ask the carrier for a second parcel.
            raise Conflict(
                f"A label purchase for {shipment.reference} is under way; look again in a moment.",
                code="label_purchase_in_progress",
            )
        _shipment_transition(shipment, ShipmentStatus.LABEL_PENDING, actor, note="buying labels")
        shipment.label_error = ""
        shipment.save(update_fields=["status", "label_error", "updated_at"])
    shipment = Shipment.objects.select_related(
        "service__carrier", "warehouse", "order__shipping_address", "order__customer"
    ).get(pk=shipment_id)
    packages = list(shipment.packages.order_by("pk"))
    for index, package in enumerate(packages, start=1):
        if package.tracking_number:
            continue
        request = _parcel_request(shipment, package, index)
        if not package.carrier_parcel_id:
            parcel_id = _carrier_step(shipment, "prepare", lambda request=request: adapter.prepare(request))
            # Only the first attempt's id is kept: a concurrent attempt's parcel is never bought.
            with transaction.atomic():
                Package.objects.filter(pk=package.pk, carrier_parcel_id="").update(
                    carrier_parcel_id=parcel_id
                )
            package.refresh_from_db(fields=["carrier_parcel_id"])
        purchase = _carrier_step(
            shipment,
            "buy",
            lambda package=package, request=request: adapter.buy(package.carrier_parcel_id, request),
        )
        with transaction.atomic():
            locked = _locked_shipment(shipment.pk)
            locked.order = shipment.order
            _store_purchase(locked, package, index, len(packages), purchase)
    with transaction.atomic():
        shipment = _locked_shipment(shipment_id)
        if shipment.status == ShipmentStatus.LABEL_PURCHASED:
            return shipment  # a concurrent attempt finished first
        packages = list(shipment.packages.order_by("pk"))
        shipment.tracking_number = packages[0].tracking_number
        _shipment_transition(
            shipment,
            ShipmentStatus.LABEL_PURCHASED,
            actor,
            note=", ".join(p.tracking_number for p in packages),
        )
        shipment.save(update_fields=["status", "tracking_number", "updated_at"])
    return shipment


@transaction.atomic
def shipment_hand_over(*, shipment_id: int, actor: Actor) -> Shipment:
    """The carrier took the packages: their units leave the warehouse's stock, the order's lines
    count them as shipped, and the order becomes shipped or partially shipped."""
    shipment = _locked_shipment(shipment_id)
    order = order_services.order_lock(shipment.order_id)
    _shipment_transition(shipment, ShipmentStatus.SHIPPED, actor)
    units: dict[int, int] = defaultdict(int)
    for line in PackageLine.objects.filter(package__shipment=shipment):
        units[line.order_line_id] += line.quantity
    for order_line_id, quantity in sorted(units.items()):
        stock.stock_ship(
            order_line_id=order_line_id,
            quantity=quantity,
            actor=actor.label,
            warehouse_id=shipment.warehouse_id,
        )
    shipment.shipped_at = timezone.now()
    shipment.save(update_fields=["status", "shipped_at", "updated_at"])
    lines = list(OrderLine.objects.filter(order=order))
    everything_shipped = all(ln.qty_shipped >= ln.quantity - ln.qty_cancelled for ln in lines)
    target = OrderStatus.SHIPPED if everything_shipped else OrderStatus.PARTIALLY_SHIPPED
    if target != order.status:
        order_services.order_transition(
            order_id=order.pk,
            to_status=target,
            actor=actor,
            note=f"shipment {shipment.reference}",
            locked=order,
        )
    event_emit(
        name="shipment.shipped",
        aggregate_type="shipment",
        aggregate_id=shipment.pk,
        payload={
            "shipment_id": shipment.pk,
            "order_id": order.pk,
            "carrier": shipment.service.carrier.code,
            "service": shipment.service.code,
            "tracking_numbers": list(
                shipment.packages.order_by("pk").values_list("tracking_number", flat=True)
            ),
            "estimated_delivery": shipment.estimated_delivery.isoformat()
            if shipment.estimated_delivery
            else None,
        },
    )
    return shipment


@transaction.atomic
def shipment_mark_delivered(*, shipment_id: int, actor: Actor, delivered_at: datetime) -> Shipment:
    """The carrier delivered the shipment: its units count as delivered, and the order is delivered
    once every unit has shipped and every shipment arrived. Delivering twice changes nothing."""
    shipment = _locked_shipment(shipment_id)
    if shipment.status == ShipmentStatus.DELIVERED:
        return shipment
    order = order_services.order_lock(shipment.order_id)
    _shipment_transition(
        shipment, ShipmentStatus.DELIVERED, actor, note=f"delivered {delivered_at:%Y-%m-%d %H:%M}"
    )
    shipment.save(update_fields=["status", "updated_at"])
    units: dict[int, int] = defaultdict(int)
    for line in PackageLine.objects.filter(package__shipment=shipment):
        units[line.order_line_id] += line.quantity
    lines = {line.pk: line for line in OrderLine.objects.filter(order=order)}
    order_services.order_lines_record_progress(
        order_id=order.pk,
        quantities={
            lines[line_id].line_number: {"qty_delivered": lines[line_id].qty_delivered + quantity}
            for line_id, quantity in units.items()
        },
        locked=order,
    )
    everything_delivered = (
        not Shipment.objects.filter(order=order)
        .exclude(status__in=[ShipmentStatus.DELIVERED, ShipmentStatus.CANCELLED])
        .exists()
    )
    if order.status == OrderStatus.SHIPPED and everything_delivered:
        order_services.order_transition(
            order_id=order.pk,
            to_status=OrderStatus.DELIVERED,
            actor=actor,
            note="every shipment arrived",
            locked=order,
        )
    event_emit(
        name="shipment.delivered",
        aggregate_type="shipment",
        aggregate_id=shipment.pk,
        payload={"shipment_id": shipment.pk, "order_id": order.pk, "delivered_at": delivered_at.isoformat()},
    )
    return shipment


def shipment_cancel(*, shipment_id: int, actor: Actor, reason: str = "") -> Shipment:
    """Abandon a shipment before it ships: bought labels are voided with the carrier first, and its
    packages can go into another shipment."""
    shipment = Shipment.objects.select_related("service__carrier").get(pk=shipment_id)
    if shipment.status not in (ShipmentStatus.DRAFT, ShipmentStatus.LABEL_PURCHASED):
        raise IllegalTransition(
            f"Shipment {shipment.reference} is {shipment.get_status_display().lower()}: "
            "it can no longer be cancelled."
        )
    adapter = _adapter(shipment.service.carrier)
    for package in shipment.packages.exclude(carrier_parcel_id="").exclude(tracking_number=""):
        _carrier_step(shipment, "void", lambda package=package: adapter.void(package.carrier_parcel_id))
    with transaction.atomic():
        shipment = _locked_shipment(shipment_id)
        _shipment_transition(shipment, ShipmentStatus.CANCELLED, actor, note=reason)
        shipment.save(update_fields=["status", "updated_at"])
        Package.objects.filter(shipment=shipment).update(
            shipment=None, tracking_number="", carrier_parcel_id=""
        )
    return shipment


def label_of(*, package_id: int, format: str) -> Label:
    label = Label.objects.filter(package_id=package_id, format=format).first()
    if label is None:
        raise NotFound(f"Package {package_id} has no {format.upper()} label.")
    return label
