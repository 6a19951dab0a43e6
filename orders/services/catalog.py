"""Products, upserted in bulk by SKU."""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from oms.errors import ValidationFailed, merge_errors
from orders.models import (
    Product,
)
from orders.validation import (
    Errors,
    normalize_sku,
)

# ------------------------------------------------------------------------------------------- products


@dataclass(frozen=True)
class ProductInput:
    sku: str
    name: str
    weight_grams: int | None = None
    length_mm: int | None = None
    width_mm: int | None = None
    height_mm: int | None = None
    is_active: bool = True


@transaction.atomic
def products_upsert(*, products: list[ProductInput], extra_errors: Errors | None = None) -> dict[str, int]:
    """Create or update products by SKU in bulk (one statement each for reading, inserting, updating).
    ``extra_errors``: problems the caller found in the request, answered with this check's own."""
    by_sku: dict[str, ProductInput] = {}
    errors: Errors = {}
    for index, item in enumerate(products):
        sku = normalize_sku(item.sku)
        if not sku:
            errors[f"products.{index}.sku"] = ["This field may not be blank."]
        elif sku in by_sku:
            errors[f"products.{index}.sku"] = [f"SKU '{sku}' appears twice in this batch."]
        by_sku[sku] = item
    if errors or extra_errors:
        raise ValidationFailed(
            "Some products are invalid; nothing was saved.", details=merge_errors(extra_errors or {}, errors)
        )
    existing = {p.sku: p for p in Product.objects.select_for_update().filter(sku__in=by_sku)}
    to_create, to_update = [], []
    fields = ["name", "weight_grams", "length_mm", "width_mm", "height_mm", "is_active"]
    now = timezone.now()
    for sku, item in by_sku.items():
        product = existing.get(sku) or Product(sku=sku)
        for name in fields:
            setattr(product, name, getattr(item, name))
        product.updated_at = now
        (to_update if product.pk else to_create).append(product)
    Product.objects.bulk_create(to_create)
    Product.objects.bulk_update(to_update, [*fields, "updated_at"])
    return {"created": len(to_create), "updated": len(to_update)}
