"""KPI figures: daily sums folded from the histories of every app below, the cursors that say how
far each history has been read, the costs of handling a shipment, thresholds and their alerts."""

from django.db import models
from django.db.models import Q

MONEY = {"max_digits": 12, "decimal_places": 2}


class Grain(models.TextChoices):
    """Which dimensions a figure is summed over: every KPI has a row per day at each grain it knows,
    so a page reads the few rows of its own grain instead of summing the finest ones."""

    ALL = "all", "All"  # one row per KPI and day
    CHANNEL = "channel", "Per channel"
    WAREHOUSE = "warehouse", "Per warehouse"  # shipment KPIs only
    CARRIER = "carrier", "Per carrier"  # shipment KPIs only
    FULL = "full", "Per channel, warehouse and carrier"  # shipment KPIs only, for combined filters
    LANE = "lane", "Per lane"  # shipment KPIs only: a warehouse and the destination country


class DailyFigure(models.Model):
    """One KPI on one day at one grain: a numerator and a denominator, so that days and dimensions
    add up (a rate or an average over a period is the sum of numerators over the sum of
    denominators). Derived data: a day's rows are replaced whole whenever that day is recomputed."""

    day = models.DateField(help_text="The merchant's day (TIME_ZONE) of the KPI's time basis.")
    kpi = models.CharField(max_length=32)
    grain = models.CharField(max_length=10, choices=Grain.choices)
    channel = models.ForeignKey(
        "orders.Channel", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    warehouse = models.ForeignKey(
        "inventory.Warehouse", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    carrier = models.ForeignKey(
        "shipments.Carrier", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    country = models.CharField(max_length=2, blank=True, help_text="The destination country, for lanes.")
    numerator = models.DecimalField(max_digits=20, decimal_places=4)
    denominator = models.DecimalField(max_digits=20, decimal_places=4)

    class Meta:
        indexes = [
            models.Index(fields=["grain", "kpi", "day"], name="kpi_figure_grain_day"),
            models.Index(fields=["day"], name="kpi_figure_day"),
        ]

    def __str__(self) -> str:
        return f"{self.kpi} {self.day} {self.grain}"


class RollupCursor(models.Model):
    """How far one history has been folded into the figures: rows with a greater id are new."""

    source = models.CharField(max_length=40, unique=True)
    last_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.source} up to {self.last_id}"


class HandlingCost(models.Model):
    """What picking and packing one shipment costs at a warehouse, from a day on. Append-only: a new
    cost is a new row with its own start day, so every day keeps the cost it had (and a rebuild of
    the figures gives what was folded at the time)."""

    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.CASCADE, related_name="+")
    valid_from = models.DateField()
    per_shipment = models.DecimalField(**MONEY, help_text="Pick, pack and materials, per outbound shipment.")
    currency = models.CharField(max_length=3, default="EUR")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["warehouse", "valid_from"], name="handling_cost_once_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.warehouse} from {self.valid_from}: {self.per_shipment} {self.currency}"


class Direction(models.TextChoices):
    BELOW = "below", "Alert when it falls below"  # rates where more is better
    ABOVE = "above", "Alert when it rises above"  # times and costs where less is better


class Threshold(models.Model):
    """The line a KPI must not cross, over a trailing window of days, for all orders or for one
    channel, warehouse or carrier. ``recover_at`` lies on the good side of ``alert_at``: an alert
    closes only once the figure is back past it, so a figure hovering at the line raises one alert,
    not one per evaluation."""

    kpi = models.CharField(max_length=32)
    channel = models.ForeignKey(
        "orders.Channel", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    warehouse = models.ForeignKey(
        "inventory.Warehouse", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    carrier = models.ForeignKey(
        "shipments.Carrier", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    direction = models.CharField(max_length=5, choices=Direction.choices)
    alert_at = models.DecimalField(
        max_digits=14, decimal_places=4, help_text="In the KPI's unit (a rate as 0.95)."
    )
    recover_at = models.DecimalField(
        max_digits=14, decimal_places=4, help_text="Back past this, the alert closes (hysteresis)."
    )
    window_days = models.PositiveSmallIntegerField(
        default=7, help_text="The trailing days the figure covers."
    )
    min_count = models.PositiveIntegerField(
        default=20, help_text="Fewer orders or shipments than this in the window: no verdict."
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(direction="below") & Q(recover_at__gte=models.F("alert_at")))
                | (Q(direction="above") & Q(recover_at__lte=models.F("alert_at"))),
                name="threshold_recovers_on_the_good_side",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kpi} {self.direction} {self.alert_at}"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"  # the figure crossed the line and has not come back past recover_at
    RECOVERED = "recovered", "Recovered"  # back on the good side; nothing more happens to it


ALERT_TRANSITIONS: dict[str, frozenset[str]] = {
    AlertStatus.OPEN: frozenset({AlertStatus.RECOVERED}),
    AlertStatus.RECOVERED: frozenset(),
}


class KpiAlert(models.Model):
    """One crossing of a threshold, from the evaluation that saw it to the one that saw it recover."""

    threshold = models.ForeignKey(Threshold, on_delete=models.CASCADE, related_name="alerts")
    status = models.CharField(max_length=10, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    value = models.DecimalField(max_digits=20, decimal_places=6, help_text="The figure when it crossed.")
    count = models.DecimalField(max_digits=20, decimal_places=4, help_text="Orders or shipments behind it.")
    window_start = models.DateField()
    window_end = models.DateField()
    opened_at = models.DateTimeField()
    recovered_value = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    recovered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["threshold"], condition=Q(status="open"), name="kpi_alert_one_open_per_threshold"
            ),
        ]
        indexes = [models.Index(fields=["status", "-opened_at"], name="kpi_alert_recent")]

    def __str__(self) -> str:
        return f"{self.threshold} {self.status}"
