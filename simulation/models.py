"""A saved simulation run: its parameters and everything it measured, for the dashboard's page."""

from django.db import models


class SimulationRun(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    days = models.PositiveIntegerField()
    orders_per_day = models.PositiveIntegerField()
    warehouses = models.PositiveSmallIntegerField()
    seed = models.BigIntegerField()
    strategy = models.CharField(
        max_length=40, help_text="Which variants ran (manage.py simulate --strategy)."
    )
    seconds = models.DecimalField(max_digits=10, decimal_places=1, help_text="Wall-clock time of the run.")
    results = models.JSONField(help_text="Parameters, each variant's outcomes and invariants, and the table.")

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.days} days x {self.orders_per_day} orders, seed {self.seed} ({self.strategy})"
