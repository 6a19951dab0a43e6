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

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class StockPosition(models.Model):
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="positions")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="stock_positions")
    on_hand = models.IntegerField(default=0)
    allocated = models.IntegerField(default=0, help_text="Promised to orders, not yet shipped.")
    in_transit = models.IntegerField(default=0, help_text="On its way in (transfers, purchase orders).")
    safety_stock = models.IntegerField(default=0, help_text="Kept back from what channels may sell.")
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


class StockMovement(models.Model):
    """Append-only ledger row: ``quantity`` changes on_hand, ``allocated_delta`` changes allocated."""

    position = models.ForeignKey(StockPosition, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(max_length=16, choices=MovementKind.choices)
    quantity = models.IntegerField(default=0)
    allocated_delta = models.IntegerField(default=0)
    reason = models.CharField(max_length=200, blank=True)
    reference = models.CharField(max_length=100, blank=True, help_text="e.g. order-line:12, import:7.")
    actor = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["position", "id"], name="stockmovement_position")]

    def __str__(self) -> str:
        return f"{self.kind} {self.quantity:+d}"
