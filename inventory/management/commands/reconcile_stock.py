from django.core.management.base import BaseCommand, CommandError

from inventory.selectors import stock_drifts


class Command(BaseCommand):
    help = "Compare every stock position and lot with the sum of its ledger; exit 1 if any drifted."

    def handle(self, *args, **options):
        drifts = stock_drifts()
        for drift in drifts:
            self.stdout.write(str(drift))
        if drifts:
            raise CommandError(f"{len(drifts)} figure(s) differ from the stock ledger.")
        self.stdout.write("Every stock figure matches its ledger.")
