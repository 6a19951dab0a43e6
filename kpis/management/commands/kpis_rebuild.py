from datetime import date

from django.core.management.base import BaseCommand, CommandError

from kpis import services


class Command(BaseCommand):
    help = (
        "Recompute the KPI figures of every day (or of --from .. --to) from the histories, and move the "
        "fold's cursors to their ends. Gives the figures the incremental fold would have."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="first", type=date.fromisoformat, help="First day (YYYY-MM-DD).")
        parser.add_argument("--to", dest="last", type=date.fromisoformat, help="Last day (YYYY-MM-DD).")

    def handle(self, *args, first: date | None, last: date | None, **options):
        if first and last and first > last:
            raise CommandError("--from is after --to.")
        result = services.figures_rebuild(first=first, last=last)
        self.stdout.write(
            self.style.SUCCESS(f"Recomputed {result.days:,} days: {result.figures:,} figure rows.")
        )
