"""Returns in the dashboard: the queue by status, a return's page with its decisions, the receiving
and inspection screen, returns ops open for a customer, the order page's panel and return rates.
Thin views: each calls the same services as the API."""

import csv
from datetime import timedelta

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from inventory.models import Warehouse
from oms.dashboard import ops_required, page_of
from oms.errors import DomainError
from orders.models import Channel, Order, OrderStatus
from orders.services import Actor
from returns import selectors, services
from returns.models import (
    Credit,
    CreditMethod,
    Disposition,
    Grade,
    Return,
    ReturnInspection,
    ReturnSource,
    ReturnStatus,
)
from returns.services import InspectionInput, ReturnLineInput
from returns.services.policy import lines_paid, units_value
from tracking.models import TrackingEvent


class _Echo:
    def write(self, value: str) -> str:
        return value


def _problem(exc: DomainError) -> str:
    if isinstance(exc.details, dict) and exc.details:
        parts = []
        for field, problems in exc.details.items():
            text = " ".join(str(p) for p in problems) if isinstance(problems, list) else str(problems)
            parts.append(text if field in ("lines", "__all__") else f"{field}: {text}")
        return f"{exc.message} {'; '.join(parts)}"
    return exc.message


FILTERS = ("status", "channel", "warehouse", "reason", "sku", "q")


def _filters(request: HttpRequest) -> dict[str, str]:
    values = {name: request.GET.get(name, "").strip() for name in FILTERS}
    if values["status"] not in ReturnStatus.values and values["status"] != "open":
        values["status"] = ""
    values["warehouse"] = values["warehouse"].upper()
    values["sku"] = values["sku"].upper()
    return values


def _rows(values: dict[str, str]):
    return selectors.returns_list(
        status=values["status"],
        channel=values["channel"],
        warehouse=values["warehouse"],
        reason=values["reason"],
        sku=values["sku"],
        query=values["q"],
    )


@ops_required
def return_list(request: HttpRequest) -> HttpResponse:
    request.dashboard_section = "returns"
    values = _filters(request)
    if not any(request.GET.get(name) for name in FILTERS):
        values["status"] = "open"
    page = page_of(request, _rows(values))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "returns/list.html",
        {
            "page": page,
            "filters": values,
            "counts": selectors.queue_counts(),
            "cap": selectors.COUNT_CAP,
            "statuses": ReturnStatus.choices,
            "channels": Channel.objects.order_by("code").values_list("code", "name"),
            "warehouses": Warehouse.objects.filter(accepts_returns=True)
            .order_by("code")
            .values_list("code", "name"),
            "reasons": selectors.reason_choices(),
            "query": query.urlencode(),
        },
    )


@ops_required
def return_export(request: HttpRequest) -> StreamingHttpResponse:
    """The queue as filtered, one row per return line, as CSV (streamed)."""
    rows = _rows(_filters(request)).prefetch_related("lines__order_line__order", "lines__reason")
    writer = csv.writer(_Echo())
    header = [
        "return",
        "status",
        "source",
        "channel",
        "created_at",
        "order",
        "sku",
        "units",
        "received",
        "reason",
        "note",
        "return_location",
        "credit_method",
    ]

    def lines():
        yield "\ufeff" + writer.writerow(header)
        for ret in rows.iterator(chunk_size=500):
            for line in ret.lines.all():
                yield writer.writerow(
                    [
                        ret.number,
                        ret.status,
                        ret.source,
                        ret.channel.code,
                        ret.created_at.isoformat(),
                        line.order_line.order.number,
                        line.order_line.sku,
                        line.quantity,
                        line.received_quantity,
                        line.reason.code,
                        line.note,
                        ret.return_location.code if ret.return_location else "",
                        ret.credit_method,
                    ]
                )

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="returns-{timezone.localdate():%Y%m%d}.csv"'
    return response


BULK = {
    "authorise": lambda ret_id, actor, note: services.return_authorise(
        return_id=ret_id, actor=actor, note=note
    ),
    "reject": lambda ret_id, actor, note: services.return_reject(return_id=ret_id, actor=actor, reason=note),
}


@require_POST
@ops_required
def return_bulk(request: HttpRequest) -> HttpResponse:
    action = request.POST.get("action", "")
    ids = [int(v) for v in request.POST.getlist("return") if v.isascii() and v.isdigit() and len(v) < 19]
    if action not in BULK or not ids:
        messages.error(request, "Choose returns and what to do with them.")
        return redirect(request.POST.get("back") or "returns:list")
    actor = Actor.for_user(request.user)
    done, refused = 0, []
    for ret_id in ids:
        try:
            BULK[action](ret_id, actor, request.POST.get("note", ""))
            done += 1
        except DomainError as exc:
            refused.append(f"RMA-{ret_id:07d}: {_problem(exc)}")
    if done:
        messages.success(request, f"{'Authorised' if action == 'authorise' else 'Rejected'}: {done}.")
    for line in refused:
        messages.error(request, line)
    return redirect(request.POST.get("back") or "returns:list")


def _credit_preview(ret: Return) -> list[dict]:
    """What each line is worth (tax included, discounts shared) before the credit exists."""
    rows = []
    by_order: dict[int, dict] = {}
    for line in ret.lines.all():
        order = line.order_line.order
        if order.pk not in by_order:
            by_order[order.pk] = lines_paid(order, order.lines.all())
        paid = by_order[order.pk][line.order_line_id]
        units = line.received_quantity if ret.counted_at else line.quantity
        rows.append(
            {
                "line": line,
                "units": units,
                "value": units_value(paid, line.order_line.quantity, 0, units, order.currency),
            }
        )
    return rows


@ops_required
def return_detail(request: HttpRequest, return_id: int) -> HttpResponse:
    request.dashboard_section = "returns"
    ret = selectors.return_detail(return_id=return_id)
    if ret is None:
        raise Http404(f"No return {return_id}.")
    orders = sorted({line.order_line.order for line in ret.lines.all()}, key=lambda o: o.pk)
    shipment = ret.shipment
    return render(
        request,
        "returns/detail.html",
        {
            "ret": ret,
            "orders": orders,
            "currency": orders[0].currency if orders else "",
            "customer": ret.customer,
            "preview": _credit_preview(ret),
            "inspections": ReturnInspection.objects.filter(ret=ret).select_related(
                "product", "warehouse", "line"
            ),
            "credit": Credit.objects.filter(ret=ret).prefetch_related("lines__order_line").first(),
            "shipment": shipment,
            "packages": list(shipment.packages.all()) if shipment else [],
            "tracking_events": TrackingEvent.objects.filter(shipment=shipment).order_by("-occurred_at")
            if shipment
            else [],
            "history": ret.events.all(),
            "can": {
                "decide": ret.status == ReturnStatus.REQUESTED,
                "label": ret.status == ReturnStatus.AUTHORISED,
                "receive": ret.status
                in (ReturnStatus.AUTHORISED, ReturnStatus.LABEL_ISSUED, ReturnStatus.IN_TRANSIT)
                or (ret.status == ReturnStatus.RECEIVED),
                "credit": ret.status == ReturnStatus.INSPECTED,
                "cancel": ret.status
                in (ReturnStatus.REQUESTED, ReturnStatus.AUTHORISED, ReturnStatus.LABEL_ISSUED),
            },
        },
    )


ACTIONS = {
    "authorise": lambda ret_id, actor, note: services.return_authorise(
        return_id=ret_id, actor=actor, note=note
    ),
    "reject": lambda ret_id, actor, note: services.return_reject(return_id=ret_id, actor=actor, reason=note),
    "cancel": lambda ret_id, actor, note: services.return_cancel(return_id=ret_id, actor=actor, reason=note),
    "label": lambda ret_id, actor, note: services.return_label_issue(return_id=ret_id, actor=actor),
    "credit": lambda ret_id, actor, note: services.return_credit(return_id=ret_id, actor=actor),
}
DONE_TEXT = {
    "authorise": "Authorised.",
    "reject": "Rejected; the customer is told why.",
    "cancel": "Cancelled.",
    "label": "Return label bought.",
    "credit": "Credited and closed.",
}


@require_POST
@ops_required
def return_action(request: HttpRequest, return_id: int, action: str) -> HttpResponse:
    if action not in ACTIONS:
        raise Http404(f"No action {action}.")
    try:
        ACTIONS[action](return_id, Actor.for_user(request.user), request.POST.get("note", "").strip())
    except DomainError as exc:
        messages.error(request, _problem(exc))
    else:
        messages.success(request, DONE_TEXT[action])
    return redirect("returns:detail", return_id)


def _int(value: str) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 9 else None


@ops_required
def return_receive(request: HttpRequest, return_id: int) -> HttpResponse:
    """The receiving bench: scan each item (its SKU and Enter) or type the counts; say per line how many
    units go where. Counting and inspecting are one submit."""
    request.dashboard_section = "returns"
    ret = selectors.return_detail(return_id=return_id)
    if ret is None:
        raise Http404(f"No return {return_id}.")
    lines = list(ret.lines.select_related("order_line__product"))
    warehouses = list(Warehouse.objects.filter(is_active=True).order_by("code"))
    if request.method == "POST":
        problems, received, inspections = [], {}, []
        for line in lines:
            count = _int(request.POST.get(f"received-{line.pk}", "0"))
            if count is None:
                problems.append(f"{line.order_line.sku}: the count is a whole number.")
                continue
            received[line.pk] = count
            for disposition in Disposition.values:
                units = _int(request.POST.get(f"{disposition}-{line.pk}", "0"))
                if units is None:
                    problems.append(f"{line.order_line.sku}: {disposition} is a whole number.")
                elif units:
                    inspections.append(
                        InspectionInput(
                            line_id=line.pk,
                            quantity=units,
                            grade=request.POST.get(f"grade-{line.pk}", ""),
                            disposition=disposition,
                            warehouse_code=request.POST.get(f"warehouse-{line.pk}", "")
                            if disposition == "restock"
                            else "",
                            bin_code=request.POST.get(f"bin-{line.pk}", "")
                            if disposition == "restock"
                            else "",
                            lot_code=request.POST.get(f"lot-{line.pk}", "")
                            if disposition == "restock"
                            else "",
                        )
                    )
        extra_sku = request.POST.get("extra-sku", "").strip()
        if extra_sku:
            units = _int(request.POST.get("extra-quantity", "0"))
            if not units:
                problems.append("Say how many unexpected items came.")
            else:
                inspections.append(
                    InspectionInput(
                        sku=extra_sku,
                        quantity=units,
                        grade=request.POST.get("extra-grade", ""),
                        disposition=request.POST.get("extra-disposition", ""),
                        warehouse_code=request.POST.get("extra-warehouse", ""),
                    )
                )
        if problems:
            for problem in problems:
                messages.error(request, problem)
            return redirect("returns:receive", ret.pk)
        actor = Actor.for_user(request.user)
        try:
            if ret.counted_at:  # counted already (through the API): only the dispositions are new
                services.return_inspect(return_id=ret.pk, actor=actor, inspections=inspections)
            else:
                services.return_receive(
                    return_id=ret.pk, actor=actor, received=received, inspections=inspections
                )
        except DomainError as exc:
            messages.error(request, _problem(exc))
            return redirect("returns:receive", ret.pk)
        messages.success(request, f"{ret.number} received and inspected.")
        return redirect("returns:detail", ret.pk)
    return render(
        request,
        "returns/receive.html",
        {
            "ret": ret,
            "lines": lines,
            "warehouses": warehouses,
            "grades": Grade.choices,
            "dispositions": Disposition.choices,
            "counted": ret.counted_at is not None,
        },
    )


RETURNABLE_ORDER_STATUSES = (
    OrderStatus.PARTIALLY_SHIPPED,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
    OrderStatus.PARTIALLY_RETURNED,
)


@ops_required
def return_new(request: HttpRequest, order_id: int) -> HttpResponse:
    """Ops open a return for a customer: this order's lines and the customer's other orders on the same
    channel; units that shipped may come back even if never delivered (a refused parcel)."""
    request.dashboard_section = "returns"
    order = Order.objects.select_related("channel").filter(pk=order_id).first()
    if order is None:
        raise Http404(f"No order {order_id}.")
    orders = list(
        Order.objects.filter(
            customer_id=order.customer_id, channel_id=order.channel_id, status__in=RETURNABLE_ORDER_STATUSES
        )
        .exclude(pk=order.pk)
        .order_by("-id")[:10]
    )
    orders = ([order] if order.status in RETURNABLE_ORDER_STATUSES else []) + orders
    policy = services.policy_for(order.channel)
    rows = []
    for o in orders:
        facts = services.returnable(list(o.lines.all()), window_days=policy.window_days)
        for fact in facts.values():
            if fact.free(undelivered=True):
                rows.append((o, fact))
    if request.method == "POST":
        lines = []
        for o, fact in rows:
            units = _int(request.POST.get(f"units-{fact.line.pk}", "0"))
            if units:
                lines.append(
                    ReturnLineInput(
                        order_id=o.pk,
                        line_number=fact.line.line_number,
                        quantity=units,
                        reason=request.POST.get(f"reason-{fact.line.pk}", ""),
                        note=request.POST.get(f"note-{fact.line.pk}", ""),
                        exchange_sku=request.POST.get(f"exchange-{fact.line.pk}", ""),
                    )
                )
        try:
            ret = services.return_request(
                channel=None,
                source=ReturnSource.OPS,
                actor=Actor.for_user(request.user),
                lines=lines,
                credit_method=request.POST.get("credit_method", CreditMethod.REFUND),
            )
        except DomainError as exc:
            messages.error(request, _problem(exc))
            return redirect("returns:new", order.pk)
        messages.success(request, f"{ret.number} opened ({ret.get_status_display().lower()}).")
        return redirect("returns:detail", ret.pk)
    return render(
        request,
        "returns/new.html",
        {
            "order": order,
            "rows": rows,
            "reasons": services.reasons_for(order.channel),
            "methods": CreditMethod.choices,
            "window_days": policy.window_days,
            "now": timezone.now(),
        },
    )


PERIODS = (7, 30, 90, 365)


@ops_required
def return_rates(request: HttpRequest) -> HttpResponse:
    request.dashboard_section = "returns-rates"
    days = _int(request.GET.get("days", "")) or 30
    if days not in PERIODS:
        days = 30
    rates = selectors.return_rates(since=timezone.now() - timedelta(days=days))
    peak = max((n for _, n in rates.weekly), default=0)
    return render(
        request, "returns/rates.html", {"rates": rates, "days": days, "periods": PERIODS, "peak": peak}
    )


def returns_panel(order) -> tuple[str, dict] | None:
    """The order page's returns panel: the order's returns, and a way to open one."""
    found = selectors.returns_of_order(order)
    if not found and order.status not in RETURNABLE_ORDER_STATUSES:
        return None
    return "returns/_order_panel.html", {
        "returns": found,
        "order": order,
        "can_open": order.status in RETURNABLE_ORDER_STATUSES,
    }
