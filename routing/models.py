"""Routing rules as data (edited in admin, versioned: draft -> published -> retired), transit times
per lane, and the decision taken for every order with the trace that explains it."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from inventory.models import Warehouse
from orders.models import Channel, Order, ServiceLevel


class RuleSetStatus(models.TextChoices):
    DRAFT = "draft", "Draft"  # being edited; used only by dry runs
    PUBLISHED = "published", "Published"  # in force for its channel / service level
    RETIRED = "retired", "Retired"  # replaced by a later version; kept for history


class WhenUnroutable(models.TextChoices):
    BACKORDER = "backorder", "Backorder"  # wait for stock
    HOLD = "hold", "Hold for ops"  # put on hold with reason unroutable


class RuleSet(models.Model):
    name = models.CharField(max_length=120)
    channel = models.ForeignKey(
        Channel,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="rule_sets",
        help_text="Empty: every channel without a rule set of its own.",
    )
    service_level = models.CharField(
        max_length=16, choices=ServiceLevel.choices, blank=True, help_text="Empty: every service level."
    )
    status = models.CharField(max_length=16, choices=RuleSetStatus.choices, default=RuleSetStatus.DRAFT)
    version = models.PositiveIntegerField(default=1)
    based_on = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    max_shipments = models.PositiveSmallIntegerField(
        default=2, help_text="At most this many parcels per order."
    )
    minimize_shipments = models.BooleanField(
        default=True, help_text="Fewest parcels first, then the lowest cost."
    )
    keep_within_country = models.BooleanField(default=False)
    exclude_stores = models.BooleanField(default=False)
    respect_cutoff = models.BooleanField(default=True, help_text="Skip warehouses past today's cut-off time.")
    respect_capacity = models.BooleanField(default=True, help_text="Skip warehouses whose day is full.")
    when_unroutable = models.CharField(
        max_length=16, choices=WhenUnroutable.choices, default=WhenUnroutable.BACKORDER
    )
    weight_distance = models.FloatField(
        default=1.0, help_text="Per 100 km, or per transit day from the lanes."
    )
    weight_cost = models.FloatField(default=0.0, help_text="Per unit of a carrier quote.")
    weight_split = models.FloatField(default=5.0, help_text="Per parcel beyond the first.")
    weight_rank = models.FloatField(default=0.0, help_text="Per step down the warehouse ranking.")
    weight_balance = models.FloatField(default=0.0, help_text="Per share of a warehouse's stock taken.")
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "-version"]
        # One rule set in force per scope: rule_set_publish retires the previous one in the same
        # transaction (the database cannot say it for the empty channel on every backend).
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "service_level"],
                condition=Q(status="published"),
                name="ruleset_one_published_per_scope",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version} ({self.get_status_display().lower()})"


class RuleSetChange(models.Model):
    """Append-only history of a rule set: who changed which fields of a draft, from what to what
    (and who created and published it)."""

    rule_set = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="changes")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)
    what = models.CharField(max_length=16, help_text="created, edited, published or drafted.")
    changes = models.JSONField(default=dict, blank=True, help_text="field -> [before, after]")

    class Meta:
        ordering = ["changed_at", "id"]

    def __str__(self) -> str:
        when = f"{self.changed_at:%d %b %Y %H:%M}" if self.changed_at else "now"
        return f"{self.what.capitalize()} {when}"


class RuleSetWarehouse(models.Model):
    """A warehouse the rule set allows; the rank orders them where the rule set weights rank."""

    rule_set = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="warehouses")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+")
    rank = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["rank", "warehouse__code"]
        constraints = [
            models.UniqueConstraint(fields=["rule_set", "warehouse"], name="rulesetwarehouse_unique")
        ]

    def __str__(self) -> str:
        return f"{self.warehouse_id} #{self.rank}"


class LaneTransit(models.Model):
    """How long parcels take from a warehouse to a destination country (or postal-code prefix)."""

    warehouse = models.ForeignKey(Warehouse, on_delete=models.CASCADE, related_name="lanes")
    country = models.CharField(max_length=2)
    postal_prefix = models.CharField(max_length=10, blank=True, help_text="Empty: the whole country.")
    transit_days = models.DecimalField(max_digits=4, decimal_places=1)

    class Meta:
        verbose_name = "lane transit time"
        constraints = [
            models.UniqueConstraint(
                fields=["warehouse", "country", "postal_prefix"], name="lanetransit_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.warehouse_id} -> {self.country}{self.postal_prefix}: {self.transit_days} d"


class DecisionOutcome(models.TextChoices):
    ALLOCATED = "allocated", "Allocated"  # the whole order is reserved
    PARTIAL = "partial", "Partially allocated"  # some lines or units wait for stock
    BACKORDERED = "backordered", "Backordered"  # nothing could be reserved yet
    HELD = "held", "Held"  # unroutable and the rule set says hold


class RoutingDecision(models.Model):
    """Append-only: each routing attempt of an order, with its candidates, scores and reasons."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="routing_decisions")
    rule_set = models.ForeignKey(RuleSet, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    outcome = models.CharField(max_length=16, choices=DecisionOutcome.choices)
    attempts = models.PositiveSmallIntegerField(default=1, help_text="Plans made: stock can move meanwhile.")
    plan = models.JSONField(
        default=list, help_text="What the order holds after this decision: [{line_id, warehouse, quantity}]."
    )
    reserved = models.JSONField(
        default=list,
        help_text="What this decision itself reserved (the rest of the plan was held from earlier ones).",
    )
    backordered = models.JSONField(default=dict)
    trace = models.JSONField(default=list, help_text="Every candidate with its distance, cost and verdict.")
    alerts = models.JSONField(
        default=list, help_text="What ops should know: no stock anywhere, SLA at risk, ..."
    )
    promised_date = models.DateTimeField(
        null=True, blank=True, help_text="Pick-up orders: when the store can hand the order over."
    )
    duration_ms = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["order", "-id"], name="routingdecision_order")]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} for order {self.order_id}"
