"""Replenishment: who supplies what and how fast (suppliers, production sites), the reorder rule of
each stock position (or every position of a SKU), what is on order (purchase and production orders),
and the suggestions the evaluation makes, one open suggestion per position at most."""

from django.db import models
from django.db.models import Q


class Supplier(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=160)
    email = models.EmailField(blank=True, help_text="Where purchase orders are sent.")
    lead_time_days = models.PositiveSmallIntegerField(help_text="Days from order to goods received.")
    is_active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name


class ProductionSite(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=160)
    warehouse = models.ForeignKey(
        "inventory.Warehouse", on_delete=models.PROTECT, related_name="+", help_text="Where its output lands."
    )
    lead_time_days = models.PositiveSmallIntegerField(help_text="Days from a production slot to stock.")
    capacity_per_day = models.PositiveIntegerField(help_text="Units it can make in a day.")
    is_active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name


class Source(models.TextChoices):
    SUPPLIER = "supplier", "Buy from a supplier"
    PRODUCTION = "production", "Make at a production site"
    TRANSFER = "transfer", "Transfer from a warehouse with surplus"


class ReorderRule(models.Model):
    """When a position's inventory position (on hand + on order + in transit - allocated - backorders
    it carries) falls to ``reorder_point``, order up to ``order_up_to``, in whole ``order_multiple``s
    and at least ``min_order_qty``. A rule without a warehouse is the SKU's default for every position
    that has no rule of its own."""

    product = models.ForeignKey("orders.Product", on_delete=models.CASCADE, related_name="reorder_rules")
    warehouse = models.ForeignKey(
        "inventory.Warehouse",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="reorder_rules",
        help_text="Blank: the default for every warehouse of the SKU without a rule of its own.",
    )
    reorder_point = models.PositiveIntegerField()
    order_up_to = models.PositiveIntegerField()
    min_order_qty = models.PositiveIntegerField(default=1)
    order_multiple = models.PositiveIntegerField(default=1, help_text="Order in whole packs of this many.")
    lead_time_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Blank: the supplier's or the production site's."
    )
    review_period_days = models.PositiveSmallIntegerField(default=1)
    source = models.CharField(max_length=12, choices=Source.choices)
    supplier = models.ForeignKey(Supplier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    production_site = models.ForeignKey(
        ProductionSite, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    source_warehouse = models.ForeignKey(
        "inventory.Warehouse", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    covers_backorders = models.BooleanField(
        default=False,
        help_text="This warehouse's position carries the SKU's backorders (else the first warehouse, by "
        "id, that buys or makes it).",
    )
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["product", "warehouse"], name="reorder_rule_per_position"),
            models.UniqueConstraint(
                fields=["product"], condition=Q(warehouse__isnull=True), name="reorder_rule_default_per_sku"
            ),
            models.CheckConstraint(
                condition=Q(order_up_to__gte=models.F("reorder_point")), name="reorder_rule_up_to_above_point"
            ),
            models.CheckConstraint(
                condition=Q(order_multiple__gte=1) & Q(min_order_qty__gte=1), name="reorder_rule_quantities"
            ),
            models.CheckConstraint(
                condition=(
                    Q(
                        source="supplier",
                        supplier__isnull=False,
                        production_site__isnull=True,
                        source_warehouse__isnull=True,
                    )
                    | Q(
                        source="production",
                        production_site__isnull=False,
                        supplier__isnull=True,
                        source_warehouse__isnull=True,
                    )
                    | Q(
                        source="transfer",
                        source_warehouse__isnull=False,
                        supplier__isnull=True,
                        production_site__isnull=True,
                    )
                ),
                name="reorder_rule_one_source",
            ),
            models.CheckConstraint(
                condition=~Q(covers_backorders=True, warehouse__isnull=True),
                name="reorder_rule_backorders_at_a_warehouse",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product} at {self.warehouse or 'every warehouse'}"


class PurchaseOrderStatus(models.TextChoices):
    DRAFT = "draft", "Draft"  # approved suggestions gathered, not sent yet
    SENT = "sent", "Sent"  # on order
    PARTIALLY_RECEIVED = "partially_received", "Partially received"
    RECEIVED = "received", "Received"
    CANCELLED = "cancelled", "Cancelled"


PURCHASE_ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    PurchaseOrderStatus.DRAFT: frozenset({PurchaseOrderStatus.SENT, PurchaseOrderStatus.CANCELLED}),
    PurchaseOrderStatus.SENT: frozenset(
        {PurchaseOrderStatus.PARTIALLY_RECEIVED, PurchaseOrderStatus.RECEIVED, PurchaseOrderStatus.CANCELLED}
    ),
    PurchaseOrderStatus.PARTIALLY_RECEIVED: frozenset({PurchaseOrderStatus.RECEIVED}),
    PurchaseOrderStatus.RECEIVED: frozenset(),
    PurchaseOrderStatus.CANCELLED: frozenset(),
}


class PurchaseOrder(models.Model):
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="purchase_orders")
    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=20, choices=PurchaseOrderStatus.choices, default=PurchaseOrderStatus.DRAFT
    )
    expected_date = models.DateField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    emailed_to = models.EmailField(blank=True, help_text="Where the order was e-mailed, once sent.")
    emailed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["status", "-id"], name="purchase_order_status_recent")]

    def __str__(self) -> str:
        return f"PO-{self.pk:06d}" if self.pk else "(unsaved)"


class PurchaseOrderLine(models.Model):
    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("orders.Product", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    received_quantity = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(received_quantity__lte=models.F("quantity")),
                name="po_line_received_at_most_ordered",
            )
        ]
        indexes = [models.Index(fields=["product"], name="po_line_product")]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product} on {self.purchase_order}"


class ProductionOrderStatus(models.TextChoices):
    PLANNED = "planned", "Planned"  # approved, waiting for a slot
    SCHEDULED = "scheduled", "Scheduled"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


PRODUCTION_ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    ProductionOrderStatus.PLANNED: frozenset(
        {ProductionOrderStatus.SCHEDULED, ProductionOrderStatus.CANCELLED}
    ),
    ProductionOrderStatus.SCHEDULED: frozenset(
        {
            ProductionOrderStatus.SCHEDULED,  # moved to other days when the site's plan changes
            ProductionOrderStatus.PLANNED,  # pushed past the planning horizon
            ProductionOrderStatus.IN_PROGRESS,
            ProductionOrderStatus.CANCELLED,
        }
    ),
    ProductionOrderStatus.IN_PROGRESS: frozenset({ProductionOrderStatus.DONE}),
    ProductionOrderStatus.DONE: frozenset(),
    ProductionOrderStatus.CANCELLED: frozenset(),
}


class ProductionOrder(models.Model):
    site = models.ForeignKey(ProductionSite, on_delete=models.PROTECT, related_name="orders")
    product = models.ForeignKey("orders.Product", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    produced_quantity = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=12, choices=ProductionOrderStatus.choices, default=ProductionOrderStatus.PLANNED
    )
    due_date = models.DateField(null=True, blank=True)
    scheduled_date = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"MO-{self.pk:06d}" if self.pk else "(unsaved)"

    @property
    def is_late(self) -> bool:
        return bool(self.scheduled_date and self.due_date and self.scheduled_date > self.due_date)


class ProductionSlot(models.Model):
    """Units of a production order made on one day at its site: the schedule. The scheduler rewrites
    the slots of orders not started yet; an order in progress keeps its own."""

    production_order = models.ForeignKey(ProductionOrder, on_delete=models.CASCADE, related_name="slots")
    site = models.ForeignKey(ProductionSite, on_delete=models.CASCADE, related_name="slots")
    day = models.DateField()
    units = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["production_order", "day"], name="production_slot_per_day"),
            models.CheckConstraint(condition=Q(units__gte=1), name="production_slot_units"),
        ]
        indexes = [models.Index(fields=["site", "day"], name="production_slot_site_day")]

    def __str__(self) -> str:
        return f"{self.units} of {self.production_order} on {self.day}"


class SuggestionStatus(models.TextChoices):
    OPEN = "open", "Open"  # the evaluation keeps it current
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    ORDERED = "ordered", "Ordered"  # became a purchase, transfer or production order
    WITHDRAWN = "withdrawn", "Withdrawn"  # the need went away before anyone acted


class SuggestionKind(models.TextChoices):
    PURCHASE = "purchase", "Purchase"
    TRANSFER = "transfer", "Transfer"
    PRODUCTION = "production", "Production"


class Suggestion(models.Model):
    """What the evaluation proposes for one stock position, with the numbers behind it. At most one is
    open per position (a partial unique index): the evaluation updates it in place."""

    position = models.ForeignKey("inventory.StockPosition", on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(ReorderRule, on_delete=models.CASCADE, related_name="suggestions")
    kind = models.CharField(max_length=12, choices=SuggestionKind.choices)
    quantity = models.PositiveIntegerField()
    status = models.CharField(max_length=12, choices=SuggestionStatus.choices, default=SuggestionStatus.OPEN)
    supplier = models.ForeignKey(Supplier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    production_site = models.ForeignKey(
        ProductionSite, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    source_warehouse = models.ForeignKey(
        "inventory.Warehouse", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    explanation = models.JSONField(default=dict, help_text="The figures behind the quantity.")
    decided_by = models.CharField(max_length=120, blank=True)
    purchase_order_line = models.ForeignKey(
        PurchaseOrderLine, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    transfer = models.ForeignKey(
        "inventory.Transfer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    production_order = models.ForeignKey(
        ProductionOrder, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["position"], condition=Q(status="open"), name="one_open_suggestion_per_position"
            )
        ]
        indexes = [models.Index(fields=["status", "-id"], name="suggestion_status_recent")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.quantity} for position {self.position_id}"
