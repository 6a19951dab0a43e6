"""Bulk order import for marketplaces without an API: a CSV or JSON file of orders, taken all or
nothing, with every problem reported by row at once.

The file is read into the bodies ``POST /api/v1/orders/`` takes, so each order passes exactly the
checks of the API and the same dedupe by the channel's order number (``external_id``): an order the
channel sent before is counted as a duplicate and left alone, so the same file twice creates nothing
twice. Two passes:
1. **check**: every order is created and rolled back, fifty at a time, and the progress is saved
   after each fifty (the page's bar follows it). Every problem of every row is collected.
2. **write**: with no problem found, every order is created in one transaction. Anything that fails
   there (an order the API took a moment ago under the same number counts as a duplicate, not a
   failure) rolls the whole file back.

CSV: one row per order line, the order's fields repeated on each of its rows (the first row's are
taken). Columns, in any order: ``external_id``, ``sku``, ``quantity``, ``unit_price`` are required;
``discount``, ``currency``, ``placed_at``, ``email``, ``phone``, ``first_name``, ``last_name``,
``language``, ``service_level``, ``payment_status``, ``shipping_total``, ``tax_total``,
``order_discount``, and the address as ``ship_name``, ``ship_company``, ``ship_line1``,
``ship_line2``, ``ship_city``, ``ship_region``, ``ship_postal_code``, ``ship_country``,
``ship_phone``. Row numbers count the header as row 1, as a spreadsheet shows them.

JSON: a list of order bodies as the API takes them, or ``{"orders": [...]}``; rows are the orders'
positions, from 1."""

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from integrations.models import IMPORT_TRANSITIONS, ImportStatus, OrderImport
from oms.errors import Conflict, DomainError, IllegalTransition, ValidationFailed
from orders import services as orders
from orders.api.serializers import OrderCreateIn
from orders.models import Channel, Order

MAX_BYTES = 10 * 1024 * 1024
MAX_ORDERS = 10_000
CHUNK = 50
STALE_AFTER = timedelta(minutes=10)

ORDER_COLUMNS = {
    "currency": "currency",
    "placed_at": "placed_at",
    "language": "language",
    "service_level": "service_level",
    "payment_status": "payment_status",
    "shipping_total": "shipping_total",
    "tax_total": "tax_total",
    "order_discount": "order_discount",
}
CUSTOMER_COLUMNS = {"email": "email", "phone": "phone", "first_name": "first_name", "last_name": "last_name"}
ADDRESS_COLUMNS = {
    f"ship_{name}": name
    for name in ("name", "company", "line1", "line2", "city", "region", "postal_code", "country", "phone")
}
LINE_COLUMNS = ("sku", "quantity", "unit_price", "discount")
REQUIRED = ("external_id", "sku", "quantity", "unit_price")


@dataclass
class FileOrder:
    """One order of the file: its body for the API's checks, and where in the file each part is."""

    body: dict
    row: int  # the order's first row (or its position in a JSON list)
    line_rows: list[int] = field(default_factory=list)
    from_csv: bool = True


@dataclass
class Problem:
    row: int
    field: str
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "field": self.field, "message": self.message}


def parse_csv(text: str) -> tuple[list[FileOrder], list[Problem]]:
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        return [], [Problem(1, c, "This column is required.") for c in missing]
    by_id: dict[str, FileOrder] = {}
    for number, raw in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        external_id = row.get("external_id", "")
        if not external_id:
            by_id.setdefault(f"\0{number}", FileOrder(body={}, row=number))  # reported by the checks below
            continue
        order = by_id.get(external_id)
        if order is None:
            body = {"external_id": external_id, "lines": []}
            body.update({key: row[col] for col, key in ORDER_COLUMNS.items() if row.get(col)})
            body["customer"] = {key: row[col] for col, key in CUSTOMER_COLUMNS.items() if row.get(col)}
            body["shipping_address"] = {key: row[col] for col, key in ADDRESS_COLUMNS.items() if row.get(col)}
            order = by_id[external_id] = FileOrder(body=body, row=number)
        line = {name: row[name] for name in LINE_COLUMNS if row.get(name)}
        if "quantity" in line and line["quantity"].lstrip("-").isdigit():
            line["quantity"] = int(line["quantity"])
        order.body["lines"].append(line)
        order.line_rows.append(number)
    return list(by_id.values()), []


def parse_json(text: str) -> tuple[list[FileOrder], list[Problem]]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return [], [Problem(1, "file", f"Not JSON: {exc}"[:300])]
    if isinstance(data, dict):
        data = data.get("orders")
    if not isinstance(data, list):
        return [], [Problem(1, "file", 'A list of orders, or {"orders": [...]}.')]
    return [FileOrder(body=item, row=n, from_csv=False) for n, item in enumerate(data, start=1)], []


def _problems(order: FileOrder, details: dict) -> list[Problem]:
    """The API's field paths, as the file names them: a CSV line's column on its own row."""
    found = []
    for path, messages in (details or {}).items():
        text = " ".join(messages) if isinstance(messages, list) else str(messages)
        row, name = order.row, path
        if order.from_csv:
            parts = path.split(".")
            if parts[0] == "lines" and len(parts) > 1 and parts[1].isdigit():
                index = int(parts[1])
                row = order.line_rows[index] if index < len(order.line_rows) else order.row
                name = ".".join(parts[2:]) or "lines"
            elif parts[0] == "customer" and len(parts) > 1:
                name = parts[1]
            elif parts[0] == "shipping_address" and len(parts) > 1:
                name = f"ship_{parts[1]}"
        found.append(Problem(row, name, text))
    return found


def _create(channel: Channel, actor, order: FileOrder) -> Order:
    if not order.body or not isinstance(order.body, dict):
        raise ValidationFailed("Not an order.", details={"external_id": ["Every row needs its external_id."]})
    shape = OrderCreateIn(data=order.body)
    if not shape.is_valid():
        from oms.api.exceptions import flatten_errors

        raise ValidationFailed("The order is invalid.", details=flatten_errors(shape.errors))
    return orders.order_create(
        channel=channel, actor=actor, data=OrderCreateIn.to_order_input(shape.validated_data, {})
    )


def _move(imp: OrderImport, to: str, **fields) -> None:
    if to not in IMPORT_TRANSITIONS[imp.status]:
        raise IllegalTransition(f"An import that is {imp.status} cannot become {to}.")
    fields["status"] = to
    if to in (ImportStatus.DONE, ImportStatus.FAILED):
        fields["finished_at"] = timezone.now()
    OrderImport.objects.filter(pk=imp.pk).update(updated_at=timezone.now(), **fields)
    for name, value in fields.items():
        setattr(imp, name, value)


def order_import_create(
    *, channel: Channel, file_name: str, raw: bytes, uploaded_by: str, enqueue: bool = True
) -> OrderImport:
    """Keep an uploaded file for the worker (or, without ``enqueue``, for the caller to run); refuses
    what is not a CSV or JSON file of orders."""
    name = (file_name or "").strip()[:200]
    kind = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    problems: dict[str, list[str]] = {}
    if kind not in ("csv", "json"):
        problems["file"] = ["A .csv or .json file."]
    if len(raw) > MAX_BYTES:
        problems["file"] = [f"At most {MAX_BYTES // (1024 * 1024)} MB; split the file."]
    try:
        text = raw.decode("utf-8-sig")  # a spreadsheet's CSV starts with a byte-order mark
    except UnicodeDecodeError:
        problems.setdefault("file", []).append("Not UTF-8 text: save the file as CSV UTF-8.")
        text = ""
    if "\x00" in text:
        problems.setdefault("file", []).append("The file holds NUL bytes: it is not a text file.")
    if problems:
        raise ValidationFailed("The file cannot be imported.", details=problems)
    imp = OrderImport.objects.create(
        channel=channel, file_name=name, file_format=kind, content=text, uploaded_by=uploaded_by[:150]
    )
    if enqueue:
        transaction.on_commit(lambda: _enqueue(imp.pk), robust=True)
    return imp


def _enqueue(import_id: int) -> None:
    from integrations.tasks import order_import

    order_import.delay(import_id)


def order_import_run(*, import_id: int) -> OrderImport:
    """Check the whole file, then write it all or refuse it all."""
    with transaction.atomic():
        imp = OrderImport.objects.select_for_update().select_related("channel").get(pk=import_id)
        if imp.status != ImportStatus.QUEUED:
            return imp
        _move(imp, ImportStatus.CHECKING, checked=0, problems=[])
    parse = parse_csv if imp.file_format == "csv" else parse_json
    found, problems = parse(imp.content)
    if not problems and len(found) > MAX_ORDERS:
        problems = [Problem(1, "file", f"{len(found)} orders: at most {MAX_ORDERS} a file; split it.")]
    if not problems and not found:
        problems = [Problem(1, "file", "No order in the file.")]
    if problems:
        _move(imp, ImportStatus.FAILED, total=len(found), problems=[p.as_dict() for p in problems])
        return imp
    imp.total = len(found)
    OrderImport.objects.filter(pk=imp.pk).update(total=imp.total, updated_at=timezone.now())
    channel = imp.channel
    actor = orders.Actor.system(f"order import {imp.pk} ({imp.file_name}) by {imp.uploaded_by}")
    # a NUL cannot even be looked up (the database refuses it); the order's checks name it below
    wanted = {o.body.get("external_id") for o in found if isinstance(o.body, dict)}
    wanted = {w for w in wanted if isinstance(w, str) and "\x00" not in w}
    already = set(
        Order.objects.filter(channel=channel, external_id__in=list(wanted)).values_list(
            "external_id", flat=True
        )
    )
    todo, seen = [], {}
    for order in found:
        external_id = order.body.get("external_id") if isinstance(order.body, dict) else None
        if isinstance(external_id, str) and external_id.strip() in already:
            continue
        if not order.from_csv and isinstance(external_id, str):
            if external_id in seen:
                problems.append(
                    Problem(order.row, "external_id", f"Also the order of row {seen[external_id]}.")
                )
                continue
            seen[external_id] = order.row
        todo.append(order)
    for start in range(0, len(todo), CHUNK):
        with transaction.atomic():
            for order in todo[start : start + CHUNK]:
                try:
                    with transaction.atomic():
                        _create(channel, actor, order)
                except DomainError as exc:
                    problems.extend(
                        _problems(order, exc.details if isinstance(exc.details, dict) else {})
                        or [Problem(order.row, "order", exc.message)]
                    )
            transaction.set_rollback(True)  # only checking: nothing of it stays
        OrderImport.objects.filter(pk=imp.pk).update(
            checked=min(start + CHUNK, len(todo)) + len(found) - len(todo), updated_at=timezone.now()
        )
    if problems:
        problems.sort(key=lambda p: (p.row, p.field))
        _move(imp, ImportStatus.FAILED, checked=len(found), problems=[p.as_dict() for p in problems])
        return imp
    _move(imp, ImportStatus.WRITING, checked=len(found))
    created, duplicates = 0, len(found) - len(todo)
    try:
        with transaction.atomic():
            for order in todo:
                try:
                    with transaction.atomic():
                        _create(channel, actor, order)
                    created += 1
                except Conflict as exc:
                    if exc.code != "duplicate_external_id":
                        raise
                    duplicates += 1  # the channel's API took it a moment ago
    except DomainError as exc:
        _move(
            imp,
            ImportStatus.FAILED,
            problems=[Problem(order.row, "order", f"{exc.message} Nothing of the file was taken.").as_dict()],
        )
        return imp
    _move(imp, ImportStatus.DONE, created=created, duplicates=duplicates)
    return imp


def order_imports_sweep(*, now=None) -> int:
    """Imports whose worker died (queued and never started, or silent part-way): taken again."""
    now = now or timezone.now()
    stale = OrderImport.objects.filter(
        status__in=[ImportStatus.CHECKING, ImportStatus.WRITING], updated_at__lt=now - STALE_AFTER
    )
    for imp in stale:
        _move(imp, ImportStatus.QUEUED)
    waiting = list(
        OrderImport.objects.filter(
            status=ImportStatus.QUEUED, updated_at__lt=now - timedelta(minutes=2)
        ).values_list("pk", flat=True)
    )
    for import_id in waiting:
        order_import_run(import_id=import_id)
    return len(waiting)
