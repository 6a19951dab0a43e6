"""Suggested reorder values from demand history: the average and the variability of each position's
daily demand (units shipped) over a window, days without demand counted as zero, and the lead time:

    reorder point = mean x lead time + z x sigma x sqrt(lead time)
    order-up-to   = reorder point + mean x review period

where z is the service level's quantile of the normal distribution (0.95 -> 1.645)."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import NormalDist

from django.conf import settings
from django.db.models import F, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from inventory.models import MovementKind, StockMovement, StockPosition
from replenishment.evaluation import TRANSFER_LEAD_TIME_DAYS
from replenishment.models import ReorderRule, Source


@dataclass(frozen=True)
class SuggestedValues:
    rule_id: int
    positions: int  # how many positions the figures are the average of (a default rule covers several)
    mean_daily: float
    sigma_daily: float
    lead_time_days: int
    service_level: float
    reorder_point: int
    order_up_to: int


def lead_time(rule: ReorderRule) -> int:
    if rule.lead_time_days is not None:
        return rule.lead_time_days
    if rule.source == Source.SUPPLIER:
        return rule.supplier.lead_time_days
    if rule.source == Source.PRODUCTION:
        return rule.production_site.lead_time_days
    return TRANSFER_LEAD_TIME_DAYS


def suggested_values(
    rules: list[ReorderRule],
    *,
    window_days: int | None = None,
    service_level: float | None = None,
    now: datetime | None = None,
) -> dict[int, SuggestedValues]:
    """The suggested values of each rule, from the positions it governs (a default rule: every position
    of its SKU without a rule of its own, averaged)."""
    window_days = window_days or settings.REPLENISHMENT_DEMAND_WINDOW_DAYS
    service_level = service_level or settings.REPLENISHMENT_SERVICE_LEVEL
    z = NormalDist().inv_cdf(service_level)
    until = now or timezone.now()
    since = until - timedelta(days=window_days)
    product_ids = {r.product_id for r in rules}
    own = set(
        ReorderRule.objects.filter(product_id__in=product_ids, warehouse__isnull=False).values_list(
            "product_id", "warehouse_id"
        )
    )
    governed: dict[int, list[int]] = {r.pk: [] for r in rules}
    positions = StockPosition.objects.filter(product_id__in=product_ids).values_list(
        "pk", "product_id", "warehouse_id"
    )
    for rule in rules:
        for position_id, product_id, warehouse_id in positions:
            if product_id != rule.product_id:
                continue
            if rule.warehouse_id == warehouse_id or (
                rule.warehouse_id is None and (product_id, warehouse_id) not in own
            ):
                governed[rule.pk].append(position_id)
    all_positions = {p for ids in governed.values() for p in ids}
    totals: dict[int, list[float]] = {p: [0.0, 0.0] for p in all_positions}
    daily = (
        StockMovement.objects.filter(
            position_id__in=all_positions,
            kind=MovementKind.SHIPMENT,
            created_at__gte=since,
            created_at__lt=until,
        )
        .annotate(day=TruncDate("created_at"))
        .values("position_id", "day")
        .annotate(units=Sum(-F("quantity")))
        .order_by()
    )
    for row in daily:
        totals[row["position_id"]][0] += row["units"]
        totals[row["position_id"]][1] += row["units"] ** 2
    result = {}
    for rule in rules:
        ids = governed[rule.pk]
        stats = []
        for position_id in ids:
            total, squares = totals[position_id]
            mean = total / window_days
            stats.append((mean, math.sqrt(max(squares / window_days - mean * mean, 0.0))))
        mean = sum(m for m, _ in stats) / len(stats) if stats else 0.0
        sigma = sum(s for _, s in stats) / len(stats) if stats else 0.0
        days = lead_time(rule)
        reorder_point = math.ceil(mean * days + z * sigma * math.sqrt(days) - 1e-9)
        order_up_to = max(math.ceil(reorder_point + mean * rule.review_period_days - 1e-9), reorder_point)
        result[rule.pk] = SuggestedValues(
            rule_id=rule.pk,
            positions=len(ids),
            mean_daily=round(mean, 3),
            sigma_daily=round(sigma, 3),
            lead_time_days=days,
            service_level=service_level,
            reorder_point=reorder_point,
            order_up_to=order_up_to,
        )
    return result
