"""Dashboard pages for orders. Thin: they read through selectors and write through the same services
as the API; domain errors become a message on the page."""

import csv

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from oms.dashboard import ORDER_BULK_ACTIONS, ORDER_LIST_FILTERS, ops_required, order_panels, page_of
from oms.errors import DomainError
from orders import selectors, services
from orders.forms import CancelForm, HoldForm, OrderSearchForm, ReleaseForm
from orders.models import EDITABLE_STATUSES, ORDER_TRANSITIONS, OrderStatus
from orders.validation import currency_precision


def _search(request: HttpRequest, *, with_line_counts: bool = False) -> tuple[OrderSearchForm, object, dict]:
    """The orders the list's filters select (also what the CSV export and bulk actions see)."""
    form = OrderSearchForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    orders = selectors.order_search(
        text=filters.get("q", ""),
        statuses=[filters["status"]] if filters.get("status") else None,
        channel_ids=[filters["channel"].pk] if filters.get("channel") else None,
        placed_from=filters.get("placed_from"),
        placed_to=filters.get("placed_to"),
        sort=request.GET.get("sort", ""),
        with_line_counts=with_line_counts,
    )
    extra = {}
    for extra_filter in ORDER_LIST_FILTERS:
        value = request.GET.get(extra_filter.name, "").strip()
        extra[extra_filter.name] = value
        if value:
            orders = extra_filter.apply(orders, value)
    return form, orders, extra


def _sort_links(request: HttpRequest) -> dict[str, dict]:
    """Per sortable column: the link that sorts by it (toggling the direction) and its aria-sort."""
    current = request.GET.get("sort", "")
    query = request.GET.copy()
    query.pop("page", None)
    links = {}
    for column in selectors.ORDER_SORTS:
        descending = current == f"-{column}"
        query["sort"] = column if descending else f"-{column}" if current == column else column
        state = "descending" if descending else "ascending" if current == column else "none"
        links[column] = {"url": f"?{query.urlencode()}", "aria": state}
    return links


@ops_required
def order_list(request: HttpRequest) -> HttpResponse:
    request.dashboard_section = "orders"
    form, orders, extra = _search(request)
    page = page_of(request, orders)
    page.object_list = list(page.object_list)
    if page.object_list and not hasattr(page.object_list[0], "line_count"):
        counts = selectors.line_counts([order.pk for order in page.object_list])
        for order in page.object_list:
            order.line_count = counts.get(order.pk, 0)
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
            "cap": selectors.COUNT_CAP,
            "status_counts": [(value, label, counts.get(value, 0)) for value, label in OrderStatus.choices],
            "total_orders": selectors.order_total_estimate(),
            "extra_filters": [(f, f.choices(), extra.get(f.name, "")) for f in ORDER_LIST_FILTERS],
            "sorts": _sort_links(request),
            "columns": LIST_COLUMNS,
            "numeric": {"lines", "total"},
            "bulk_actions": ORDER_BULK_ACTIONS,
            "next": request.get_full_path(),
        },
    )


# The order list's columns (each sortable): query name, heading.
LIST_COLUMNS = [
    ("number", "Order"),
    ("channel", "Channel"),
    ("external_id", "External id"),
    ("customer", "Customer"),
    ("ship_to", "Ship to"),
    ("lines", "Lines"),
    ("total", "Total"),
    ("status", "Status"),
    ("placed", "Placed"),
]

CSV_COLUMNS = [
    "number",
    "channel",
    "external_id",
    "status",
    "placed_at",
    "currency",
    "total",
    "lines",
    "customer",
    "email",
    "city",
    "country",
]


class _Echo:
    def write(self, value: str) -> str:
        return value


@ops_required
def order_export(request: HttpRequest) -> StreamingHttpResponse:
    """The list as filtered, as CSV, streamed row by row (a whole year of orders does not sit in
    memory); opens in a spreadsheet as it is."""
    _, orders, _ = _search(request, with_line_counts=True)
    writer = csv.writer(_Echo())

    def rows():
        yield "\ufeff" + writer.writerow(CSV_COLUMNS)  # the BOM tells spreadsheets it is UTF-8
        for order in orders.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    order.number,
                    order.channel.code,
                    order.external_id,
                    order.status,
                    timezone.localtime(order.placed_at).isoformat(),
                    order.currency,
                    f"{order.total:.{currency_precision(order.currency) or 0}f}",
                    order.line_count,
                    order.customer.full_name,
                    order.customer.email or "",
                    order.shipping_address.city,
                    order.shipping_address.country,
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="orders-{timezone.localdate():%Y%m%d}.csv"'
    return response


@require_POST
@ops_required
def order_bulk(request: HttpRequest) -> HttpResponse:
    """One action on the selected orders; each order on its own, refusals listed by order."""
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("dashboard:order_list")
    action = next((a for a in ORDER_BULK_ACTIONS if a.name == request.POST.get("action")), None)
    ids = [int(v) for v in request.POST.getlist("order") if v.isascii() and v.isdigit() and len(v) < 19]
    note = request.POST.get("note", "").strip()
    if action is None or not ids:
        messages.error(request, "Select some orders and an action.")
        return redirect(back)
    if action.note_label and not note:
        messages.error(request, f"{action.label}: {action.note_label.lower()} is needed.")
        return redirect(back)
    result = action.run(order_ids=ids, user=request.user, note=note)
    if isinstance(result, HttpResponse):
        return result
    done, refused = result
    if done:
        messages.success(request, f"{action.label}: {done} order{'s' if done != 1 else ''} done.")
    for line in refused[:20]:
        messages.error(request, line)
    if len(refused) > 20:
        messages.error(request, f"... and {len(refused) - 20} more refused.")
    return redirect(back)


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
