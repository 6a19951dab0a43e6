"""Every write to stock. Each change of on_hand, allocated or in_transit is a ledger row written in
the same transaction, so the figures are always the sum of their ledger.

Locking: a service that touches several stock rows locks them with ``select_for_update`` ordered by
primary key (positions first, then lots), after the order row where there is one. Every path takes
locks in that order, so concurrent allocations queue instead of deadlocking, and no decision is made
on figures another transaction could change meanwhile.
"""

from inventory.services.common import ALLOCATABLE_STATUSES, FULFILMENT_STATUSES, positions_ensure
from inventory.services.levels import stock_adjust, stock_receive
from inventory.services.promises import (
    AllocationOutcome,
    PlannedPick,
    StockBook,
    day_loads_count,
    stock_allocate,
    stock_lock_for_orders,
    stock_release,
    stock_release_units,
    stock_ship,
    stock_ship_lines,
    stock_short_pick,
)
from inventory.services.transfers import (
    backorders_fill,
    transfer_cancel,
    transfer_create,
    transfer_plan,
    transfer_receive,
    transfer_request,
    transfer_ship,
)

__all__ = [
    "ALLOCATABLE_STATUSES",
    "FULFILMENT_STATUSES",
    "AllocationOutcome",
    "PlannedPick",
    "StockBook",
    "backorders_fill",
    "day_loads_count",
    "positions_ensure",
    "stock_adjust",
    "stock_allocate",
    "stock_lock_for_orders",
    "stock_receive",
    "stock_release",
    "stock_release_units",
    "stock_ship",
    "stock_ship_lines",
    "stock_short_pick",
    "transfer_cancel",
    "transfer_create",
    "transfer_plan",
    "transfer_receive",
    "transfer_request",
    "transfer_ship",
]
