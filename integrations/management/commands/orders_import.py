"""Import a marketplace's file of orders (CSV or JSON) into a channel, all or nothing, as the
dashboard's upload does: `manage.py orders_import --channel amazon-de orders.csv`."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from integrations import imports
from integrations.models import ImportStatus
from oms.errors import ValidationFailed
from orders.models import Channel


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--channel", required=True, help="The channel's code.")

    def handle(self, *args, file: Path, channel: str, **options):
        target = Channel.objects.filter(code=channel).first()
        if target is None:
            raise CommandError(f"No channel '{channel}'.")
        if not file.is_file():
            raise CommandError(f"No file {file}.")
        try:
            imp = imports.order_import_create(
                channel=target,
                file_name=file.name,
                raw=file.read_bytes(),
                uploaded_by="manage.py orders_import",
            )
        except ValidationFailed as exc:
            raise CommandError(" ".join(f"{k}: {' '.join(v)}" for k, v in exc.details.items())) from exc
        imp = imports.order_import_run(import_id=imp.pk)
        if imp.status != ImportStatus.DONE:
            for problem in imp.problems:
                self.stderr.write(f"row {problem['row']}, {problem['field']}: {problem['message']}")
            raise CommandError(f"{len(imp.problems)} problem(s): nothing of {file.name} was imported.")
        self.stdout.write(
            f"{imp.created} order(s) created, {imp.duplicates} already there (import {imp.pk})."
        )
