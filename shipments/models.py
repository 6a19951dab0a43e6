"""Fulfilment after allocation: pick lists released in waves, packages, shipments with their labels,
and the carriers (with their services) that carry them.

A pick list line points at the allocation it picks, a package line at the order line it holds, and a
shipment groups one or more packages of one order leaving one warehouse with one carrier service.
"""

from django.db import models
from django.db.models import Q

from orders.models import ServiceLevel


class CarrierAdapter(models.TextChoices):
    SANDBOX = "sandbox", "Sandbox (offline, scripted)"  # the built-in carrier the demo and tests use
    EASYPOST = "easypost", "EasyPost (multi-carrier API)"  # real labels through api.easypost.com


class Carrier(models.Model):
    """A carrier account. Its secret never lives in the database: ``credentials_env`` names the
    environment variable (or secret mount) that holds it."""

    code = models.SlugField(max_length=30, unique=True)
    name = models.CharField(max_length=120)
    adapter = models.CharField(max_length=16, choices=CarrierAdapter.choices)
    credentials_env = models.CharField(
        max_length=64,
        blank=True,
        help_text="Name of the environment variable holding the API key, e.g. EASYPOST_API_KEY.",
    )
    options = models.JSONField(
        default=dict,
        blank=True,
        help_text=(
            "Adapter options. Sandbox: {'hours': [...], 'failed_attempt_every': N, 'exception_every': N}; "
            "EasyPost: {'label_format': 'PDF'}."
        ),
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class CarrierService(models.Model):
    """One service of a carrier (e.g. USPS Priority) and the channel service level it fulfils."""

    carrier = models.ForeignKey(Carrier, on_delete=models.PROTECT, related_name="services")
    code = models.CharField(max_length=64, help_text="The carrier's own service code, e.g. Priority.")
    carrier_name = models.CharField(
        max_length=64,
        blank=True,
        help_text="For multi-carrier gateways: which carrier's rate to buy, e.g. USPS.",
    )
    name = models.CharField(max_length=120)
    service_level = models.CharField(
        max_length=16,
        choices=ServiceLevel.choices,
        help_text="Orders with this service level ship with this service by default.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["carrier__code", "code"]
        constraints = [
            models.UniqueConstraint(fields=["carrier", "code", "carrier_name"], name="carrierservice_unique")
        ]

    def __str__(self) -> str:
        return f"{self.carrier.name} {self.name}"


class PickListStatus(models.TextChoices):
    OPEN = "open", "Open"  # released to the floor, waiting to be picked
    DONE = "done", "Done"  # the picker confirmed what was found
    CANCELLED = "cancelled", "Cancelled"  # withdrawn before picking; its allocations can be picked again


PICK_LIST_TRANSITIONS: dict[str, frozenset[str]] = {
    PickListStatus.OPEN: frozenset({PickListStatus.DONE, PickListStatus.CANCELLED}),
    PickListStatus.DONE: frozenset(),
    PickListStatus.CANCELLED: frozenset(),
}


class PickList(models.Model):
    """One wave's work for one warehouse, lines sorted so that a picker walks the bins once."""

    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.PROTECT, related_name="pick_lists")
    status = models.CharField(max_length=16, choices=PickListStatus.choices, default=PickListStatus.OPEN)
    released_by = models.CharField(max_length=120)
    released_at = models.DateTimeField(auto_now_add=True)
    confirmed_by = models.CharField(max_length=120, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["warehouse", "status"], name="picklist_warehouse_status")]

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"PL-{self.pk:06d}" if self.pk else "PL-(new)"


class PickLineStatus(models.TextChoices):
    OPEN = "open", "Open"  # to be picked
    PICKED = "picked", "Picked"  # confirmed; qty_picked says how many were found
    CANCELLED = "cancelled", "Cancelled"  # its list was cancelled


class PickListLine(models.Model):
    pick_list = models.ForeignKey(PickList, on_delete=models.CASCADE, related_name="lines")
    allocation = models.ForeignKey("inventory.Allocation", on_delete=models.PROTECT, related_name="+")
    order_line = models.ForeignKey("orders.OrderLine", on_delete=models.PROTECT, related_name="+")
    sku = models.CharField(max_length=64)
    bin_code = models.CharField(max_length=32, blank=True, help_text="Empty: the product has no bin yet.")
    lot_code = models.CharField(max_length=64, blank=True)
    lot_expiry = models.DateField(null=True, blank=True)
    quantity = models.PositiveIntegerField()
    qty_picked = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=PickLineStatus.choices, default=PickLineStatus.OPEN)

    class Meta:
        # the walk order: bins in code order (no bin last), then SKU, then order
        ordering = ["pick_list_id", "bin_code", "sku", "order_line_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["allocation"],
                condition=~Q(status="cancelled"),
                name="picklistline_allocation_once",
            ),
            models.CheckConstraint(
                condition=Q(qty_picked__isnull=True) | Q(qty_picked__lte=models.F("quantity")),
                name="picklistline_picked_within_quantity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku} @ {self.bin_code or '-'}"

    @property
    def short(self) -> int:
        return self.quantity - (self.qty_picked or 0) if self.status == PickLineStatus.PICKED else 0


class ShipmentStatus(models.TextChoices):
    DRAFT = "draft", "Draft"  # packages chosen, no label yet
    LABEL_PENDING = "label_pending", "Label pending"  # a purchase is under way or its outcome is unknown
    LABEL_PURCHASED = "label_purchased", "Label purchased"  # labels printed, waiting for the carrier
    SHIPPED = "shipped", "Handed to the carrier"  # shipped: the carrier has it; tracking takes over
    DELIVERED = "delivered", "Delivered"  # the carrier delivered every package
    CANCELLED = "cancelled", "Cancelled"  # abandoned before shipping (its labels voided)


SHIPMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    ShipmentStatus.DRAFT: frozenset({ShipmentStatus.LABEL_PENDING, ShipmentStatus.CANCELLED}),
    ShipmentStatus.LABEL_PENDING: frozenset(
        {ShipmentStatus.LABEL_PURCHASED, ShipmentStatus.DRAFT, ShipmentStatus.LABEL_PENDING}
    ),
    ShipmentStatus.LABEL_PURCHASED: frozenset({ShipmentStatus.SHIPPED, ShipmentStatus.CANCELLED}),
    ShipmentStatus.SHIPPED: frozenset({ShipmentStatus.DELIVERED}),
    ShipmentStatus.DELIVERED: frozenset(),
    ShipmentStatus.CANCELLED: frozenset(),
}


class ShipmentDirection(models.TextChoices):
    OUTBOUND = "outbound", "To the customer"  # the order's goods on their way out
    RETURN = "return", "Back from the customer"  # a return label: the customer sends goods back


class Shipment(models.Model):
    """Packages of one order leaving one warehouse with one carrier service, or, for a return, coming
    back to it (``warehouse`` is then where the parcel goes)."""

    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="shipments")
    direction = models.CharField(
        max_length=8, choices=ShipmentDirection.choices, default=ShipmentDirection.OUTBOUND
    )
    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.PROTECT, related_name="shipments")
    service = models.ForeignKey(CarrierService, on_delete=models.PROTECT, related_name="shipments")
    status = models.CharField(max_length=16, choices=ShipmentStatus.choices, default=ShipmentStatus.DRAFT)
    tracking_number = models.CharField(max_length=64, blank=True, help_text="The first package's.")
    cost = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    estimated_delivery = models.DateField(null=True, blank=True, help_text="The carrier's estimate.")
    label_error = models.TextField(blank=True, help_text="Why the last label purchase failed.")
    shipped_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["warehouse", "status"], name="shipment_warehouse_status"),
            models.Index(fields=["tracking_number"], name="shipment_tracking_number"),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        """Ours, sent to the carrier with every call about this shipment."""
        return f"SH-{self.pk:07d}" if self.pk else "SH-(new)"


class Package(models.Model):
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="packages")
    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.PROTECT, related_name="packages")
    shipment = models.ForeignKey(
        Shipment, null=True, blank=True, on_delete=models.SET_NULL, related_name="packages"
    )
    weight_grams = models.PositiveIntegerField()
    length_mm = models.PositiveIntegerField()
    width_mm = models.PositiveIntegerField()
    height_mm = models.PositiveIntegerField()
    carrier_parcel_id = models.CharField(
        max_length=80,
        blank=True,
        help_text="The carrier's id for this parcel, stored before buying so that a retry never buys twice.",
    )
    tracking_number = models.CharField(max_length=64, blank=True)
    packed_by = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(weight_grams__gt=0, length_mm__gt=0, width_mm__gt=0, height_mm__gt=0),
                name="package_measured",
            )
        ]

    def __str__(self) -> str:
        return f"package {self.pk} of order {self.order_id}"


class PackageLine(models.Model):
    package = models.ForeignKey(Package, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey("orders.OrderLine", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["package", "order_line"], name="packageline_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="packageline_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of line {self.order_line_id} in package {self.package_id}"


class LabelFormat(models.TextChoices):
    PDF = "pdf", "PDF 4x6 in"
    ZPL = "zpl", "ZPL (thermal printers)"
    PNG = "png", "PNG"


class LabelSource(models.TextChoices):
    GENERATED = "generated", "Generated by the OMS"  # drawn here from the shipment's data
    CARRIER = "carrier", "From the carrier"  # the carrier's own file, stored as received


class Label(models.Model):
    package = models.ForeignKey(Package, on_delete=models.CASCADE, related_name="labels")
    format = models.CharField(max_length=8, choices=LabelFormat.choices)
    source = models.CharField(max_length=16, choices=LabelSource.choices)
    content = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["package", "format"], name="label_one_per_format")]

    def __str__(self) -> str:
        return f"{self.format} label of package {self.package_id}"


class ShipmentEvent(models.Model):
    """Append-only history of a shipment: status changes and carrier calls, with who and why."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=16, blank=True, choices=ShipmentStatus.choices)
    to_status = models.CharField(max_length=16, blank=True, choices=ShipmentStatus.choices)
    actor = models.CharField(max_length=120)
    note = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.shipment_id}: {self.from_status} -> {self.to_status}"


class CarrierCallOutcome(models.TextChoices):
    OK = "ok", "Answered"  # the carrier answered with what was asked
    REFUSED = "refused", "Refused"  # the carrier answered with an error; nothing was bought
    UNKNOWN = "unknown", "No answer"  # timeout or broken connection: the outcome is not known


class CarrierCall(models.Model):
    """Every call to a carrier, for support and to prove that nothing was bought twice."""

    carrier = models.ForeignKey(Carrier, on_delete=models.PROTECT, related_name="calls")
    shipment = models.ForeignKey(
        Shipment, null=True, blank=True, on_delete=models.SET_NULL, related_name="carrier_calls"
    )
    operation = models.CharField(max_length=16)
    outcome = models.CharField(max_length=16, choices=CarrierCallOutcome.choices)
    detail = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.operation} {self.outcome}"


class WaveSchedule(models.Model):
    """Release a wave for a warehouse every N minutes (the beat job checks each minute)."""

    warehouse = models.OneToOneField(
        "inventory.Warehouse", on_delete=models.CASCADE, related_name="wave_schedule"
    )
    every_minutes = models.PositiveIntegerField(default=60)
    max_orders = models.PositiveIntegerField(default=50, help_text="Orders per wave.")
    is_active = models.BooleanField(default=True)
    last_released_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"waves every {self.every_minutes} min at {self.warehouse_id}"
