"""Stock pushed to the shops, so that a shop stops selling what we cannot ship.

What a shop may sell of a SKU is what its channel may be promised: the SKU's available units (on
hand, less allocated, less safety stock) in the warehouses the channel's routing rules ship from.
Pushing is debounced by design: the beat compares each mapped SKU's figure with what the shop was
last told and sends only the changed ones, at most once per ``SHOP_STOCK_PUSH_SECONDS`` however many
orders moved it. Nothing is missed (the figure is recomputed, not derived from events) and nothing
is sent twice for nothing. A failed push leaves the old figure recorded, so the next run sends it
again.

Shopify: ``POST inventory_levels/set.json`` (the connection's location, the item's inventory item
id). WooCommerce: ``PUT products/{id}`` or ``PUT products/{id}/variations/{id}`` with
``stock_quantity``."""

import logging

import requests
from django.db.models import F, Sum
from django.db.models.functions import Greatest
from django.utils import timezone

from integrations.models import Platform, ShopConnection, SkuMapping
from integrations.shops.sync import ShopApi, ShopRefused

log = logging.getLogger(__name__)


def channel_available(*, channel_id: int, skus: list[str]) -> dict[str, int]:
    """Per SKU, the units the channel may still sell: never below zero."""
    from inventory.models import StockPosition
    from routing.selectors import channel_warehouse_ids

    positions = StockPosition.objects.filter(product__sku__in=skus, warehouse__is_active=True)
    warehouses = channel_warehouse_ids(channel_id=channel_id)
    if warehouses is not None:
        positions = positions.filter(warehouse_id__in=warehouses)
    rows = positions.values("product__sku").annotate(
        units=Sum(Greatest(F("on_hand") - F("allocated") - F("safety_stock"), 0))
    )
    found = {row["product__sku"]: row["units"] or 0 for row in rows}
    return {sku: found.get(sku, 0) for sku in skus}


class _Link:
    """What ``ShopApi`` needs of a connection."""

    def __init__(self, connection: ShopConnection):
        self.connection = connection


def _push(client: ShopApi, connection: ShopConnection, mapping: SkuMapping, units: int) -> None:
    if connection.platform == Platform.SHOPIFY:
        client.call(
            "POST",
            "inventory_levels/set.json",
            {
                "location_id": int(connection.location_id)
                if connection.location_id.isdigit()
                else connection.location_id,
                "inventory_item_id": int(mapping.stock_ref)
                if mapping.stock_ref.isdigit()
                else mapping.stock_ref,
                "available": units,
            },
        )
        return
    product, _, variation = mapping.stock_ref.partition("/")
    path = f"products/{product}/variations/{variation}" if variation else f"products/{product}"
    client.call("PUT", path, {"manage_stock": True, "stock_quantity": units})


def shop_stock_push(*, connection_id: int, limit: int = 500) -> dict[str, int]:
    """Send one shop the figures that changed since it was last told."""
    connection = ShopConnection.objects.get(pk=connection_id)
    mappings = list(SkuMapping.objects.filter(connection=connection).exclude(stock_ref="").order_by("pk"))
    counts = {"pushed": 0, "unchanged": 0, "failed": 0}
    if not connection.is_active or not connection.push_stock or not mappings:
        return counts
    available = channel_available(channel_id=connection.channel_id, skus=sorted({m.sku for m in mappings}))
    with requests.Session() as session:
        client = ShopApi(_Link(connection), session)
        for mapping in mappings:
            units = available.get(mapping.sku, 0)
            if mapping.pushed_available == units and not mapping.push_error:
                counts["unchanged"] += 1
                continue
            if counts["pushed"] + counts["failed"] >= limit:
                break  # the rest on the next run: a shop's rate limit is per minute
            try:
                _push(client, connection, mapping, units)
            except ShopRefused as exc:
                counts["failed"] += 1
                SkuMapping.objects.filter(pk=mapping.pk).update(push_error=exc.message[:300])
                if exc.status == 429:
                    break  # the shop asks us to slow down: what is left waits for the next run
                continue
            counts["pushed"] += 1
            SkuMapping.objects.filter(pk=mapping.pk).update(
                pushed_available=units, pushed_at=timezone.now(), push_error=""
            )
    if counts["failed"]:
        log.warning("stock push to %s: %s", connection.code, counts)
    return counts


def shop_stock_push_all() -> dict[str, int]:
    """The beat's run: every connected shop that takes our stock."""
    totals = {"pushed": 0, "unchanged": 0, "failed": 0}
    for connection_id in ShopConnection.objects.filter(is_active=True, push_stock=True).values_list(
        "pk", flat=True
    ):
        for name, value in shop_stock_push(connection_id=connection_id).items():
            totals[name] += value
    return totals
