"""Stock promised to order lines: allocation (routing's plan or most-available-first, FEFO for lots),
release, shipment, and short picks."""

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import connection, transaction
from django.utils import timezone

from inventory.models import (
    Allocation,
    AllocationStatus,
    Lot,
    MovementKind,
    ReferenceType,
    StockMovement,
    StockPosition,
    Warehouse,
    WarehouseDayLoad,
)
from inventory.services.common import (
    ALLOCATABLE_STATUSES,
    FULFILMENT_STATUSES,
    _after_withdrawal,
    _lock_rows_of,
    _movement,
    _save_figures,
)
from oms.errors import Conflict, NotFound, ValidationFailed
from oms.sql import insert_rows, objects_from_rows, update_rows
from orders import services as order_services
from orders.models import Order, OrderLine, OrderStatus

# ------------------------------------------------------------------------------------------ allocation


@dataclass(frozen=True)
class PlannedPick:
    """Routing's instruction: take ``quantity`` units for ``order_line_id`` from ``warehouse_id``."""

    order_line_id: int
    warehouse_id: int
    quantity: int


@dataclass
class AllocationOutcome:
    order_id: int
    status: str
    allocated: dict[int, int] = field(default_factory=dict)  # line id -> units allocated now
    short: dict[int, int] = field(default_factory=dict)  # line id -> units still missing


def _usable_lots(lots: list[Lot], *, today: date, min_shelf_life_days: int | None) -> list[Lot]:
    """Lots that may be promised, first expiry first. A lot expiring today counts as expired; a
    channel's minimum shelf life moves that limit further out."""
    last_unusable = today + timedelta(days=min_shelf_life_days or 0)
    usable = [lot for lot in lots if lot.expiry_date is None or lot.expiry_date > last_unusable]
    return sorted(usable, key=lambda lot: (lot.expiry_date is None, lot.expiry_date or date.max, lot.pk))


def _open_need(line: OrderLine) -> int:
    return max(line.quantity - line.qty_cancelled - line.qty_allocated, 0)


def _planned_by_line(plan: list[PlannedPick], open_line_ids: set[int]) -> dict[int, list[tuple[int, int]]]:
    """Routing's picks by line: [(warehouse id, units)]; a pick for a line with nothing open is refused."""
    wanted: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for pick in plan:
        if pick.order_line_id not in open_line_ids or pick.quantity <= 0:
            raise ValidationFailed(
                "The plan does not fit the order's open lines.",
                details={"plan": [f"Line {pick.order_line_id} x {pick.quantity}."]},
            )
        wanted[pick.order_line_id].append((pick.warehouse_id, pick.quantity))
    return wanted


@dataclass
class _Draft:
    """A reservation gathered in memory before it is written: the allocations with their ledger rows,
    and the positions and lots whose figures changed."""

    actor: str
    today: date
    allocations: list[Allocation] = field(default_factory=list)
    movements: list[StockMovement] = field(default_factory=list)
    positions: dict[int, StockPosition] = field(default_factory=dict)
    lots: dict[int, Lot] = field(default_factory=dict)

    def take(
        self, line: OrderLine, position: StockPosition, units: int, lots: list[Lot], *, shelf_life: int | None
    ) -> int:
        """Reserve up to ``units`` of the line from the position, never its safety stock; a lot-tracked
        product first-expiry-first from lots usable for the channel. Returns the units taken."""
        take = min(units, position.on_hand - position.allocated - position.safety_stock)
        if take <= 0:
            return 0
        parts: list[tuple[Lot | None, int]] = []
        if line.product.lot_tracked:
            remaining = take
            for lot in _usable_lots(lots, today=self.today, min_shelf_life_days=shelf_life):
                part = min(remaining, lot.on_hand - lot.allocated)
                if part > 0:
                    parts.append((lot, part))
                    remaining -= part
                if remaining == 0:
                    break
            take -= remaining
        else:
            parts.append((None, take))
        for lot, part in parts:
            if lot is not None:
                lot.allocated += part
                self.lots[lot.pk] = lot
            self.allocations.append(Allocation(order_line=line, position=position, lot=lot, quantity=part))
            self.movements.append(
                _movement(
                    position,
                    MovementKind.ALLOCATION,
                    self.actor,
                    lot=lot,
                    allocated=part,
                    reference_type=ReferenceType.ORDER_LINE,
                    reference=line.pk,
                )
            )
        if take > 0:
            position.allocated += take
            self.positions[position.pk] = position
        return take


def stock_allocate(
    *,
    order_id: int,
    actor: str,
    plan: list[PlannedPick] | None = None,
    locked: Order | None = None,
    day_loads: Counter[int] | None = None,
) -> AllocationOutcome:
    """See ``_stock_allocate``. ``locked``: the order as the caller (routing) already locked it in its
    transaction; then no savepoint and no second lock are needed. ``day_loads``: the caller counts
    the order against its warehouses' day loads there and writes them with ``day_loads_count`` (a
    batch of orders writes each warehouse's count once, in warehouse order)."""
    with transaction.atomic(savepoint=locked is None):
        return _stock_allocate(order_id=order_id, actor=actor, plan=plan, locked=locked, day_loads=day_loads)


def stock_lock_for_orders(*, product_ids: Iterable[int]) -> None:
    """Lock every active warehouse's positions of these products in pk order, then their lots: a
    caller that reserves for many orders in one transaction (routing a batch) takes all its stock
    locks up front in the global order, instead of order by order in an order no other path shares.
    """
    ids = sorted(set(product_ids))
    if not ids:
        return
    positions = list(
        StockPosition.objects.select_for_update(of=("self",))
        .filter(product_id__in=ids, warehouse__is_active=True)
        .order_by("pk")
        .values_list("pk", "product__lot_tracked")
    )
    lot_tracked = [pk for pk, tracked in positions if tracked]
    if lot_tracked:
        list(
            Lot.objects.select_for_update()
            .filter(position_id__in=lot_tracked)
            .order_by("pk")
            .values_list("pk")
        )


def day_loads_count(*, counts: Mapping[int, int], day: date | None = None) -> None:
    """Add orders to warehouses' counts of the day (``stock_allocate``'s ``day_loads``), one upsert
    per warehouse in warehouse order, under the row lock each takes."""
    day = day or timezone.localdate()
    table = connection.ops.quote_name(WarehouseDayLoad._meta.db_table)
    with connection.cursor() as cursor:
        for warehouse_id, orders in sorted(counts.items()):
            if orders:
                cursor.execute(
                    f"INSERT INTO {table} (warehouse_id, day, orders) VALUES (%s, %s, %s) "
                    f"ON CONFLICT (warehouse_id, day) DO UPDATE SET orders = {table}.orders + %s",
                    [warehouse_id, day, orders, orders],
                )


def _stock_allocate(
    *,
    order_id: int,
    actor: str,
    plan: list[PlannedPick] | None,
    locked: Order | None,
    day_loads: Counter[int] | None = None,
) -> AllocationOutcome:
    """Reserve stock for an order's open quantities and move it to allocated, partially allocated or
    backordered.

    With a ``plan`` (from routing) only the planned warehouses and quantities are used; without, each
    line takes from the active warehouses with the most available stock first. Lot-tracked products are
    taken first-expiry-first, never from expired lots nor from lots too close to expiry for the
    channel. Whatever cannot be served stays open (backordered).
    """
    order = locked if locked is not None and locked.pk == order_id else order_services.order_lock(order_id)
    if order.status not in ALLOCATABLE_STATUSES:
        raise Conflict(
            f"Order {order.number} is {order.get_status_display().lower()}: stock is not allocated now.",
            code="not_allocatable",
            details={"status": order.status},
        )
    all_lines = list(
        OrderLine.objects.select_for_update(of=("self",))
        .filter(order=order)
        .select_related("product")
        .order_by("line_number")
    )
    lines = [ln for ln in all_lines if _open_need(ln) > 0]
    first_allocation = not any(ln.qty_allocated for ln in all_lines)
    outcome = AllocationOutcome(order_id=order.pk, status=order.status)
    wanted: dict[int, list[tuple[int, int]]] = {}
    if plan is not None:
        wanted = _planned_by_line(plan, {ln.pk for ln in lines})
        warehouse_ids = {pick.warehouse_id for pick in plan}
    else:
        warehouse_ids = set(Warehouse.objects.filter(is_active=True).values_list("pk", flat=True))
    product_ids = {ln.product_id for ln in lines}
    positions = {
        (p.warehouse_id, p.product_id): p
        for p in StockPosition.objects.select_for_update()
        .filter(product_id__in=product_ids, warehouse_id__in=warehouse_ids)
        .order_by("pk")
    }
    lots_by_position: dict[int, list[Lot]] = defaultdict(list)
    lot_tracked_positions = [
        p.pk
        for p in positions.values()
        if any(ln.product.lot_tracked and ln.product_id == p.product_id for ln in lines)
    ]
    if lot_tracked_positions:
        for lot in (
            Lot.objects.select_for_update().filter(position_id__in=lot_tracked_positions).order_by("pk")
        ):
            lots_by_position[lot.position_id].append(lot)

    today = timezone.localdate()
    shelf_life = order.channel.min_shelf_life_days
    draft = _Draft(actor=actor, today=today)
    progress: dict[int, dict[str, int]] = {}
    for line in lines:
        need = _open_need(line)
        if plan is not None:
            sources = [(positions.get((w, line.product_id)), limit) for w, limit in wanted.get(line.pk, [])]
        else:
            candidates = [p for (w, prod), p in positions.items() if prod == line.product_id]
            candidates.sort(key=lambda p: (-p.available, p.warehouse_id))
            sources = [(p, None) for p in candidates]
        taken_total = 0
        for position, limit in sources:
            if position is None or need == 0:
                continue
            take = draft.take(
                line,
                position,
                min(need, limit if limit is not None else need),
                lots_by_position[position.pk],
                shelf_life=shelf_life,
            )
            need -= take
            taken_total += take
        if taken_total:
            outcome.allocated[line.pk] = taken_total
            progress[line.line_number] = {"qty_allocated": line.qty_allocated + taken_total}
        if need:
            outcome.short[line.pk] = need

    _save_figures(sorted(draft.positions.values(), key=lambda p: p.pk))
    _save_figures(sorted(draft.lots.values(), key=lambda lot: lot.pk))
    _count_day_load(
        order, {a.position.warehouse_id for a in draft.allocations}, first=first_allocation, into=day_loads
    )
    Allocation.objects.bulk_create(draft.allocations)
    StockMovement.objects.bulk_create(draft.movements)
    if progress:
        order_services.order_lines_record_progress(
            order_id=order.pk, quantities=progress, locked=order, locked_lines=all_lines
        )
    if order.status in FULFILMENT_STATUSES:
        return outcome
    total_need = sum(_open_need(ln) for ln in all_lines)
    any_allocated = any(ln.qty_allocated > ln.qty_shipped for ln in all_lines)
    target = (
        OrderStatus.ALLOCATED
        if total_need == 0
        else OrderStatus.PARTIALLY_ALLOCATED
        if any_allocated
        else OrderStatus.BACKORDERED
    )
    if target != order.status:
        order_services.order_transition(
            order_id=order.pk, to_status=target, actor=order_services.Actor.system(actor), locked=order
        )
    outcome.status = target
    return outcome


def _count_day_load(
    order: Order, warehouse_ids: set[int], *, first: bool = False, into: Counter[int] | None = None
) -> None:
    """Count the order once against each warehouse that serves it for the first time today.
    ``first``: the order had no allocation before, so every warehouse is new to it. ``into``: add
    to these counts instead of writing them."""
    if not warehouse_ids:
        return
    already = (
        set()
        if first
        else set(
            Allocation.objects.filter(order_line__order=order, position__warehouse_id__in=warehouse_ids)
            .exclude(status=AllocationStatus.RELEASED)
            .values_list("position__warehouse_id", flat=True)
        )
    )
    fresh = sorted(warehouse_ids - already)
    if not fresh:
        return
    if into is not None:
        into.update(fresh)
        return
    table = connection.ops.quote_name(WarehouseDayLoad._meta.db_table)
    with connection.cursor() as cursor:
        # One statement per warehouse, increment under the row lock the upsert takes (portable SQL).
        for warehouse_id in fresh:
            cursor.execute(
                f"INSERT INTO {table} (warehouse_id, day, orders) VALUES (%s, %s, 1) "
                f"ON CONFLICT (warehouse_id, day) DO UPDATE SET orders = {table}.orders + 1",
                [warehouse_id, timezone.localdate()],
            )


@transaction.atomic
def stock_release(
    *,
    order_id: int,
    actor: str,
    reason: str = "",
    line_ids: Iterable[int] | None = None,
    warehouse_id: int | None = None,
) -> int:
    """Withdraw the active allocations of an order (or of some of its lines, or at one warehouse).
    An allocated order becomes partially allocated or backordered. Returns the units released."""
    order = order_services.order_lock(order_id)
    query = Allocation.objects.filter(order_line__order_id=order_id, status=AllocationStatus.ACTIVE)
    if line_ids is not None:
        query = query.filter(order_line_id__in=list(line_ids))
    if warehouse_id is not None:
        query = query.filter(position__warehouse_id=warehouse_id)
    allocations = list(query.select_related("order_line"))
    if not allocations:
        return 0
    positions, lots = _lock_rows_of(allocations)
    released: dict[int, int] = defaultdict(int)
    movements = []
    for allocation in allocations:
        position = positions[allocation.position_id]
        position.allocated -= allocation.quantity
        lot = lots.get(allocation.lot_id) if allocation.lot_id else None
        if lot is not None:
            lot.allocated -= allocation.quantity
        allocation.status = AllocationStatus.RELEASED
        released[allocation.order_line_id] += allocation.quantity
        movements.append(
            _movement(
                position,
                MovementKind.RELEASE,
                actor,
                lot=lot,
                allocated=-allocation.quantity,
                reason=reason,
                reference_type=ReferenceType.ORDER_LINE,
                reference=allocation.order_line_id,
            )
        )
    _save_figures(positions.values())
    _save_figures(lots.values())
    Allocation.objects.bulk_update(allocations, ["status", "updated_at"])
    StockMovement.objects.bulk_create(movements)
    _lines_give_back(order, released)
    _after_withdrawal(order, actor=actor, reason=reason)
    return sum(released.values())


def _lines_give_back(order: Order, released: Mapping[int, int]) -> None:
    """Lines hold ``released`` (line id -> units) fewer. Units picked but not shipped go back to the
    shelf with their allocation: they count as picked no longer (a cancelled order's tote is put away)."""
    lines = {ln.pk: ln for ln in OrderLine.objects.filter(pk__in=released)}
    order_services.order_lines_record_progress(
        order_id=order.pk,
        quantities={
            lines[line_id].line_number: {
                "qty_allocated": lines[line_id].qty_allocated - units,
                "qty_picked": min(lines[line_id].qty_picked, lines[line_id].qty_allocated - units),
            }
            for line_id, units in released.items()
        },
        locked=order,
    )


@transaction.atomic
def stock_release_units(*, order_id: int, units_by_line: Mapping[int, int], actor: str, reason: str) -> int:
    """Give back part of what order lines hold (``units_by_line``: order line id -> units), newest
    allocation first, each unit through the ledger. For an edit that lowers a line below what it holds:
    the order's status is the caller's to settle (it re-plans the edited order). Returns the units."""
    order = order_services.order_lock(order_id)
    wanted = {line_id: units for line_id, units in units_by_line.items() if units > 0}
    if not wanted:
        return 0
    allocations = list(
        Allocation.objects.filter(
            order_line__order_id=order_id, order_line_id__in=list(wanted), status=AllocationStatus.ACTIVE
        )
        .select_related("order_line")
        .order_by("-pk")
    )
    positions, lots = _lock_rows_of(allocations)
    released: dict[int, int] = defaultdict(int)
    movements = []
    for allocation in allocations:
        left = wanted[allocation.order_line_id] - released[allocation.order_line_id]
        take = min(left, allocation.quantity)
        if take <= 0:
            continue
        position = positions[allocation.position_id]
        position.allocated -= take
        lot = lots.get(allocation.lot_id) if allocation.lot_id else None
        if lot is not None:
            lot.allocated -= take
        allocation.quantity -= take
        if allocation.quantity == 0:
            # the row keeps what it promised for the record; a released allocation holds nothing
            allocation.quantity = take
            allocation.status = AllocationStatus.RELEASED
        released[allocation.order_line_id] += take
        movements.append(
            _movement(
                position,
                MovementKind.RELEASE,
                actor,
                lot=lot,
                allocated=-take,
                reason=reason,
                reference_type=ReferenceType.ORDER_LINE,
                reference=allocation.order_line_id,
            )
        )
    short = {
        line_id: units - released[line_id] for line_id, units in wanted.items() if released[line_id] < units
    }
    if short:
        raise ValidationFailed(
            "The lines do not hold that many units.",
            details={
                f"order_line.{line_id}": [f"{units} unit(s) more than it holds."]
                for line_id, units in short.items()
            },
        )
    _save_figures(positions.values())
    _save_figures(lots.values())
    Allocation.objects.bulk_update(allocations, ["quantity", "status", "updated_at"])
    StockMovement.objects.bulk_create(movements)
    _lines_give_back(order, released)
    return sum(released.values())


@transaction.atomic
def stock_ship(*, order_line_id: int, quantity: int, actor: str, warehouse_id: int | None = None) -> int:
    """Units of a line left the warehouse (``warehouse_id``, or any holding them): they leave on_hand
    and their allocation is consumed."""
    line = OrderLine.objects.filter(pk=order_line_id).first()
    if line is None:
        raise NotFound(f"Order line {order_line_id} does not exist.")
    stock_ship_lines(
        order_id=line.order_id, quantities={order_line_id: quantity}, actor=actor, warehouse_id=warehouse_id
    )
    return quantity


@transaction.atomic
def stock_ship_lines(
    *,
    order_id: int,
    quantities: Mapping[int, int],
    actor: str,
    warehouse_id: int | None = None,
    locked: Order | None = None,
) -> None:
    """Units of an order's lines (order line id: units) left the warehouse (``warehouse_id``, or any
    holding them): they leave on_hand and their allocations are consumed, for all the lines of a
    parcel in one go. ``locked``: the order as the caller already locked it in this transaction."""
    order = locked if locked is not None and locked.pk == order_id else order_services.order_lock(order_id)
    lines = {line.pk: line for line in OrderLine.objects.select_for_update().filter(order_id=order.pk)}
    missing = sorted(set(quantities) - set(lines))
    if missing:
        raise NotFound(f"Order line {missing[0]} is not a line of order {order.number}.")
    query = Allocation.objects.filter(order_line_id__in=list(quantities), status=AllocationStatus.ACTIVE)
    if warehouse_id is not None:
        query = query.filter(position__warehouse_id=warehouse_id)
    of_line: dict[int, list[Allocation]] = defaultdict(list)
    for allocation in query.order_by("pk"):
        of_line[allocation.order_line_id].append(allocation)
    for order_line_id, quantity in sorted(quantities.items()):
        held = sum(a.quantity for a in of_line[order_line_id])
        if quantity <= 0 or quantity > held:
            raise ValidationFailed(
                "Ship only what is allocated.",
                details={
                    "quantity": [f"{held} units of line {lines[order_line_id].line_number} are allocated."]
                },
            )
    allocations = [a for order_line_id in sorted(quantities) for a in of_line[order_line_id]]
    positions, lots = _lock_rows_of(allocations)
    movements, split, shipped = [], [], []
    for order_line_id, quantity in sorted(quantities.items()):
        remaining = quantity
        for allocation in of_line[order_line_id]:
            if remaining == 0:
                break
            part = min(remaining, allocation.quantity)
            position = positions[allocation.position_id]
            position.on_hand -= part
            position.allocated -= part
            lot = lots.get(allocation.lot_id) if allocation.lot_id else None
            if lot is not None:
                lot.on_hand -= part
                lot.allocated -= part
            if part < allocation.quantity:
                split.append(
                    Allocation(
                        order_line_id=order_line_id,
                        position=position,
                        lot=lot,
                        quantity=allocation.quantity - part,
                    )
                )
                allocation.quantity = part
            allocation.status = AllocationStatus.SHIPPED
            shipped.append(allocation)
            movements.append(
                _movement(
                    position,
                    MovementKind.SHIPMENT,
                    actor,
                    lot=lot,
                    quantity=-part,
                    allocated=-part,
                    reference_type=ReferenceType.ORDER_LINE,
                    reference=order_line_id,
                )
            )
            remaining -= part
    _save_figures(positions.values())
    _save_figures(lots.values())
    Allocation.objects.bulk_update(shipped, ["status", "quantity", "updated_at"])
    Allocation.objects.bulk_create(split)
    StockMovement.objects.bulk_create(movements)
    progress = {}
    for order_line_id, quantity in quantities.items():
        line = lines[order_line_id]
        done = line.qty_shipped + quantity
        progress[line.line_number] = {"qty_picked": max(line.qty_picked, done), "qty_shipped": done}
    order_services.order_lines_record_progress(
        order_id=order.pk, quantities=progress, locked=order, locked_lines=list(lines.values())
    )


@transaction.atomic
def stock_short_pick(*, allocation_id: int, missing: int, actor: str, reference: str = "") -> Allocation:
    """A picker found ``missing`` units fewer than allocated: they are not on the shelf.

    The shelf's figure comes down (an adjustment in the ledger, reason "short pick") and the promise
    of those units is withdrawn (a release), so that the line's open need can be routed again. The
    allocation keeps what was found. Returns it.
    """
    allocation = Allocation.objects.select_related("order_line").filter(pk=allocation_id).first()
    if allocation is None:
        raise NotFound(f"Allocation {allocation_id} does not exist.")
    order_services.order_lock(allocation.order_line.order_id)
    allocation.refresh_from_db()
    if allocation.status != AllocationStatus.ACTIVE or not 0 < missing <= allocation.quantity:
        raise ValidationFailed(
            "A short pick can only withdraw units that are allocated.",
            details={"missing": [f"Between 1 and {allocation.quantity} for this allocation."]},
        )
    positions, lots = _lock_rows_of([allocation])
    position = positions[allocation.position_id]
    lot = lots.get(allocation.lot_id) if allocation.lot_id else None
    position.on_hand -= missing
    position.allocated -= missing
    if lot is not None:
        lot.on_hand -= missing
        lot.allocated -= missing
    reason = f"short pick{f' on {reference}' if reference else ''}"
    movements = [
        _movement(
            position,
            MovementKind.RELEASE,
            actor,
            lot=lot,
            allocated=-missing,
            reason=reason,
            reference_type=ReferenceType.ORDER_LINE,
            reference=allocation.order_line_id,
        ),
        _movement(
            position,
            MovementKind.ADJUSTMENT,
            actor,
            lot=lot,
            quantity=-missing,
            reason=reason,
            reference_type=ReferenceType.ORDER_LINE,
            reference=allocation.order_line_id,
        ),
    ]
    _save_figures([position])
    if lot is not None:
        _save_figures([lot])
    if missing == allocation.quantity:
        allocation.status = AllocationStatus.RELEASED
    else:
        allocation.quantity -= missing
    allocation.save(update_fields=["status", "quantity", "updated_at"])
    StockMovement.objects.bulk_create(movements)
    line = OrderLine.objects.get(pk=allocation.order_line_id)
    order_services.order_lines_record_progress(
        order_id=line.order_id,
        quantities={line.line_number: {"qty_allocated": line.qty_allocated - missing}},
    )
    return allocation


class StockBook:
    """The stock of many orders' products, locked by one transaction and kept in memory while it
    reserves for the orders one after the other (routing a batch), then written in a few statements.

    Every active warehouse's positions of the products are locked up front in key order, then their
    lots, so nothing another transaction commits can change a figure the book decides on; the plans
    are made against ``available`` and hold as made. The caller holds the orders' locks (orders come
    before stock, ADR 0005) and passes their lines, locked, with their products.
    """

    # A position's figures as read; made an instance (with only these fields) once it is reserved
    # from, since a batch over many warehouses reads thousands of positions and touches a few.
    FIELDS = ("id", "warehouse_id", "product_id", "on_hand", "allocated", "safety_stock")
    COLUMNS = ("id", "warehouse", "product", "on_hand", "allocated", "safety_stock")  # the same, by name

    def __init__(self, *, lines: list[OrderLine], actor: str) -> None:
        product_ids = sorted({line.product_id for line in lines})
        self.rows: dict[tuple[int, int], tuple] = {
            (row[1], row[2]): row
            for row in StockPosition.objects.select_for_update(of=("self",))
            .filter(product_id__in=product_ids, warehouse__is_active=True)
            .order_by("pk")
            .values_list(*self.FIELDS)
        }
        self.positions: dict[tuple[int, int], StockPosition] = {}
        tracked = {line.product_id for line in lines if line.product.lot_tracked}
        self.lots: dict[int, list[Lot]] = defaultdict(list)
        tracked_positions = [row[0] for (_, product), row in self.rows.items() if product in tracked]
        if tracked_positions:
            for lot in (
                Lot.objects.select_for_update().filter(position_id__in=tracked_positions).order_by("pk")
            ):
                self.lots[lot.position_id].append(lot)
        self.draft = _Draft(actor=actor, today=timezone.localdate())
        self.lines: dict[int, OrderLine] = {}

    def available(self, warehouse_id: int, product_id: int) -> int | None:
        """Units that may still be promised from a position (None: the warehouse has no position)."""
        position = self.positions.get((warehouse_id, product_id))
        if position is not None:
            return max(position.on_hand - position.allocated - position.safety_stock, 0)
        row = self.rows.get((warehouse_id, product_id))
        if row is None:
            return None
        return max(row[3] - row[4] - row[5], 0)

    def _position(self, warehouse_id: int, product_id: int) -> StockPosition | None:
        key = (warehouse_id, product_id)
        if key not in self.positions:
            row = self.rows.get(key)
            if row is None:
                return None
            self.positions[key] = objects_from_rows(StockPosition, self.COLUMNS, [row])[0]
        return self.positions[key]

    def reserve(
        self, *, order: Order, lines: list[OrderLine], plan: list[PlannedPick]
    ) -> tuple[AllocationOutcome, set[int]]:
        """Reserve a plan for an order's lines in memory, as ``stock_allocate`` with a plan would; the
        lines' ``qty_allocated`` move on. Returns the outcome and the warehouses that took units."""
        by_id = {line.pk: line for line in lines if _open_need(line) > 0}
        wanted = _planned_by_line(plan, set(by_id))
        outcome = AllocationOutcome(order_id=order.pk, status=order.status)
        served: set[int] = set()
        shelf_life = order.channel.min_shelf_life_days
        for line in sorted(by_id.values(), key=lambda ln: ln.line_number):
            need = _open_need(line)
            taken_total = 0
            for warehouse_id, limit in wanted.get(line.pk, []):
                position = self._position(warehouse_id, line.product_id) if need else None
                if position is None:
                    continue
                take = self.draft.take(
                    line, position, min(need, limit), self.lots[position.pk], shelf_life=shelf_life
                )
                if take:
                    served.add(warehouse_id)
                need -= take
                taken_total += take
            if taken_total:
                outcome.allocated[line.pk] = taken_total
                line.qty_allocated += taken_total
                self.lines[line.pk] = line
            if need:
                outcome.short[line.pk] = need
        return outcome, served

    def write(self) -> None:
        """Write what the book reserved: each changed position and lot once, the allocations and their
        ledger rows, the lines' progress."""
        now = timezone.now()
        positions = sorted(self.draft.positions.values(), key=lambda p: p.pk)
        for position in positions:
            position.updated_at = now  # bulk_update leaves auto_now alone
        update_rows(positions, ("allocated", "updated_at"))
        update_rows(sorted(self.draft.lots.values(), key=lambda lot: lot.pk), ("allocated",))
        insert_rows(self.draft.allocations)
        insert_rows(self.draft.movements)
        if self.lines:
            order_services.order_lines_save_progress(lines=list(self.lines.values()))
