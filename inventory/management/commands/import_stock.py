"""Apply a CSV of stock rows (receipts, adjustments or a cycle count), all or nothing, with progress."""

import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from inventory.imports import BatchKind, rows_from_csv, stock_batch_apply
from oms.errors import ValidationFailed


class Command(BaseCommand):
    help = (
        "Import stock from a CSV file with a header line: warehouse, sku, quantity and optionally lot_code, "
        "expiry_date (YYYY-MM-DD), bin, reason. Nothing is applied if any row is bad; bad rows are listed."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--kind", choices=BatchKind.ALL, required=True)
        parser.add_argument("--full", action="store_true", help="count only: unlisted positions become zero")
        parser.add_argument("--reference", default="", help="kept in the ledger, e.g. the count sheet number")
        parser.add_argument("--actor", default="import_stock")

    def handle(self, *args, file: Path, kind: str, full: bool, reference: str, actor: str, **options):
        if not file.exists():
            raise CommandError(f"No file {file}.")
        started = time.monotonic()
        last_drawn = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if done != total and now - last_drawn[0] < 0.2:
                return
            last_drawn[0] = now
            width = 40
            filled = width * done // total
            rate = done / max(now - started, 1e-6)
            self.stdout.write(
                f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} rows  {rate:,.0f} rows/s",
                ending="",
            )
            self.stdout.flush()

        try:
            rows = rows_from_csv(file.read_text(encoding="utf-8-sig"))
            result = stock_batch_apply(
                kind=kind,
                rows=rows,
                actor=actor,
                batch_reference=reference or file.name,
                full=full,
                progress=progress,
            )
        except ValidationFailed as exc:
            self.stdout.write("")
            for field, messages in (exc.details or {}).items():
                for message in messages:
                    self.stderr.write(f"{field}: {message}")
            raise CommandError(exc.message) from exc
        self.stdout.write("")
        self.stdout.write(
            f"Applied {result.rows} rows ({kind}): {result.changed_positions} positions changed, "
            f"+{result.units_in} / -{result.units_out} units, in {time.monotonic() - started:.1f}s."
        )
        sys.stdout.flush()
