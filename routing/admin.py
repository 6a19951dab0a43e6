from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from oms.admin import ReadOnlyAdmin
from oms.errors import DomainError
from routing import services
from routing.models import (
    LaneTransit,
    RoutingDecision,
    RuleSet,
    RuleSetChange,
    RuleSetStatus,
    RuleSetWarehouse,
)


class RuleSetWarehouseInline(admin.TabularInline):
    model = RuleSetWarehouse
    extra = 1

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None or obj.status == RuleSetStatus.DRAFT

    has_add_permission = has_delete_permission = has_change_permission


def _shown(value) -> object:
    """A field's value as the history keeps it: model instances by name, the rest as JSON allows."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _said(value) -> str:
    if value in (None, ""):
        return "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def change_lines(changes: dict) -> list[str]:
    """A rule set change as an admin reads it: "Max shipments: 2 → 3", "Warehouses: added ATH #1"."""
    lines = []
    for name, pair in sorted(changes.items()):
        label = (
            RuleSet._meta.get_field(name).verbose_name.capitalize() if name != "warehouses" else "Warehouses"
        )
        before, after = [*pair, None, None][:2] if isinstance(pair, list) else (None, pair)
        if isinstance(before, list) or isinstance(after, list):
            added = [w for w in after or [] if w not in (before or [])]
            removed = [w for w in before or [] if w not in (after or [])]
            parts = [f"added {w}" for w in added] + [f"removed {w}" for w in removed]
            lines.append(f"{label}: {', '.join(parts) or 'unchanged'}")
        else:
            lines.append(f"{label}: {_said(before)} → {_said(after)}")
    return lines


class RuleSetChangeInline(admin.TabularInline):
    """Who changed what, from what to what; written by the services, never edited."""

    model = RuleSetChange
    extra = 0
    can_delete = False
    fields = ["changed_at", "changed_by", "what", "what_changed"]
    readonly_fields = fields

    @admin.display(description="What changed")
    def what_changed(self, change: RuleSetChange) -> str:
        lines = change_lines(change.changes or {})
        if not lines:
            return "—"
        return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines))

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(RuleSet)
class RuleSetAdmin(admin.ModelAdmin):
    """Drafts are edited; published and retired rule sets are history: draft a new version instead."""

    list_display = [
        "name",
        "version",
        "status",
        "channel",
        "service_level",
        "max_shipments",
        "published_at",
        "published_by",
    ]
    list_filter = ["status", "channel", "service_level"]
    inlines = [RuleSetWarehouseInline, RuleSetChangeInline]
    actions = ["publish", "new_draft", "dry_run"]
    readonly_fields = [
        "status",
        "version",
        "based_on",
        "created_by",
        "created_at",
        "published_by",
        "published_at",
    ]

    def has_change_permission(self, request, obj=None) -> bool:
        return super().has_change_permission(request, obj) and (
            obj is None or obj.status == RuleSetStatus.DRAFT
        )

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        # Values as the admin saw them before this save, for the history (save_related writes it).
        request._rule_set_edit = {
            name: [_shown(form.initial.get(name)), _shown(form.cleaned_data.get(name))]
            for name in form.changed_data
        }
        request._rule_set_warehouses_before = services.rule_set_warehouses(obj) if change else []
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        edits = dict(getattr(request, "_rule_set_edit", {}))
        before = getattr(request, "_rule_set_warehouses_before", [])
        after = services.rule_set_warehouses(form.instance)
        if before != after:
            edits["warehouses"] = [before, after]
        services.rule_set_record_edit(
            rule_set_id=form.instance.pk, user=request.user, changes=edits, created=not change
        )

    @admin.action(description="Publish the selected drafts (the rule sets they replace are retired)")
    def publish(self, request, queryset):
        for rule_set in queryset:
            try:
                services.rule_set_publish(rule_set_id=rule_set.pk, user=request.user)
                self.message_user(request, f"{rule_set.name} v{rule_set.version} is now in force.")
            except DomainError as exc:
                self.message_user(request, f"{rule_set}: {exc.message}", messages.ERROR)

    @admin.action(description="Dry run: replay the last 7 days of orders with the selected rule set")
    def dry_run(self, request, queryset):
        reports = [services.rule_set_dry_run(rule_set_id=rule_set.pk, days=7) for rule_set in queryset]
        return TemplateResponse(
            request,
            "routing/dry_run.html",
            {
                **self.admin_site.each_context(request),
                "title": "Routing dry run",
                "reports": reports,
            },
        )

    @admin.action(description="Start a new draft version from the selected rule sets")
    def new_draft(self, request, queryset):
        for rule_set in queryset:
            draft = services.rule_set_draft_from(rule_set_id=rule_set.pk, user=request.user)
            self.message_user(request, f"Draft {draft} created; edit it, then publish it.")


@admin.register(LaneTransit)
class LaneTransitAdmin(admin.ModelAdmin):
    list_display = ["warehouse", "country", "postal_prefix", "transit_days"]
    list_filter = ["warehouse", "country"]


@admin.register(RoutingDecision)
class RoutingDecisionAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "order", "outcome", "rule_set", "attempts", "duration_ms"]
    list_filter = ["outcome"]


@admin.register(RuleSetWarehouse)
class RuleSetWarehouseAdmin(admin.ModelAdmin):
    list_display = ["rule_set", "warehouse", "rank"]
    list_filter = ["rule_set"]

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None or obj.rule_set.status == RuleSetStatus.DRAFT

    has_delete_permission = has_change_permission


admin.site.register(RuleSetChange, ReadOnlyAdmin)
