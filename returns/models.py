"""Returns (RMA): the channel's policy and reason codes, return requests with their lines, what was
received and decided per unit, the credit, and the append-only history.

Tables and constraints only: every write goes through ``returns.services``.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q


class ReturnPolicy(models.Model):
    """How a channel takes things back (one without a channel is the default for every channel)."""

    channel = models.OneToOneField(
        "orders.Channel", null=True, blank=True, on_delete=models.CASCADE, related_name="return_policy"
    )
    window_days = models.PositiveSmallIntegerField(default=30, help_text="Days after delivery.")
    restocking_fee_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal(0),
        help_text="Of the goods' value, kept when the customer's reason is not the merchant's fault.",
    )
    refund_shipping = models.BooleanField(
        default=False,
        help_text="Refund the order's shipping when everything comes back for a reason that is the "
        "merchant's fault.",
    )
    auto_approve = models.BooleanField(default=True, help_text="Authorise by the rules below without ops.")
    auto_approve_max_value = models.DecimalField(
        max_digits=14,
        decimal_places=3,
        null=True,
        blank=True,
        help_text="Above this value a person decides; empty: no limit.",
    )
    auto_approve_reasons = models.JSONField(
        default=list, blank=True, help_text="Reason codes approved automatically; empty: every reason."
    )
    auto_approve_max_recent_returns = models.PositiveSmallIntegerField(
        default=3, help_text="A customer with more returns than this in the last 90 days is looked at by ops."
    )
    customer_label_fee = models.DecimalField(
        max_digits=14,
        decimal_places=3,
        default=Decimal(0),
        help_text="Kept from the credit when the customer pays the return shipping (a reason that is not "
        "the merchant's fault) and a return label was issued.",
    )
    return_to = models.CharField(
        max_length=16,
        choices=[
            ("nearest", "Nearest warehouse that takes the SKUs back"),
            ("centre", "The returns centre below"),
        ],
        default="nearest",
    )
    returns_centre = models.ForeignKey(
        "inventory.Warehouse",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Where returns go when the rule says so, or when no warehouse takes the SKUs back.",
    )
    instant_exchange = models.BooleanField(
        default=False,
        help_text="Reserve an exchange's replacement when the return is authorised, not when it arrives.",
    )
    credit_after_inspection = models.BooleanField(
        default=True, help_text="Issue the credit as soon as every unit has its disposition."
    )

    class Meta:
        verbose_name_plural = "return policies"
        constraints = [
            models.UniqueConstraint(
                fields=["channel"], condition=Q(channel__isnull=True), name="returnpolicy_one_default"
            )
        ]

    def __str__(self) -> str:
        return f"Return policy of {self.channel or 'every channel'}"


class ReturnReason(models.Model):
    """Why a customer sends something back; a channel may add its own to the default list."""

    channel = models.ForeignKey(
        "orders.Channel", null=True, blank=True, on_delete=models.CASCADE, related_name="return_reasons"
    )
    code = models.SlugField(max_length=32)
    label = models.CharField(max_length=120)
    merchant_fault = models.BooleanField(
        default=False, help_text="Damaged, wrong item...: the merchant pays the return and no fee is kept."
    )
    needs_note = models.BooleanField(default=False, help_text="The customer must say more (e.g. 'other').")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "code"], name="returnreason_unique"),
            models.UniqueConstraint(
                fields=["code"], condition=Q(channel__isnull=True), name="returnreason_default_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.label


class ReturnStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"  # asked for; waits for authorisation
    AUTHORISED = "authorised", "Authorised"  # may be sent back
    REJECTED = "rejected", "Rejected"  # refused, with a reason the customer sees
    LABEL_ISSUED = "label_issued", "Label issued"  # a return label was bought for it
    IN_TRANSIT = "in_transit", "In transit"  # on its way back
    RECEIVED = "received", "Received"  # arrived at the return location, not inspected yet
    INSPECTED = "inspected", "Inspected"  # every unit has its disposition
    CLOSED = "closed", "Closed"  # credited (or nothing to credit); done
    CANCELLED = "cancelled", "Cancelled"  # withdrawn before it arrived


RETURN_TRANSITIONS: dict[str, frozenset[str]] = {
    ReturnStatus.REQUESTED: frozenset(
        {ReturnStatus.AUTHORISED, ReturnStatus.REJECTED, ReturnStatus.CANCELLED}
    ),
    ReturnStatus.AUTHORISED: frozenset(
        {ReturnStatus.LABEL_ISSUED, ReturnStatus.IN_TRANSIT, ReturnStatus.RECEIVED, ReturnStatus.CANCELLED}
    ),
    ReturnStatus.LABEL_ISSUED: frozenset(
        {ReturnStatus.IN_TRANSIT, ReturnStatus.RECEIVED, ReturnStatus.CANCELLED}
    ),
    ReturnStatus.IN_TRANSIT: frozenset({ReturnStatus.RECEIVED}),
    ReturnStatus.RECEIVED: frozenset({ReturnStatus.INSPECTED}),
    ReturnStatus.INSPECTED: frozenset({ReturnStatus.CLOSED}),
    ReturnStatus.REJECTED: frozenset(),
    ReturnStatus.CLOSED: frozenset(),
    ReturnStatus.CANCELLED: frozenset(),
}

# A return in these statuses still claims its units (they may not be asked for again).
OPEN_STATUSES = frozenset(RETURN_TRANSITIONS) - {ReturnStatus.REJECTED, ReturnStatus.CANCELLED}


class ReturnSource(models.TextChoices):
    CHANNEL = "channel", "Channel API"  # the channel asked through the API
    CUSTOMER = "customer", "Customer (self-service)"  # on the tracking page
    OPS = "ops", "Ops"  # ops on behalf of a customer


class CreditMethod(models.TextChoices):
    REFUND = "refund", "Refund"  # money back the way it was paid
    STORE_CREDIT = "store_credit", "Store credit"  # a balance to spend at the merchant
    EXCHANGE = "exchange", "Exchange"  # a replacement instead of money


class Return(models.Model):
    """A return merchandise authorisation: one customer's units of one or several orders."""

    channel = models.ForeignKey("orders.Channel", on_delete=models.PROTECT, related_name="returns")
    customer = models.ForeignKey("orders.Customer", on_delete=models.PROTECT, related_name="returns")
    status = models.CharField(max_length=16, choices=ReturnStatus.choices, default=ReturnStatus.REQUESTED)
    source = models.CharField(max_length=16, choices=ReturnSource.choices)
    credit_method = models.CharField(max_length=16, choices=CreditMethod.choices, default=CreditMethod.REFUND)
    decision_note = models.CharField(
        max_length=300,
        blank=True,
        help_text="Why it was authorised or rejected (the customer sees a rejection's).",
    )
    policy_verdict = models.JSONField(
        default=dict, blank=True, help_text="What the channel's policy said at request time, and why."
    )
    return_location = models.ForeignKey(
        "inventory.Warehouse", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    replacement_order = models.ForeignKey(
        "orders.Order",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="An exchange's new order for the replacement.",
    )
    shipment = models.OneToOneField(
        "shipments.Shipment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="return_request",
        help_text="The return label's shipment; empty when the customer ships on their own.",
    )
    counted_at = models.DateTimeField(
        null=True, blank=True, help_text="When the warehouse counted what came back, line by line."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["status", "-id"], name="return_status_recent")]

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"RMA-{self.pk:07d}" if self.pk else "(unsaved)"


class ReturnLine(models.Model):
    """Units of one order line asked back, and what came back of them."""

    ret = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey("orders.OrderLine", on_delete=models.PROTECT, related_name="return_lines")
    quantity = models.PositiveIntegerField()
    reason = models.ForeignKey(ReturnReason, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=500, blank=True)
    received_quantity = models.PositiveIntegerField(default=0)
    exchange_product = models.ForeignKey(
        "orders.Product",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="For an exchange: what the customer gets instead (the same SKU when empty).",
    )

    class Meta:
        ordering = ["ret_id", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="returnline_quantity_positive"),
            models.UniqueConstraint(fields=["ret", "order_line"], name="returnline_once_per_line"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of order line {self.order_line_id}"


class Disposition(models.TextChoices):
    RESTOCK = "restock", "Restock"  # back on a shelf, sellable (through the stock ledger)
    REFURBISH = "refurbish", "Refurbish"  # to be repaired or repacked before it is sold again
    QUARANTINE = "quarantine", "Quarantine"  # held apart until someone decides
    SCRAP = "scrap", "Scrap"  # thrown away
    RETURN_TO_VENDOR = "return_to_vendor", "Return to vendor"  # sent back to the supplier


class Grade(models.TextChoices):
    NEW = "new", "As new"  # unopened or unworn
    GOOD = "good", "Good"  # opened, sellable
    DAMAGED = "damaged", "Damaged"  # not sellable as it is


class ReturnInspection(models.Model):
    """What was decided for some units that came back: grade and disposition (restocked units name their
    warehouse, bin and lot). Units that match no return line (a wrong item, an extra one) have no line."""

    ret = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="inspections")
    line = models.ForeignKey(
        ReturnLine, null=True, blank=True, on_delete=models.CASCADE, related_name="inspections"
    )
    product = models.ForeignKey("orders.Product", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    grade = models.CharField(max_length=16, choices=Grade.choices)
    disposition = models.CharField(max_length=20, choices=Disposition.choices)
    warehouse = models.ForeignKey(
        "inventory.Warehouse", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    bin_code = models.CharField(max_length=32, blank=True)
    lot_code = models.CharField(max_length=64, blank=True)
    inspected_by = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="returninspection_positive")]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.disposition}"


class Credit(models.Model):
    """What the customer gets back for a return: computed once, never twice (one per return), for a
    payment or ERP integration to carry out."""

    ret = models.OneToOneField(Return, on_delete=models.PROTECT, related_name="credit")
    method = models.CharField(max_length=16, choices=CreditMethod.choices)
    currency = models.CharField(max_length=3)
    goods = models.DecimalField(
        max_digits=14, decimal_places=3, help_text="What the units were paid, tax included."
    )
    shipping = models.DecimalField(max_digits=14, decimal_places=3, default=Decimal(0))
    restocking_fee = models.DecimalField(max_digits=14, decimal_places=3, default=Decimal(0))
    label_fee = models.DecimalField(max_digits=14, decimal_places=3, default=Decimal(0))
    amount = models.DecimalField(
        max_digits=14, decimal_places=3, help_text="goods + shipping - restocking fee - label fee."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(amount__gte=0), name="credit_amount_non_negative")]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} for {self.ret}"


class CreditLine(models.Model):
    """What one return line's units are worth in a credit: the ERP books it per order line."""

    credit = models.ForeignKey(Credit, on_delete=models.CASCADE, related_name="lines")
    line = models.OneToOneField(ReturnLine, on_delete=models.PROTECT, related_name="credit_line")
    order_line = models.ForeignKey("orders.OrderLine", on_delete=models.PROTECT, related_name="+")
    units = models.PositiveIntegerField()
    amount = models.DecimalField(max_digits=14, decimal_places=3)
    restocking_fee = models.DecimalField(max_digits=14, decimal_places=3, default=Decimal(0))

    class Meta:
        ordering = ["credit_id", "id"]

    def __str__(self) -> str:
        return f"{self.units} units, {self.amount}"


class ReturnEvent(models.Model):
    """Append-only history of a return: every status change, who made it and why."""

    ret = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=16, blank=True, choices=ReturnStatus.choices)
    to_status = models.CharField(max_length=16, blank=True, choices=ReturnStatus.choices)
    actor = models.CharField(max_length=120)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.ret_id}: {self.from_status} -> {self.to_status}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("Return events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("Return events are append-only.")
