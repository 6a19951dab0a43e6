"""Replenishment on the dashboard: the queue of suggestions (approve, reject, order), purchase
orders (send, receive in parts), and the order page's panel of waiting lines and their expected stock.
Thin views: each calls the same services as the API."""

from datetime import date, timedelta

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from oms.dashboard import ops_required, page_of
from oms.errors import DomainError, ValidationFailed
from replenishment import documents, selectors, services
from replenishment.evaluation import stockout_risk
from replenishment.models import PurchaseOrder, PurchaseOrderStatus, Suggestion, SuggestionStatus
from replenishment.selectors import order_expected_stock


def expected_stock_panel(order) -> tuple[str, dict] | None:
    stock = order_expected_stock(order)
    if not stock["expected_stock"]:
        return None
    return "replenishment/_order_panel.html", {
        "expected": stock["expected_stock"],
        "complete_by": stock["expected_stock_date"],
    }


# --- the replenishment queue and purchase orders


COUNT_CAP = 10_000
# The alert: positions that crossed their reorder point lately and still wait for a decision.
CROSSED_WITHIN_HOURS = 24
CROSSED_SHOWN = 20


def _problem(exc: DomainError) -> str:
    if isinstance(exc.details, dict) and exc.details:
        return f"{exc.message} " + "; ".join(
            " ".join(map(str, v)) if isinstance(v, list) else str(v) for v in exc.details.values()
        )
    return exc.message


@ops_required
def suggestion_list(request: HttpRequest) -> HttpResponse:
    request.dashboard_section = "replenishment"
    status = request.GET.get("status", SuggestionStatus.OPEN)
    if status not in SuggestionStatus.values:
        status = SuggestionStatus.OPEN
    rows = (
        Suggestion.objects.filter(status=status)
        .select_related(
            "position__product", "position__warehouse", "supplier", "production_site", "source_warehouse"
        )
        .order_by("position__warehouse__code", "position__product__sku", "pk")
    )
    counts = [
        (value, label, Suggestion.objects.filter(status=value)[: COUNT_CAP + 1].count())
        for value, label in SuggestionStatus.choices
    ]
    risk = stockout_risk(window_days=settings.REPLENISHMENT_DEMAND_WINDOW_DAYS)
    since = timezone.now() - timedelta(hours=CROSSED_WITHIN_HOURS)
    crossed = list(
        Suggestion.objects.filter(status=SuggestionStatus.OPEN, created_at__gte=since)
        .select_related("position__product", "position__warehouse")
        .order_by("-pk")[: CROSSED_SHOWN + 1]  # newest first by the (status, -id) index
    )
    return render(
        request,
        "replenishment/suggestions.html",
        {
            "page": page_of(request, rows),
            "status": status,
            "counts": counts,
            "cap": COUNT_CAP,
            "risk": risk,
            "crossed": crossed[:CROSSED_SHOWN],
            "crossed_more": len(crossed) > CROSSED_SHOWN,
            "crossed_hours": CROSSED_WITHIN_HOURS,
        },
    )


@ops_required
@require_POST
def suggestion_bulk(request: HttpRequest) -> HttpResponse:
    """Approve (with the quantities typed in), reject, or order the selected suggestions."""
    ids = [int(v) for v in request.POST.getlist("suggestion") if v.isdigit()][:500]
    action = request.POST.get("action", "")
    actor = request.user.username
    if not ids:
        messages.warning(request, "Select at least one suggestion.")
    elif action == "order":
        try:
            made = services.suggestions_order(suggestion_ids=ids, actor=actor)
        except DomainError as exc:
            messages.error(request, _problem(exc))
        else:
            messages.success(
                request,
                f"Ordered: {len(made.purchase_orders)} purchase order(s) to send, {len(made.transfers)} "
                f"transfer(s), {len(made.production_orders)} production order(s).",
            )
    elif action in ("approve", "reject"):
        done, refused = 0, []
        for suggestion_id in ids:
            raw = request.POST.get(f"quantity-{suggestion_id}", "").strip()
            quantity = int(raw) if raw.isdigit() and len(raw) < 10 else None
            try:
                services.suggestion_decide(
                    suggestion_id=suggestion_id, approve=action == "approve", actor=actor, quantity=quantity
                )
                done += 1
            except DomainError as exc:
                refused.append(f"suggestion {suggestion_id}: {_problem(exc)}")
        if done:
            messages.success(
                request, f"{done} suggestion(s) {'approved' if action == 'approve' else 'rejected'}."
            )
        for line in refused[:20]:
            messages.warning(request, line)
    else:
        messages.error(request, "Choose what to do with the selected suggestions.")
    back = request.POST.get("back", "")
    return redirect(back if back.startswith("/dashboard/") else "replenishment:suggestions")


@ops_required
def purchase_order_list(request: HttpRequest) -> HttpResponse:
    request.dashboard_section = "replenishment"
    rows = (
        PurchaseOrder.objects.select_related("supplier", "warehouse")
        .prefetch_related("lines__product")
        .order_by("-pk")
    )
    status = request.GET.get("status", "")
    if status in PurchaseOrderStatus.values:
        rows = rows.filter(status=status)
    page = page_of(request, rows)
    incoming = [po for po in page.object_list if po.status in selectors.INCOMING_PO]
    serves = selectors.supplies_serve(sorted({line.product_id for po in incoming for line in po.lines.all()}))
    for po in page.object_list:
        po.serves = serves.get(str(po), [])
    return render(
        request,
        "replenishment/purchase_orders.html",
        {"page": page, "status": status, "statuses": PurchaseOrderStatus.choices},
    )


@ops_required
def purchase_order_document(request: HttpRequest, purchase_order_id: int, kind: str) -> HttpResponse:
    """The purchase order as the supplier gets it: PDF to print or attach, CSV for order entry."""
    purchase_order = get_object_or_404(
        PurchaseOrder.objects.select_related("supplier", "warehouse"), pk=purchase_order_id
    )
    if kind == "pdf":
        response = HttpResponse(documents.purchase_order_pdf(purchase_order), content_type="application/pdf")
    else:
        response = HttpResponse(documents.purchase_order_csv(purchase_order), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{purchase_order}.{kind}"'
    return response


@ops_required
@require_POST
def purchase_order_send(request: HttpRequest, purchase_order_id: int) -> HttpResponse:
    try:
        purchase_order = services.purchase_order_send(
            purchase_order_id=purchase_order_id, actor=request.user.username
        )
    except DomainError as exc:
        messages.error(request, _problem(exc))
    else:
        messages.success(request, f"{purchase_order} is sent: its units are on order.")
    return redirect("replenishment:purchase_orders")


@ops_required
@require_POST
def purchase_order_receive(request: HttpRequest, purchase_order_id: int) -> HttpResponse:
    purchase_order = get_object_or_404(PurchaseOrder, pk=purchase_order_id)
    try:
        receipts = []
        for line in purchase_order.lines.all():
            raw = request.POST.get(f"receive-{line.pk}", "").strip()
            if raw.isdigit() and len(raw) < 10 and int(raw) > 0:
                receipts.append(
                    services.ReceiptLine(
                        line.pk,
                        int(raw),
                        lot_code=request.POST.get(f"lot-{line.pk}", "").strip()[:64],
                        expiry_date=_date_or_none(request.POST.get(f"expiry-{line.pk}", "")),
                    )
                )
        services.purchase_order_receive(
            purchase_order_id=purchase_order.pk, lines=receipts, actor=request.user.username
        )
    except DomainError as exc:
        messages.error(request, _problem(exc))
    else:
        messages.success(
            request, f"Received on {purchase_order}: {sum(r.quantity for r in receipts)} unit(s)."
        )
    return redirect("replenishment:purchase_orders")


# --- production: the schedule and load of each site, starting and reporting production orders

SCHEDULE_DAYS = 14


@ops_required
def production(request: HttpRequest) -> HttpResponse:
    request.dashboard_section = "replenishment"
    schedules = selectors.production_schedules(today=timezone.localdate(), days=SCHEDULE_DAYS)
    return render(request, "replenishment/production.html", {"schedules": schedules, "days": SCHEDULE_DAYS})


@ops_required
@require_POST
def production_reschedule(request: HttpRequest, site_id: int) -> HttpResponse:
    try:
        orders = services.production_schedule(site_id=site_id)
    except DomainError as exc:
        messages.error(request, _problem(exc))
    else:
        messages.success(request, f"Rescheduled {len(orders)} production order(s), earliest due first.")
    return redirect("replenishment:production")


@ops_required
@require_POST
def production_order_action(request: HttpRequest, production_order_id: int) -> HttpResponse:
    """Start a scheduled order, or report units made (with their lot for lot-tracked SKUs)."""
    actor = request.user.username
    try:
        if request.POST.get("action") == "start":
            order = services.production_order_start(production_order_id=production_order_id, actor=actor)
            messages.success(request, f"{order} is in progress.")
        else:
            raw = request.POST.get("quantity", "").strip()
            if not (raw.isdigit() and len(raw) < 10):
                raise ValidationFailed(
                    "Say how many units were made.", details={"quantity": ["A whole number."]}
                )
            order = services.production_order_report(
                production_order_id=production_order_id,
                quantity=int(raw),
                actor=actor,
                lot_code=request.POST.get("lot", "").strip()[:64],
                expiry_date=_date_or_none(request.POST.get("expiry", "")),
            )
            messages.success(
                request,
                f"{order}: {raw} unit(s) booked into {order.site.warehouse.code}; "
                f"{order.get_status_display().lower()}.",
            )
    except DomainError as exc:
        messages.error(request, _problem(exc))
    return redirect("replenishment:production")


def _date_or_none(raw: str):
    try:
        return date.fromisoformat(raw.strip()) if raw.strip() else None
    except ValueError as exc:
        raise ValidationFailed(
            "The expiry date is invalid.", details={"expiry": ["Use YYYY-MM-DD."]}
        ) from exc
