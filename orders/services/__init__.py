"""Every write to orders, customers, products, channels and API keys.

Each service runs in one transaction: it validates, locks what it changes, saves, and writes the
order's history row and the domain event together, so a failure leaves nothing half-written.
"""

from orders.services.access import (
    API_KEYS,
    KEY_PREFIX,
    api_key_cache_key,
    api_key_create,
    api_key_hash,
    api_key_revoke,
    api_key_touch,
    api_key_update,
    api_keys_forget,
    channel_create,
)
from orders.services.actors import Actor
from orders.services.bulk import orders_act, orders_cancel, orders_hold, orders_release
from orders.services.catalog import ProductInput, products_upsert
from orders.services.customers import customer_resolve
from orders.services.intake import (
    ADDRESS_FIELDS,
    CustomerInput,
    LineInput,
    OrderInput,
    order_create,
    raise_duplicate_external_id,
)
from orders.services.lifecycle import (
    ORDER_EDITORS,
    PROGRESS_STAGES,
    order_cancel,
    order_edit,
    order_ensure_editable,
    order_hold,
    order_lines_record_progress,
    order_lines_save_progress,
    order_lock,
    order_note_add,
    order_release_hold,
    order_transition,
    order_update,
    orders_lock,
    orders_transition,
)

__all__ = [
    "ADDRESS_FIELDS",
    "API_KEYS",
    "KEY_PREFIX",
    "ORDER_EDITORS",
    "PROGRESS_STAGES",
    "Actor",
    "CustomerInput",
    "LineInput",
    "OrderInput",
    "ProductInput",
    "api_key_cache_key",
    "api_key_create",
    "api_key_hash",
    "api_key_revoke",
    "api_key_touch",
    "api_key_update",
    "api_keys_forget",
    "channel_create",
    "customer_resolve",
    "order_cancel",
    "order_create",
    "order_edit",
    "order_ensure_editable",
    "order_hold",
    "order_lines_record_progress",
    "order_lines_save_progress",
    "order_lock",
    "order_note_add",
    "order_release_hold",
    "order_transition",
    "order_update",
    "orders_act",
    "orders_cancel",
    "orders_hold",
    "orders_lock",
    "orders_release",
    "orders_transition",
    "products_upsert",
    "raise_duplicate_external_id",
]
