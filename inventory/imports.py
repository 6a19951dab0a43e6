"""Batches of stock rows from integrations and files: receipts, adjustments and cycle counts.

A batch is all or nothing: every row is checked first and every problem is reported with its row
number; then the rows are applied in one transaction, and a row that fails while applying (a count
below what is promised, say) rolls the whole batch back with that row named.
"""

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from django.db import transaction

from inventory import services
from inventory.models import Lot, MovementKind, ReferenceType, StockPosition, Warehouse
from oms.errors import Errors, ValidationFailed, merge_errors
from orders.models import Product
from orders.validation import normalize_sku


class BatchKind:
    RECEIPT = "receipt"
    ADJUSTMENT = "adjustment"
    COUNT = "count"
    ALL = (RECEIPT, ADJUSTMENT, COUNT)


@dataclass(frozen=True)
class StockRow:
    warehouse: str
    sku: str
    quantity: int  # received units, the change for an adjustment, or the counted figure
    lot_code: str = ""
    expiry_date: date | None = None
    bin: str = ""
    reason: str = ""


@dataclass(frozen=True)
class BatchResult:
    kind: str
    rows: int
    changed_positions: int
    units_in: int
    units_out: int


def _reference_rows(
    rows: list[StockRow],
) -> tuple[dict[str, Warehouse], dict[str, Product], dict[str, list[str]]]:
    # A merchant has a few dozen warehouses at most: match their codes without regard to case.
    warehouses = {w.code.upper(): w for w in Warehouse.objects.all()}
    products = {p.sku: p for p in Product.objects.filter(sku__in={normalize_sku(r.sku) for r in rows})}
    return warehouses, products, {}


def stock_batch_apply(
    *,
    kind: str,
    rows: list[StockRow],
    actor: str,
    batch_reference: str = "",
    full: bool = False,
    progress: Callable[[int, int], None] | None = None,
    extra_errors: Errors | None = None,
) -> BatchResult:
    """Check and apply a batch; ``full`` (counts only) also counts every unlisted position of the
    batch's warehouses as zero, as a full stock snapshot means. ``extra_errors``: problems the caller
    found in the request's shapes, answered together with this batch's own (nothing is applied)."""
    if kind not in BatchKind.ALL:
        raise ValueError(f"unknown batch kind {kind!r}")
    extra_errors = extra_errors or {}
    if not rows:
        raise ValidationFailed(
            "The batch is empty.", details=merge_errors(extra_errors, {"rows": ["Send at least one row."]})
        )
    warehouses, products, errors = _reference_rows(rows)
    seen: dict[tuple[str, str, str], int] = {}
    for index, row in enumerate(rows):
        path = f"rows.{index}"
        warehouse = warehouses.get(row.warehouse.strip().upper())
        product = products.get(normalize_sku(row.sku))
        if warehouse is None:
            errors[f"{path}.warehouse"] = [f"Unknown warehouse '{row.warehouse}'."]
        if product is None:
            errors[f"{path}.sku"] = [f"Unknown SKU '{row.sku}'."]
        if kind == BatchKind.RECEIPT and row.quantity <= 0:
            errors[f"{path}.quantity"] = ["A receipt needs a positive quantity."]
        if kind == BatchKind.COUNT and row.quantity < 0:
            errors[f"{path}.quantity"] = ["A count cannot be negative."]
        if kind == BatchKind.ADJUSTMENT:
            if row.quantity == 0:
                errors[f"{path}.quantity"] = ["An adjustment of zero changes nothing."]
            if not row.reason.strip():
                errors[f"{path}.reason"] = ["Say why the figure changes."]
        if product is not None and product.lot_tracked and not row.lot_code.strip():
            errors[f"{path}.lot_code"] = [f"{product.sku} is lot-tracked: give the lot code."]
        key = (row.warehouse.strip().upper(), normalize_sku(row.sku), row.lot_code.strip())
        if kind == BatchKind.COUNT and key in seen:
            errors[f"{path}.sku"] = [f"Row {seen[key]} already counts this position."]
        seen.setdefault(key, index)
    if full and kind != BatchKind.COUNT:
        errors["full"] = ["Only a count can be a full snapshot."]
    if errors or extra_errors:
        errors = merge_errors(extra_errors, errors)
        bad_rows = {k.split(".")[1] for k in errors if k.startswith("rows.") and k.count(".") >= 2}
        raise ValidationFailed(
            f"{len(bad_rows)} row(s) are invalid; nothing was applied."
            if bad_rows
            else "The batch is invalid; nothing was applied.",
            details=errors,
        )
    with transaction.atomic():
        return _apply(
            kind=kind,
            rows=rows,
            warehouses=warehouses,
            products=products,
            actor=actor,
            batch_reference=batch_reference,
            full=full,
            progress=progress,
        )


def _apply(*, kind, rows, warehouses, products, actor, batch_reference, full, progress) -> BatchResult:
    changed, units_in, units_out = set(), 0, 0
    counted: set[tuple[int, int]] = set()
    for index, row in enumerate(rows):
        warehouse = warehouses[row.warehouse.strip().upper()]
        product = products[normalize_sku(row.sku)]
        try:
            if kind == BatchKind.RECEIPT:
                services.stock_receive(
                    warehouse=warehouse,
                    product=product,
                    quantity=row.quantity,
                    actor=actor,
                    lot_code=row.lot_code,
                    expiry_date=row.expiry_date,
                    bin_code=row.bin,
                    reason=row.reason,
                    reference_type=ReferenceType.IMPORT,
                    reference=batch_reference,
                )
                delta = row.quantity
            else:
                delta = (
                    row.quantity
                    if kind == BatchKind.ADJUSTMENT
                    else row.quantity - _current(warehouse, product, row.lot_code)
                )
                counted.add((warehouse.pk, product.pk))
                if delta:
                    services.stock_adjust(
                        warehouse=warehouse,
                        product=product,
                        delta=delta,
                        actor=actor,
                        lot_code=row.lot_code,
                        reason=row.reason or ("cycle count" if kind == BatchKind.COUNT else ""),
                        kind=MovementKind.COUNT if kind == BatchKind.COUNT else MovementKind.ADJUSTMENT,
                        reference_type=ReferenceType.IMPORT,
                        reference=batch_reference,
                    )
        except ValidationFailed as exc:
            raise ValidationFailed(
                f"Row {index} cannot be applied; nothing was applied.",
                # the service's "delta" is the row's quantity
                details={
                    f"rows.{index}.{'quantity' if name == 'delta' else name}": messages
                    for name, messages in (exc.details or {}).items()
                },
            ) from exc
        if delta:
            changed.add((warehouse.pk, product.pk))
            units_in += max(delta, 0)
            units_out += max(-delta, 0)
        if progress:
            progress(index + 1, len(rows))
    if full:
        for position in StockPosition.objects.filter(
            warehouse__in={warehouses[r.warehouse.strip().upper()] for r in rows}, on_hand__gt=0
        ).select_related("warehouse", "product"):
            if (position.warehouse_id, position.product_id) in counted or position.product.lot_tracked:
                continue
            try:
                services.stock_adjust(
                    warehouse=position.warehouse,
                    product=position.product,
                    delta=-position.on_hand,
                    actor=actor,
                    reason="not in the full count",
                    kind=MovementKind.COUNT,
                    reference_type=ReferenceType.IMPORT,
                    reference=batch_reference,
                )
            except ValidationFailed as exc:
                raise ValidationFailed(
                    "A position missing from the full count cannot be set to zero; nothing was applied.",
                    details={
                        f"{position.warehouse.code}/{position.product.sku}": list(
                            exc.details.get("delta", [])
                        )
                    },
                ) from exc
            changed.add((position.warehouse_id, position.product_id))
            units_out += position.on_hand
    return BatchResult(
        kind=kind, rows=len(rows), changed_positions=len(changed), units_in=units_in, units_out=units_out
    )


def _current(warehouse: Warehouse, product: Product, lot_code: str) -> int:
    if product.lot_tracked:
        lot = Lot.objects.filter(
            position__warehouse=warehouse, position__product=product, code=lot_code.strip()
        ).first()
        return lot.on_hand if lot else 0
    position = StockPosition.objects.filter(warehouse=warehouse, product=product).first()
    return position.on_hand if position else 0


CSV_COLUMNS = {"warehouse", "sku", "quantity"}


def rows_from_csv(text: str) -> list[StockRow]:
    """Rows from CSV with a header line: warehouse, sku, quantity and optionally lot_code,
    expiry_date (YYYY-MM-DD), bin, reason. Problems are reported with their line numbers."""
    try:
        return _rows_from_csv(text)
    except csv.Error as exc:
        # a text the csv module cannot split into rows (a stray carriage return, a NUL): the client's
        # file is broken, and says so, instead of the server failing
        raise ValidationFailed("The CSV cannot be read.", details={"body": [str(exc)]}) from exc


def _rows_from_csv(text: str) -> list[StockRow]:
    # newline="": every line ending (\n, \r\n or a lone \r) ends a row, as the csv module expects
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = {name.strip().lower() for name in reader.fieldnames or []}
    missing = CSV_COLUMNS - header
    if missing:
        raise ValidationFailed(
            "The CSV header is incomplete.",
            details={"header": [f"Missing column(s): {', '.join(sorted(missing))}."]},
        )
    rows, errors = [], {}
    for index, raw in enumerate(reader):
        record = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        try:
            quantity = int(record["quantity"])
        except ValueError:
            errors[f"rows.{index}.quantity"] = [
                f"Line {index + 2}: '{record['quantity']}' is not a whole number."
            ]
            quantity = 0
        expiry = None
        if record.get("expiry_date"):
            try:
                expiry = date.fromisoformat(record["expiry_date"])
            except ValueError:
                errors[f"rows.{index}.expiry_date"] = [f"Line {index + 2}: use YYYY-MM-DD."]
        rows.append(
            StockRow(
                warehouse=record["warehouse"],
                sku=record["sku"],
                quantity=quantity,
                lot_code=record.get("lot_code", ""),
                expiry_date=expiry,
                bin=record.get("bin", ""),
                reason=record.get("reason", ""),
            )
        )
    if errors:
        raise ValidationFailed("Some CSV rows are invalid; nothing was applied.", details=errors)
    return rows


def rows_from_dicts(items: Iterable[dict]) -> list[StockRow]:
    return [StockRow(**item) for item in items]
