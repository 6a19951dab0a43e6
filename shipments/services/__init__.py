"""Every write of fulfilment: waves of pick lists, pick confirmation (with short picks sent back to
routing), packing, shipments, label purchase through the carrier adapters, and hand-over.

Carrier calls never run inside a database transaction: a slow carrier must not hold row locks. A
label purchase therefore commits in steps - the shipment is marked ``label_pending``, the carrier's
parcel id is stored as soon as the carrier gives it, and the purchase is stored when it comes back -
so that a timeout leaves a shipment that can be retried, and the retry asks the carrier before it
buys (see ``shipments.carriers.base``).
"""

from shipments.services.changes import order_fulfilment_withdraw, warehouse_reject_order
from shipments.services.picking import (
    PICKABLE_ORDER_STATUSES,
    packable_units,
    package_create,
    package_pack,
    pick_list_cancel,
    pick_list_confirm,
    pick_lists_for_orders,
    wave_release,
    waves_release_due,
)
from shipments.services.shipping import (
    LABEL_ATTEMPT_TIMEOUT,
    default_return_service,
    default_service_for,
    label_of,
    return_shipment_create,
    return_shipment_progress,
    shipment_buy_labels,
    shipment_cancel,
    shipment_create,
    shipment_hand_over,
    shipment_mark_delivered,
)

__all__ = [
    "LABEL_ATTEMPT_TIMEOUT",
    "PICKABLE_ORDER_STATUSES",
    "default_return_service",
    "default_service_for",
    "label_of",
    "order_fulfilment_withdraw",
    "packable_units",
    "package_create",
    "package_pack",
    "pick_list_cancel",
    "pick_list_confirm",
    "pick_lists_for_orders",
    "return_shipment_create",
    "return_shipment_progress",
    "shipment_buy_labels",
    "shipment_cancel",
    "shipment_create",
    "shipment_hand_over",
    "shipment_mark_delivered",
    "warehouse_reject_order",
    "wave_release",
    "waves_release_due",
]
