"""Warehouses, stock positions per (warehouse, product) and the stock ledger.

``on_hand`` of a position is always the sum of its ledger's quantities; database constraints keep
``0 <= allocated <= on_hand`` whatever the code does.
"""

from django.db import models
from django.db.models import F, Q

from orders.models import Product


class WarehouseKind(models.TextChoices):
    WAREHOUSE = "warehouse", "Warehouse"  # a distribution centre
    STORE = "store", "Store"  # a shop that also ships or serves pick-up
    DARK_STORE = "dark_store", "Dark store"  # a closed-to-public store for quick delivery
    PRODUCTION = "production", "Production site"  # ships what it makes


class Warehouse(models.Model):
    code = models.SlugField(max_length=20, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=WarehouseKind.choices, default=WarehouseKind.WAREHOUSE)
    line1 = models.CharField(max_length=200)
    city = models.CharField(max_length=120)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2.")
    latitude = models.DecimalField(max_digits=9, decimal_places=6)
    longitude = models.DecimalField(max_digits=9, decimal_places=6)
    time_zone = models.CharField(max_length=64, default="UTC")
    cutoff_time = models.TimeField(
        null=True, blank=True, help_text="Orders after this local time ship next day."
    )
    capacity_per_day = models.PositiveIntegerField(
        null=True, blank=True, help_text="Orders it can ship a day."
    )
    is_active = models.BooleanField(default=True)
    accepts_returns = models.BooleanField(
        default=True, help_text="Customers' returns may be sent here (for the SKUs it stocks)."
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class BinLocation(models.Model):
    """A place inside a warehouse (aisle-rack-shelf), what the brief calls ``warehouse_location``."""

    warehouse = models.ForeignKey(Warehouse, on_delete=models.CASCADE, related_name="bins")
    code = models.CharField(max_length=32, help_text="e.g. A-03-2; pickers walk bins in code order.")

    class Meta:
        ordering = ["warehouse_id", "code"]
        constraints = [models.UniqueConstraint(fields=["warehouse", "code"], name="binlocation_unique")]

    def __str__(self) -> str:
        return f"{self.warehouse_id}:{self.code}"


class StockPosition(models.Model):
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="positions")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="stock_positions")
    on_hand = models.IntegerField(default=0)
    allocated = models.IntegerField(default=0, help_text="Promised to orders, not yet shipped.")
    in_transit = models.IntegerField(default=0, help_text="On its way in (transfers, purchase orders).")
    safety_stock = models.IntegerField(default=0, help_text="Kept back from what channels may sell.")
    default_bin = models.ForeignKey(
        BinLocation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["warehouse", "product"], name="stockposition_unique"),
            models.CheckConstraint(
                condition=Q(allocated__gte=0) & Q(allocated__lte=F("on_hand")),
                name="stockposition_allocated_within_on_hand",
            ),
            models.CheckConstraint(
                condition=Q(in_transit__gte=0) & Q(safety_stock__gte=0), name="stockposition_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}@{self.warehouse_id}"

    @property
    def available(self) -> int:
        return max(self.on_hand - self.allocated - self.safety_stock, 0)


class Lot(models.Model):
    """A batch of a lot-tracked product in one position; the position's figures are the sum of its lots."""

    position = models.ForeignKey(StockPosition, on_delete=models.PROTECT, related_name="lots")
    code = models.CharField(max_length=64)
    expiry_date = models.DateField(null=True, blank=True)
    bin = models.ForeignKey(
        BinLocation, null=True, blank=True, on_delete=models.SET_NULL, related_name="lots"
    )
    on_hand = models.IntegerField(default=0)
    allocated = models.IntegerField(default=0)

    class Meta:
        ordering = ["expiry_date", "id"]
        constraints = [
            models.UniqueConstraint(fields=["position", "code"], name="lot_unique_per_position"),
            models.CheckConstraint(
                condition=Q(allocated__gte=0) & Q(allocated__lte=F("on_hand")),
                name="lot_allocated_within_on_hand",
            ),
        ]

    def __str__(self) -> str:
        return f"lot {self.code} (exp. {self.expiry_date})"


class MovementKind(models.TextChoices):
    RECEIPT = "receipt", "Receipt"  # goods received from a supplier
    ADJUSTMENT = "adjustment", "Adjustment"  # a correction with a reason
    COUNT = "count", "Cycle count"  # a count replaced the figure
    ALLOCATION = "allocation", "Allocation"  # promised to an order line
    RELEASE = "release", "Release"  # a promise withdrawn
    SHIPMENT = "shipment", "Shipment"  # left the warehouse
    RETURN_RESTOCK = "return_restock", "Return restock"  # a return put back on the shelf
    TRANSFER_OUT = "transfer_out", "Transfer out"  # left for another warehouse
    TRANSFER_IN = "transfer_in", "Transfer in"  # arrived from another warehouse


class ReferenceType(models.TextChoices):
    ORDER_LINE = "order_line", "Order line"  # an allocation, release or shipment for an order line
    RETURN = "return", "Return"  # a returned unit put back
    TRANSFER = "transfer", "Transfer"  # goods moving between warehouses
    PURCHASE_ORDER = "purchase_order", "Purchase order"  # goods received from a supplier
    PRODUCTION_ORDER = "production_order", "Production order"  # goods made at a production site
    IMPORT = "import", "Import batch"  # a receipt, adjustment or count from an integration or a file
    MANUAL = "manual", "Manual"  # typed in by ops
    OPENING = "opening", "Opening stock"  # the first figures of a new position


class StockMovement(models.Model):
    """Append-only ledger row: ``quantity`` changes on_hand, ``allocated_delta`` changes allocated,
    ``in_transit_delta`` changes what is on its way in."""

    position = models.ForeignKey(StockPosition, on_delete=models.PROTECT, related_name="movements")
    lot = models.ForeignKey(Lot, null=True, blank=True, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(max_length=16, choices=MovementKind.choices)
    quantity = models.IntegerField(default=0)
    allocated_delta = models.IntegerField(default=0)
    in_transit_delta = models.IntegerField(default=0)
    reason = models.CharField(max_length=200, blank=True)
    reference_type = models.CharField(
        max_length=16, choices=ReferenceType.choices, default=ReferenceType.MANUAL
    )
    reference = models.CharField(max_length=100, blank=True, help_text="The referenced row's id.")
    actor = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["position", "id"], name="stockmovement_position")]

    def __str__(self) -> str:
        return f"{self.kind} {self.quantity:+d}"


class AllocationStatus(models.TextChoices):
    ACTIVE = "active", "Active"  # stock promised to the line, still on the shelf
    RELEASED = "released", "Released"  # the promise was withdrawn (cancel, re-route, edit)
    SHIPPED = "shipped", "Shipped"  # the units left with the line's shipment


class Allocation(models.Model):
    """Units of one order line promised from one position (and lot, where lot-tracked)."""

    order_line = models.ForeignKey("orders.OrderLine", on_delete=models.PROTECT, related_name="allocations")
    position = models.ForeignKey(StockPosition, on_delete=models.PROTECT, related_name="allocations")
    lot = models.ForeignKey(Lot, null=True, blank=True, on_delete=models.PROTECT, related_name="allocations")
    quantity = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16, choices=AllocationStatus.choices, default=AllocationStatus.ACTIVE
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["order_line", "status"], name="allocation_line_status")]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="allocation_quantity_positive")
        ]

    def __str__(self) -> str:
        return f"{self.quantity} for line {self.order_line_id} from {self.position_id}"


class TransferStatus(models.TextChoices):
    PLANNED = "planned", "Planned"  # agreed; nothing has moved, the source's stock is still free
    IN_TRANSIT = "in_transit", "In transit"  # left the source, counted as in transit at the destination
    RECEIVED = "received", "Received"  # arrived and added to the destination's stock
    CANCELLED = "cancelled", "Cancelled"  # dropped before it was sent


TRANSFER_TRANSITIONS: dict[str, frozenset[str]] = {
    TransferStatus.PLANNED: frozenset({TransferStatus.IN_TRANSIT, TransferStatus.CANCELLED}),
    TransferStatus.IN_TRANSIT: frozenset({TransferStatus.RECEIVED}),
    TransferStatus.RECEIVED: frozenset(),
    TransferStatus.CANCELLED: frozenset(),
}


class Transfer(models.Model):
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="transfers")
    from_warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="transfers_out")
    to_warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="transfers_in")
    quantity = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16, choices=TransferStatus.choices, default=TransferStatus.IN_TRANSIT
    )
    actor = models.CharField(max_length=120, help_text="Who planned it.")
    created_at = models.DateTimeField(auto_now_add=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    shipped_by = models.CharField(max_length=120, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    received_by = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "-id"], name="transfer_status_recent")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_warehouse=F("to_warehouse")), name="transfer_between_two"
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="transfer_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"transfer {self.pk}: {self.quantity} x {self.product_id}"


class WarehouseDayLoad(models.Model):
    """How many orders a warehouse was given stock for on a day: what its daily capacity is held against."""

    warehouse = models.ForeignKey(Warehouse, on_delete=models.CASCADE, related_name="day_loads")
    day = models.DateField()
    orders = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["warehouse", "day"], name="warehousedayload_unique")]

    def __str__(self) -> str:
        return f"{self.warehouse_id} {self.day}: {self.orders}"
