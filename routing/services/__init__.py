"""Routing writes: publishing rule sets, and routing an order (snapshot -> engine -> reservation ->
decision with its trace) in one transaction."""

from routing.services.dry_run import DryRunReport, PlanSummary, rule_set_dry_run
from routing.services.editing import order_edit
from routing.services.routing import (
    ACTOR,
    MAX_ATTEMPTS,
    ROUTABLE,
    ROUTING_BATCH,
    backorders_route,
    order_reroute,
    orders_route,
    route_order,
    routing_enabled,
)
from routing.services.rule_sets import (
    rule_set_draft_from,
    rule_set_in_force,
    rule_set_publish,
    rule_set_record_edit,
    rule_set_warehouses,
    rules_of,
)
from routing.services.snapshot import SHIPPING_QUOTERS, snapshot

__all__ = [
    "ACTOR",
    "MAX_ATTEMPTS",
    "ROUTABLE",
    "ROUTING_BATCH",
    "SHIPPING_QUOTERS",
    "DryRunReport",
    "PlanSummary",
    "backorders_route",
    "order_edit",
    "order_reroute",
    "orders_route",
    "route_order",
    "routing_enabled",
    "rule_set_draft_from",
    "rule_set_dry_run",
    "rule_set_in_force",
    "rule_set_publish",
    "rule_set_record_edit",
    "rule_set_warehouses",
    "rules_of",
    "snapshot",
]
