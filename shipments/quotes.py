"""Carrier quotes for routing: what one parcel of the order would cost from a warehouse, with the
service the order's service level maps to. Cached per lane and weight band, because routing asks
for every candidate warehouse of every order and carriers price lanes, not orders."""

import logging

from django.core.cache import cache

from inventory.models import Warehouse
from orders.models import Order
from shipments.carriers import adapter_for
from shipments.carriers.base import CarrierError, CarrierUnavailable, ParcelRequest
from shipments.services.shipping import _party_of_order, _party_of_warehouse, default_service_for

log = logging.getLogger(__name__)

QUOTE_CACHE_SECONDS = 6 * 3600
WEIGHT_BAND_GRAMS = 500
NO_RATE = "none"  # cached too: a lane the carrier does not serve is not asked again at once
# A typical parcel's size; quotes are by weight band, the label uses the real package's size.
PARCEL_MM = (300, 200, 150)


def quote_for_routing(warehouse: Warehouse, order: Order, weight_grams: int) -> tuple[float, str] | None:
    """(amount, currency) of one parcel of ``weight_grams`` from the warehouse to the order, or None."""
    service = default_service_for(order)
    if service is None:
        return None
    band = max(1, -(-weight_grams // WEIGHT_BAND_GRAMS)) * WEIGHT_BAND_GRAMS
    address = order.shipping_address
    key = ":".join(
        [
            "quote2",  # (amount, currency); "quote" held amounts alone
            str(service.pk),
            str(warehouse.pk),
            address.country,
            address.postal_code.replace(" ", ""),
            str(band),
        ]
    )
    cached = cache.get(key)
    if cached is not None:
        return None if cached == NO_RATE else tuple(cached)
    request = ParcelRequest(
        reference=f"quote {order.number}",
        sender=_party_of_warehouse(warehouse),
        recipient=_party_of_order(order),
        weight_grams=band,
        length_mm=PARCEL_MM[0],
        width_mm=PARCEL_MM[1],
        height_mm=PARCEL_MM[2],
        service_code=service.code,
        carrier_name=service.carrier_name,
    )
    try:
        rates = adapter_for(service.carrier).quote(request)
    except (CarrierError, CarrierUnavailable):
        # Routing goes on without this warehouse's price; the next order asks again.
        log.warning("No quote from %s for %s", service.carrier.code, warehouse.code, exc_info=True)
        return None
    price = next(
        (
            (float(rate.amount), rate.currency)
            for rate in rates
            if rate.service_code == service.code
            and (not service.carrier_name or rate.carrier_name == service.carrier_name)
        ),
        None,
    )
    cache.set(key, NO_RATE if price is None else price, QUOTE_CACHE_SECONDS)
    return price
