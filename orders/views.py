"""Dashboard pages for orders. Thin: they read through selectors and write through the same services
as the API; domain errors become a message on the page."""

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from oms.dashboard import ops_required, order_panels
from oms.errors import DomainError
from orders import selectors, services
from orders.forms import CancelForm, HoldForm, OrderSearchForm, ReleaseForm
from orders.models import EDITABLE_STATUSES, ORDER_TRANSITIONS, OrderStatus


@ops_required
def order_list(request: HttpRequest) -> HttpResponse:
    request.dashboard_section = "orders"
    form = OrderSearchForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    orders = selectors.order_search(
        text=filters.get("q", ""),
        statuses=[filters["status"]] if filters.get("status") else None,
        channel_ids=[filters["channel"].pk] if filters.get("channel") else None,
        placed_from=filters.get("placed_from"),
        placed_to=filters.get("placed_to"),
    )
    page = Paginator(orders, settings.DASHBOARD_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    counts = selectors.order_status_counts()
    return render(
        request,
        "dashboard/order_list.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "status_counts": [(value, label, counts.get(value, 0)) for value, label in OrderStatus.choices],
            "total_orders": sum(counts.values()),
        },
    )


@ops_required
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    request.dashboard_section = "orders"
    order = selectors.order_detail(order_id=order_id)
    if order is None:
        raise Http404(f"Order {order_id} does not exist.")
    allowed = ORDER_TRANSITIONS[order.status]
    shipped_some = any(line.qty_shipped for line in order.lines.all())
    return render(
        request,
        "dashboard/order_detail.html",
        {
            "order": order,
            "lines": order.lines.all(),
            "events": order.events.all(),
            # A part-shipped order (or one held after shipping some units) can have the rest cancelled.
            "can_cancel": OrderStatus.CANCELLED in allowed
            or (shipped_some and order.status == OrderStatus.PARTIALLY_SHIPPED),
            "cancel_rest": shipped_some,
            "can_hold": OrderStatus.ON_HOLD in allowed,
            "can_release": order.status == OrderStatus.ON_HOLD,
            "editable": order.status in EDITABLE_STATUSES,
            "cancel_form": CancelForm(),
            "hold_form": HoldForm(),
            "release_form": ReleaseForm(),
            "panels": order_panels(order),
        },
    )


def _act(request: HttpRequest, order_id: int, form_class, action, done) -> HttpResponse:
    form = form_class(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        return redirect("dashboard:order_detail", order_id=order_id)
    try:
        order = action(actor=services.Actor.for_user(request.user), **form.cleaned_data)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done(order) if callable(done) else done.format(number=order.number))
    return redirect("dashboard:order_detail", order_id=order_id)


@require_POST
@ops_required
def order_cancel(request: HttpRequest, order_id: int) -> HttpResponse:
    return _act(
        request,
        order_id,
        CancelForm,
        lambda actor, reason: services.order_cancel(order_id=order_id, actor=actor, reason=reason),
        lambda order: (
            f"Order {order.number} is cancelled."
            if order.status == OrderStatus.CANCELLED
            else f"Order {order.number}: the units not shipped are cancelled; what shipped stays shipped."
        ),
    )


@require_POST
@ops_required
def order_hold(request: HttpRequest, order_id: int) -> HttpResponse:
    return _act(
        request,
        order_id,
        HoldForm,
        lambda actor, reason, note: services.order_hold(
            order_id=order_id, actor=actor, reason=reason, note=note
        ),
        "Order {number} is on hold.",
    )


@require_POST
@ops_required
def order_release(request: HttpRequest, order_id: int) -> HttpResponse:
    return _act(
        request,
        order_id,
        ReleaseForm,
        lambda actor, note: services.order_release_hold(order_id=order_id, actor=actor, note=note),
        "Order {number} is released and goes back to routing.",
    )
