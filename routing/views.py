"""The routing panel of the order page: the decision in plain words, and every candidate's verdict."""

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from oms.dashboard import ops_required, page_of
from oms.errors import DomainError
from orders.services import Actor
from routing import selectors, services
from routing.models import RoutingDecision


def routing_panel(order) -> tuple[str, dict] | None:
    """The latest decision, told as one story: what it reserved, what the order held from earlier
    decisions, and each warehouse's verdict this time (a warehouse holding units from earlier says so)."""
    decisions = list(RoutingDecision.objects.filter(order=order).select_related("rule_set")[:5])
    if not decisions:
        return None
    latest = decisions[0]
    skus = dict(order.lines.values_list("line_number", "sku"))
    reserved = {(r["line_number"], r["warehouse"]): r["quantity"] for r in latest.reserved}
    earlier = []
    for held in latest.plan:
        units = held["quantity"] - reserved.get((held["line_number"], held["warehouse"]), 0)
        if units > 0:
            earlier.append(held | {"quantity": units})
    holding = {}
    for held in earlier:
        holding[held["warehouse"]] = holding.get(held["warehouse"], 0) + held["quantity"]
    rows = [row | {"holds_earlier": holding.get(row["warehouse"], 0)} for row in latest.trace]
    return "routing/_order_panel.html", {
        "latest": latest,
        "reserved": [r | {"sku": skus.get(r["line_number"], "?")} for r in latest.reserved],
        "held_earlier": [h | {"sku": skus.get(h["line_number"], "?")} for h in earlier],
        "rows": rows,
        "currency": order.currency,
        "earlier": decisions[1:],
    }


@ops_required
def exceptions(request: HttpRequest) -> HttpResponse:
    request.dashboard_section = "routing-exceptions"
    page = page_of(request, selectors.routing_exceptions())
    page.object_list = list(page.object_list)
    latest = {}
    for decision in RoutingDecision.objects.filter(order__in=page.object_list).order_by("order_id", "-id"):
        latest.setdefault(decision.order_id, decision)
    skus = selectors.line_skus(order_ids=[order.pk for order in page.object_list])
    rows = [
        (
            order,
            latest.get(order.pk),
            [
                (units, skus.get((order.pk, int(number)), "?"), number)
                for number, units in (latest[order.pk].backordered if order.pk in latest else {}).items()
            ],
        )
        for order in page.object_list
    ]
    return render(
        request,
        "routing/exceptions.html",
        {"page": page, "rows": rows, "overdue_minutes": settings.ROUTING_OVERDUE_MINUTES},
    )


@require_POST
@ops_required
def reroute(request: HttpRequest, order_id: int) -> HttpResponse:
    try:
        decision = services.order_reroute(order_id=order_id, actor=Actor.for_user(request.user))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if decision is None:
            messages.info(request, "The order no longer waits for routing.")
        else:
            messages.success(
                request, f"Order {decision.order.number}: {decision.get_outcome_display().lower()}."
            )
    return redirect("routing:exceptions")
