"""A draft rule set replayed on past orders, against the one in force; nothing is written."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from orders.models import Order, OrderStatus
from routing import engine
from routing.models import (
    RuleSet,
)
from routing.services.rule_sets import rule_set_in_force, rules_of
from routing.services.snapshot import snapshot

# ------------------------------------------------------------------------------------------- dry run


@dataclass
class PlanSummary:
    orders: int = 0
    split: int = 0
    unroutable: int = 0
    partial: int = 0
    distance_km: float = 0.0
    score: float = 0.0

    def add(self, plan: engine.Plan) -> None:
        self.orders += 1
        self.split += plan.shipments > 1
        self.unroutable += plan.status == "unroutable"
        self.partial += plan.status == "partial"
        self.distance_km += sum(
            t.distance_km or 0 for t in plan.candidates if t.warehouse_id in plan.warehouses
        )
        self.score += plan.score

    @property
    def split_rate(self) -> float:
        return self.split / self.orders if self.orders else 0.0

    @property
    def average_distance_km(self) -> float:
        return self.distance_km / self.orders if self.orders else 0.0

    @property
    def average_score(self) -> float:
        return self.score / self.orders if self.orders else 0.0


@dataclass
class DryRunReport:
    draft: RuleSet
    days: int
    published: PlanSummary = field(default_factory=PlanSummary)
    proposed: PlanSummary = field(default_factory=PlanSummary)
    changed: list[dict] = field(default_factory=list)  # orders whose warehouses would change


def rule_set_dry_run(
    *, rule_set_id: int, days: int = 7, now: datetime | None = None, limit: int = 2000
) -> DryRunReport:
    """Replay the last ``days`` of orders in a rule set's scope with it and with the rule set in force,
    on today's stock, and compare. Reads only: nothing is reserved, decided or changed."""
    now = now or timezone.now()
    draft = RuleSet.objects.select_related("channel").get(pk=rule_set_id)
    orders = (
        Order.objects.filter(placed_at__gte=now - timedelta(days=days))
        .exclude(status=OrderStatus.CANCELLED)
        .select_related("shipping_address")
        .order_by("-placed_at")
    )
    if draft.channel_id:
        orders = orders.filter(channel_id=draft.channel_id)
    if draft.service_level:
        orders = orders.filter(service_level=draft.service_level)
    report = DryRunReport(draft=draft, days=days)
    proposed_rules = rules_of(draft)
    for order in orders[:limit]:
        in_force = rule_set_in_force(channel_id=order.channel_id, service_level=order.service_level)
        lines, destination, candidates = snapshot(order, in_force, now, whole=True)
        if not lines:
            continue
        current = engine.plan_order(
            lines=lines, destination=destination, candidates=candidates, rules=rules_of(in_force)
        )
        lines, destination, candidates = snapshot(order, draft, now, whole=True)
        proposed = engine.plan_order(
            lines=lines, destination=destination, candidates=candidates, rules=proposed_rules
        )
        report.published.add(current)
        report.proposed.add(proposed)
        codes = {t.warehouse_id: t.code for t in current.candidates + proposed.candidates}
        before = sorted(codes[w] for w in current.warehouses)
        after = sorted(codes[w] for w in proposed.warehouses)
        if before != after:
            report.changed.append(
                {"order_id": order.pk, "number": order.number, "before": before, "after": after}
            )
    return report
