"""The reorder evaluation: every stock position's inventory position and what to order for it, in
SQL over all positions at once (no Python loop over positions), kept as one open suggestion per
position.

inventory position = on hand + in transit + on order - allocated - backorders it carries

* on order: purchase order lines not received yet (drafts included: they are decided), production
  orders not produced yet and transfers planned but not shipped, landing at the position's warehouse,
  plus approved suggestions not yet ordered (shipped transfers are in the position's in-transit);
* backorders: units of waiting order lines (backordered, partially allocated, short in fulfilment)
  of the SKU; they have no warehouse yet, so the SKU's hub carries them: the position whose rule says
  ``covers_backorders``, else the first warehouse (by id) that buys or makes the SKU.

The rule's levels sit on top of the position's safety stock (the units kept back from what channels
may sell): a position whose inventory position is at or below ``reorder_point + safety_stock`` gets
a suggestion of ``order_up_to + safety_stock - inventory position``, at least the rule's minimum,
rounded up to its multiple; a transfer is limited to what its source holds above its own safety
stock and order-up-to level. An open suggestion
whose need went away is withdrawn. See docs/adr/0017-replenishment.md.
"""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from inventory import services as stock
from inventory.models import StockPosition
from oms.events import events_emit, events_insert_sql, events_inserted
from orders.models import OrderStatus
from replenishment.models import (
    ProductionOrderStatus,
    PurchaseOrderStatus,
    ReorderRule,
    Source,
    SuggestionKind,
    SuggestionStatus,
)

# A transfer rule without a lead time of its own: a day to pick, a day to drive.
TRANSFER_LEAD_TIME_DAYS = 2

# Advisory lock class of evaluations (PostgreSQL's two-key form): a full run holds key 0 exclusively,
# a run for some SKUs holds it shared and each SKU's key exclusively, so two runs never write the
# same SKU's suggestions at once.
EVALUATION_LOCK = 0x52504C00

# Memory for the evaluation's hashes and sorts, in its own transaction only.
EVALUATION_WORK_MEM = "64MB"

# A position got a new open suggestion: it crossed its reorder point (an updated one had already).
CROSSING_EVENT = "stock.below_reorder_point"

WAITING = [
    OrderStatus.BACKORDERED,
    OrderStatus.PARTIALLY_ALLOCATED,
    OrderStatus.IN_FULFILLMENT,
    OrderStatus.PARTIALLY_SHIPPED,
]
PO_ON_ORDER = [PurchaseOrderStatus.DRAFT, PurchaseOrderStatus.SENT, PurchaseOrderStatus.PARTIALLY_RECEIVED]
MO_ON_ORDER = [
    ProductionOrderStatus.PLANNED,
    ProductionOrderStatus.SCHEDULED,
    ProductionOrderStatus.IN_PROGRESS,
]


def _in(values: list[str]) -> str:
    # constants of our own TextChoices, quoted for the statement text
    return ", ".join(f"'{v}'" for v in values)


def _products(column: str, product_ids: list[int] | None) -> str:
    """The SKU filter on one column: nothing for a full run, else the ids as integer literals (each
    part of the statement filters its own table, so a full run never hashes a million rule rows to
    find the SKUs it already covers)."""
    if product_ids is None:
        return "TRUE"
    return f"{column} IN ({', '.join(str(int(pk)) for pk in product_ids)})"


def _figures_sql(product_ids: list[int] | None) -> str:
    return f"""
WITH rules AS (
    SELECT p.id AS position_id, p.warehouse_id, p.product_id, p.on_hand, p.allocated, p.in_transit,
           p.safety_stock, r.id AS rule_id, r.warehouse_id IS NULL AS is_default, r.reorder_point,
           r.order_up_to,
           r.min_order_qty, r.order_multiple, r.source, r.supplier_id, r.production_site_id,
           r.source_warehouse_id, r.covers_backorders,
           COALESCE(r.lead_time_days, sup.lead_time_days, site.lead_time_days, {TRANSFER_LEAD_TIME_DAYS})
               AS lead_time_days
    FROM inventory_stockposition p
    LEFT JOIN replenishment_reorderrule own
           ON own.product_id = p.product_id AND own.warehouse_id = p.warehouse_id AND own.is_active
    LEFT JOIN replenishment_reorderrule dflt
           ON dflt.product_id = p.product_id AND dflt.warehouse_id IS NULL AND dflt.is_active
          AND own.id IS NULL
    JOIN replenishment_reorderrule r ON r.id = COALESCE(own.id, dflt.id)
    LEFT JOIN replenishment_supplier sup ON sup.id = r.supplier_id
    LEFT JOIN replenishment_productionsite site ON site.id = r.production_site_id
    WHERE {_products("p.product_id", product_ids)}
),
on_order_parts AS (
    SELECT po.warehouse_id, l.product_id, l.quantity - l.received_quantity AS units
    FROM replenishment_purchaseorderline l
    JOIN replenishment_purchaseorder po ON po.id = l.purchase_order_id
    WHERE po.status IN ({_in(PO_ON_ORDER)}) AND {_products("l.product_id", product_ids)}
    UNION ALL
    SELECT s.warehouse_id, mo.product_id, mo.quantity - mo.produced_quantity
    FROM replenishment_productionorder mo
    JOIN replenishment_productionsite s ON s.id = mo.site_id
    WHERE mo.status IN ({_in(MO_ON_ORDER)}) AND {_products("mo.product_id", product_ids)}
    UNION ALL
    SELECT t.to_warehouse_id, t.product_id, t.quantity
    FROM inventory_transfer t
    WHERE t.status = 'planned' AND {_products("t.product_id", product_ids)}
    UNION ALL
    SELECT sp.warehouse_id, sp.product_id, sg.quantity
    FROM replenishment_suggestion sg
    JOIN inventory_stockposition sp ON sp.id = sg.position_id
    WHERE sg.status = '{SuggestionStatus.APPROVED}' AND {_products("sp.product_id", product_ids)}
),
on_order AS (
    SELECT warehouse_id, product_id, SUM(units) AS units FROM on_order_parts GROUP BY warehouse_id, product_id
),
backorders AS (
    SELECT l.product_id, SUM(l.quantity - l.qty_allocated - l.qty_cancelled) AS units
    FROM orders_orderline l
    JOIN orders_order o ON o.id = l.order_id
    WHERE o.status IN ({_in(WAITING)}) AND l.quantity > l.qty_allocated + l.qty_cancelled
      AND {_products("l.product_id", product_ids)}
    GROUP BY l.product_id
),
hubs AS (
    -- the position that carries a SKU's backorders: its covering rule, else the first warehouse
    -- that buys or makes it, else the first; an aggregate, so a million positions need no sort
    SELECT r.product_id, b.units,
           COALESCE(MIN(r.warehouse_id)
                        FILTER (WHERE r.covers_backorders AND r.source <> '{Source.TRANSFER}'),
                    MIN(r.warehouse_id) FILTER (WHERE r.covers_backorders),
                    MIN(r.warehouse_id) FILTER (WHERE r.source <> '{Source.TRANSFER}'),
                    MIN(r.warehouse_id)) AS warehouse_id
    FROM rules r JOIN backorders b ON b.product_id = r.product_id
    GROUP BY r.product_id, b.units
),
positions AS (
    SELECT r.*, COALESCE(oo.units, 0) AS on_order, COALESCE(h.units, 0) AS backordered,
           h.product_id IS NOT NULL AS is_hub
    FROM rules r
    LEFT JOIN on_order oo ON oo.warehouse_id = r.warehouse_id AND oo.product_id = r.product_id
    LEFT JOIN hubs h ON h.product_id = r.product_id AND h.warehouse_id = r.warehouse_id
),
needs AS (
    SELECT p.*, p.on_hand + p.in_transit + p.on_order - p.allocated - p.backordered AS inventory_position
    FROM positions p
),
sized AS (
    SELECT n.*, n.order_up_to + n.safety_stock - n.inventory_position AS need,
           CASE WHEN n.order_up_to + n.safety_stock - n.inventory_position < n.min_order_qty
                THEN n.min_order_qty
                ELSE n.order_up_to + n.safety_stock - n.inventory_position END AS wanted
    FROM needs n
    WHERE n.inventory_position <= n.reorder_point + n.safety_stock
),
sources AS (
    -- what a transfer's source holds above its own safety stock and order-up-to level (only the
    -- transfer rows look it up)
    SELECT s.position_id,
           src.on_hand - src.allocated - src.safety_stock - COALESCE(src_rule.order_up_to, 0) AS surplus
    FROM sized s
    JOIN inventory_stockposition src
      ON src.warehouse_id = s.source_warehouse_id AND src.product_id = s.product_id
    LEFT JOIN rules src_rule ON src_rule.position_id = src.id
    WHERE s.source = '{Source.TRANSFER}'
),
rounded AS (
    SELECT s.*, ((s.wanted + s.order_multiple - 1) / s.order_multiple) * s.order_multiple AS rounded_qty,
           src.surplus
    FROM sized s
    LEFT JOIN sources src ON src.position_id = s.position_id
),
final AS (
    SELECT r.*, {_kind_sql()} AS kind,
           CASE WHEN r.source <> '{Source.TRANSFER}' THEN r.rounded_qty
                WHEN COALESCE(r.surplus, 0) < r.rounded_qty THEN COALESCE(r.surplus, 0)
                ELSE r.rounded_qty END AS quantity,
           CASE WHEN r.is_default THEN 'default' ELSE 'warehouse' END AS rule_scope
    FROM rounded r
)
"""


# The figures a suggestion keeps in ``explanation``: its key, the column of ``final`` it comes from,
# and the SQL type to compare it as. Built as JSON only for the rows that are written; a row whose
# figures all equal what its open suggestion keeps is left alone.
EXPLAINED = [
    ("on_hand", "on_hand", "int"),
    ("in_transit", "in_transit", "int"),
    ("on_order", "on_order", "int"),
    ("allocated", "allocated", "int"),
    ("backordered", "backordered", "int"),
    ("inventory_position", "inventory_position", "int"),
    ("reorder_point", "reorder_point", "int"),
    ("order_up_to", "order_up_to", "int"),
    ("safety_stock", "safety_stock", "int"),
    ("need", "need", "int"),
    ("min_order_qty", "min_order_qty", "int"),
    ("order_multiple", "order_multiple", "int"),
    ("rule", "rule_id", "int"),
    ("rule_scope", "rule_scope", "text"),
    ("carries_backorders", "is_hub", "boolean"),
    ("source", "source", "text"),
    ("surplus_at_source", "surplus", "int"),
]


def _explanation_sql(postgres: bool, alias: str) -> str:
    def value(column: str, kind: str) -> str:
        # SQLite has no boolean: its JSON would say 0 / 1 where PostgreSQL's says false / true
        if kind == "boolean" and not postgres:
            return f"CASE WHEN {alias}.{column} THEN json('true') ELSE json('false') END"
        return f"{alias}.{column}"

    pairs = ", ".join(f"'{key}', {value(column, kind)}" for key, column, kind in EXPLAINED)
    return f"{'jsonb_build_object' if postgres else 'json_object'}({pairs})"


def _explanation_changed_sql(postgres: bool, kept: str, alias: str) -> str:
    """True where a figure differs from the one the open suggestion ``kept`` holds (null-safe)."""
    if postgres:
        parts = [
            f"({kept}.explanation->>'{key}')::{kind} IS DISTINCT FROM {alias}.{column}"
            for key, column, kind in EXPLAINED
        ]
    else:
        parts = [
            f"json_extract({kept}.explanation, '$.{key}') IS NOT {alias}.{column}"
            for key, column, _ in EXPLAINED
        ]
    return "(" + " OR ".join(parts) + ")"


def _kind_sql() -> str:
    return (
        f"CASE source WHEN '{Source.SUPPLIER}' THEN '{SuggestionKind.PURCHASE}' "
        f"WHEN '{Source.PRODUCTION}' THEN '{SuggestionKind.PRODUCTION}' ELSE '{SuggestionKind.TRANSFER}' END"
    )


@dataclass(frozen=True)
class EvaluationResult:
    upserted: int
    withdrawn: int
    crossed: int = 0  # positions that got a new open suggestion: they crossed their reorder point
    # (upserted: suggestions written, new or changed; one whose figures did not change is left alone)


def suggestions_evaluate(
    *, product_ids: list[int] | None = None, now: datetime | None = None
) -> EvaluationResult:
    """Evaluate every position (``product_ids`` None) or the positions of some SKUs, and bring their
    open suggestions up to date, in one transaction."""
    now = now or timezone.now()
    postgres = connection.vendor == "postgresql"
    if product_ids is not None:
        product_ids = sorted({int(pk) for pk in product_ids})
        if not product_ids:
            return EvaluationResult(0, 0)
    figures = _figures_sql(product_ids)
    upsert = f"""
INSERT INTO replenishment_suggestion (position_id, rule_id, kind, quantity, status, supplier_id,
    production_site_id, source_warehouse_id, explanation, decided_by, created_at, updated_at)
SELECT f.position_id, f.rule_id, f.kind, f.quantity, '{SuggestionStatus.OPEN}', f.supplier_id,
       f.production_site_id, f.source_warehouse_id, {_explanation_sql(postgres, "f")}, '', %(now)s, %(now)s
FROM final f
LEFT JOIN replenishment_suggestion cur
       ON cur.position_id = f.position_id AND cur.status = '{SuggestionStatus.OPEN}'
WHERE f.quantity > 0
  -- new or changed only: ON CONFLICT would lock every unchanged row just to leave it alone
  AND (cur.id IS NULL
       OR (cur.rule_id, cur.kind, cur.quantity, cur.supplier_id, cur.production_site_id,
           cur.source_warehouse_id)
          IS DISTINCT FROM (f.rule_id, f.kind, f.quantity, f.supplier_id, f.production_site_id,
           f.source_warehouse_id)
       OR {_explanation_changed_sql(postgres, "cur", "f")})
ON CONFLICT (position_id) WHERE status = '{SuggestionStatus.OPEN}' DO UPDATE SET
    rule_id = excluded.rule_id, kind = excluded.kind, quantity = excluded.quantity,
    supplier_id = excluded.supplier_id, production_site_id = excluded.production_site_id,
    source_warehouse_id = excluded.source_warehouse_id, explanation = excluded.explanation,
    updated_at = excluded.updated_at
WHERE (replenishment_suggestion.rule_id, replenishment_suggestion.kind, replenishment_suggestion.quantity,
       replenishment_suggestion.supplier_id, replenishment_suggestion.production_site_id,
       replenishment_suggestion.source_warehouse_id, replenishment_suggestion.explanation)
      IS DISTINCT FROM (excluded.rule_id, excluded.kind, excluded.quantity, excluded.supplier_id,
       excluded.production_site_id, excluded.source_warehouse_id, excluded.explanation)
RETURNING position_id, created_at = updated_at AS inserted, explanation"""
    # open suggestions of the evaluated SKUs whose need went away (an anti-join: NOT IN over a big
    # list would be rescanned per row)
    withdraw = f"""
UPDATE replenishment_suggestion SET status = '{SuggestionStatus.WITHDRAWN}', updated_at = %(now)s
WHERE id IN (
    SELECT sg.id FROM replenishment_suggestion sg
    JOIN inventory_stockposition p ON p.id = sg.position_id
    WHERE sg.status = '{SuggestionStatus.OPEN}' AND {_products("p.product_id", product_ids)}
      AND NOT EXISTS (SELECT 1 FROM final f WHERE f.position_id = sg.position_id AND f.quantity > 0)
)"""
    with transaction.atomic(), connection.cursor() as cursor:
        _positions_for_rules(product_ids)
        if postgres:
            # a full run hashes and sorts a million positions: at the default 4 MB they spill to
            # disk, and compiling the statement (JIT) costs a second and buys nothing here
            cursor.execute(f"SET LOCAL work_mem = '{EVALUATION_WORK_MEM}'; SET LOCAL jit = off")
            _lock(cursor, product_ids)
            # one statement: the figures once, the upsert and the withdrawal as data-modifying CTEs
            # (they see the same snapshot and touch different rows); only crossings come back
            # and the crossings' events written by the same statement: nothing comes back but counts
            crossings = events_insert_sql(
                source="upserted u JOIN inventory_stockposition sp ON sp.id = u.position_id WHERE u.inserted",
                aggregate_id="u.position_id",
                payload=(
                    "jsonb_build_object('position_id', u.position_id, 'warehouse_id', sp.warehouse_id, "
                    "'product_id', sp.product_id, "
                    "'inventory_position', u.explanation->'inventory_position', "
                    "'reorder_point', u.explanation->'reorder_point', "
                    "'safety_stock', u.explanation->'safety_stock')"
                ),
            )
            cursor.execute(
                figures
                + f""", upserted AS ({upsert}
), withdrawn AS ({withdraw}
    RETURNING 1
), crossings AS ({crossings}
    RETURNING 1
)
SELECT (SELECT count(*) FROM upserted), (SELECT count(*) FROM withdrawn), (SELECT count(*) FROM crossings)
""",
                {"now": now, "event_name": CROSSING_EVENT, "event_aggregate_type": "stock_position"},
            )
            upserted, withdrawn, crossed = (int(n) for n in cursor.fetchone())
            if crossed:
                events_inserted()
        else:
            cursor.execute(figures + upsert, {"now": now})
            rows = cursor.fetchall()
            upserted = len(rows)
            new = [(pk, _figures(explanation)) for pk, inserted, explanation in rows if inserted]
            # (sqlite3's rowcount is -1 for a statement that starts WITH: count what comes back)
            cursor.execute(figures + withdraw + " RETURNING id", {"now": now})
            withdrawn = len(cursor.fetchall())
            crossed = len(new)
            if new:
                _crossings_emit(new)
    return EvaluationResult(upserted=upserted, withdrawn=withdrawn, crossed=crossed)


def _lock(cursor, product_ids: list[int] | None) -> None:
    if product_ids is None:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, 0)", [EVALUATION_LOCK])
    else:
        cursor.execute(
            "SELECT pg_advisory_xact_lock_shared(%s, 0); "
            "SELECT pg_advisory_xact_lock(%s, (id %% 2147483647)::int) "
            "FROM unnest(%s::bigint[]) AS s(id)",
            [EVALUATION_LOCK, EVALUATION_LOCK, product_ids],
        )


def _positions_for_rules(product_ids: list[int] | None) -> None:
    """A warehouse's rule for a SKU it never held still needs its position (at zero) to be evaluated:
    one anti-join finds such rules, usually none."""
    rules = ReorderRule.objects.filter(is_active=True, warehouse__isnull=False).exclude(
        Exists(
            StockPosition.objects.filter(
                warehouse_id=OuterRef("warehouse_id"), product_id=OuterRef("product_id")
            )
        )
    )
    if product_ids is not None:
        rules = rules.filter(product_id__in=product_ids)
    missing = list(rules.values_list("warehouse_id", "product_id"))
    if missing:
        stock.positions_ensure(pairs=missing)


def _figures(explanation) -> dict:
    return json.loads(explanation) if isinstance(explanation, str) else explanation


def _crossings_emit(crossed: list[tuple[int, dict]]) -> None:
    """``stock.below_reorder_point`` for each position that crossed, with where and what, for the
    dashboard's alerts and whoever else listens (ops e-mail, KPIs)."""
    where = dict(
        (pk, (warehouse_id, product_id))
        for pk, warehouse_id, product_id in StockPosition.objects.filter(
            pk__in=[pk for pk, _ in crossed]
        ).values_list("pk", "warehouse_id", "product_id")
    )
    events_emit(
        name=CROSSING_EVENT,
        aggregate_type="stock_position",
        items=[
            (
                position_id,
                {
                    "position_id": position_id,
                    "warehouse_id": where[position_id][0],
                    "product_id": where[position_id][1],
                    "inventory_position": figures["inventory_position"],
                    "reorder_point": figures["reorder_point"],
                    "safety_stock": figures["safety_stock"],
                },
            )
            for position_id, figures in crossed
        ],
    )


@dataclass(frozen=True)
class AtRisk:
    position_id: int
    warehouse: str
    sku: str
    inventory_position: int
    daily_demand: float
    days_of_cover: float
    lead_time_days: int


def stockout_risk(*, window_days: int, limit: int = 50, now: datetime | None = None) -> list[AtRisk]:
    """Positions that will run out before what they would order now could arrive: days of cover
    (inventory position / average daily shipments over the window) shorter than their lead time,
    fewest days first. The same figures as the evaluation, in the same one statement."""
    since = (now or timezone.now()) - timedelta(days=window_days)
    sql = (
        _figures_sql(None)
        + f"""
, demand AS (
    SELECT m.position_id, SUM(-m.quantity) AS units
    FROM inventory_stockmovement m
    WHERE m.kind = 'shipment' AND m.created_at >= %s AND m.position_id IN (SELECT position_id FROM rules)
    GROUP BY m.position_id
)
SELECT n.position_id, w.code, pr.sku, n.inventory_position, d.units, n.lead_time_days
FROM needs n
JOIN demand d ON d.position_id = n.position_id AND d.units > 0
JOIN inventory_warehouse w ON w.id = n.warehouse_id
JOIN orders_product pr ON pr.id = n.product_id
WHERE n.inventory_position * {int(window_days)} < d.units * n.lead_time_days
ORDER BY (n.inventory_position * 1.0) / d.units, n.position_id
LIMIT {int(limit)}
"""
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [since])
        rows = cursor.fetchall()
    result = []
    for position_id, warehouse, sku, inventory_position, units, lead_time_days in rows:
        daily = float(units) / window_days
        result.append(
            AtRisk(
                position_id=position_id,
                warehouse=warehouse,
                sku=sku,
                inventory_position=int(inventory_position),
                daily_demand=round(daily, 2),
                days_of_cover=round(max(int(inventory_position), 0) / daily, 1),
                lead_time_days=int(lead_time_days),
            )
        )
    return result
