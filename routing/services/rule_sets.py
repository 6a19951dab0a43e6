"""Rule sets as admins keep them: drafts, publishing, history, the one in force."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from oms.errors import Conflict, ValidationFailed
from routing import engine
from routing.models import (
    RuleSet,
    RuleSetChange,
    RuleSetStatus,
)

# ------------------------------------------------------------------------------------------ rule sets


@transaction.atomic
def rule_set_publish(*, rule_set_id: int, user: AbstractBaseUser | None) -> RuleSet:
    """Put a draft in force for its scope; the rule set it replaces is retired, not deleted."""
    rule_set = RuleSet.objects.select_for_update().filter(pk=rule_set_id).first()
    if rule_set is None:
        raise ValidationFailed("No such rule set.", details={"rule_set": [str(rule_set_id)]})
    if rule_set.status != RuleSetStatus.DRAFT:
        raise Conflict(f"{rule_set} is not a draft.", code="not_a_draft")
    if not rule_set.warehouses.exists():
        raise ValidationFailed(
            "A rule set needs at least one warehouse.", details={"warehouses": ["Add one."]}
        )
    RuleSet.objects.select_for_update().filter(
        channel=rule_set.channel, service_level=rule_set.service_level, status=RuleSetStatus.PUBLISHED
    ).update(status=RuleSetStatus.RETIRED)
    rule_set.status = RuleSetStatus.PUBLISHED
    rule_set.published_at = timezone.now()
    rule_set.published_by = user if user is not None and user.pk else None
    rule_set.save(update_fields=["status", "published_at", "published_by"])
    _record(rule_set, user, "published")
    return rule_set


@transaction.atomic
def rule_set_draft_from(*, rule_set_id: int, user: AbstractBaseUser | None) -> RuleSet:
    """A new draft version that starts as a copy of a rule set (published ones are never edited)."""
    source = RuleSet.objects.get(pk=rule_set_id)
    warehouses = list(source.warehouses.all())
    latest = (
        RuleSet.objects.filter(name=source.name)
        .order_by("-version")
        .values_list("version", flat=True)
        .first()
    )
    draft = RuleSet.objects.get(pk=source.pk)
    draft.pk = None
    draft.status = RuleSetStatus.DRAFT
    draft.version = (latest or 0) + 1
    draft.based_on = source
    draft.published_at = draft.published_by = None
    draft.created_by = user if user is not None and user.pk else None
    draft.save()
    for item in warehouses:
        item.pk = None
        item.rule_set = draft
    draft.warehouses.model.objects.bulk_create(warehouses)
    _record(draft, user, "drafted", {"based_on": [None, f"{source.name} v{source.version}"]})
    return draft


def _user(user: AbstractBaseUser | None):
    return user if user is not None and user.pk else None


def _record(rule_set: RuleSet, user: AbstractBaseUser | None, what: str, changes: dict | None = None) -> None:
    RuleSetChange.objects.create(rule_set=rule_set, changed_by=_user(user), what=what, changes=changes or {})


def rule_set_warehouses(rule_set: RuleSet) -> list[str]:
    """The allowed warehouses as the history shows them: code, and rank where one is set."""
    return [
        f"{item.warehouse.code}" + (f" #{item.rank}" if item.rank is not None else "")
        for item in rule_set.warehouses.select_related("warehouse").order_by("warehouse__code")
    ]


@transaction.atomic
def rule_set_record_edit(
    *, rule_set_id: int, user: AbstractBaseUser | None, changes: dict[str, list], created: bool = False
) -> None:
    """Write down an admin's edit of a draft (field -> [before, after]); published and retired rule
    sets are history and never edited."""
    rule_set = RuleSet.objects.select_for_update().get(pk=rule_set_id)
    if rule_set.status != RuleSetStatus.DRAFT:
        raise Conflict(f"{rule_set} is not a draft: draft a new version to change it.", code="not_a_draft")
    if created or changes:
        _record(rule_set, user, "created" if created else "edited", changes)


def rule_set_in_force(*, channel_id: int, service_level: str) -> RuleSet | None:
    """The published rule set for a channel and service level, the most specific one first."""
    candidates = (
        RuleSet.objects.filter(status=RuleSetStatus.PUBLISHED)
        .filter(Q(channel_id=channel_id) | Q(channel__isnull=True))
        .filter(Q(service_level=service_level) | Q(service_level=""))
    )
    return min(candidates, key=lambda r: (r.channel_id is None, r.service_level == ""), default=None)


def rules_of(rule_set: RuleSet | None) -> engine.Rules:
    if rule_set is None:
        return engine.Rules()
    return engine.Rules(
        max_shipments=rule_set.max_shipments,
        minimize_shipments=rule_set.minimize_shipments,
        keep_within_country=rule_set.keep_within_country,
        exclude_stores=rule_set.exclude_stores,
        respect_cutoff=rule_set.respect_cutoff,
        respect_capacity=rule_set.respect_capacity,
        weights=engine.Weights(
            distance=rule_set.weight_distance,
            cost=rule_set.weight_cost,
            split=rule_set.weight_split,
            rank=rule_set.weight_rank,
            balance=rule_set.weight_balance,
        ),
    )
