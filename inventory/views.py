"""Dashboard pages for stock: search and export, a product's positions, lots and ledger (with an
adjustment and a transfer to start), transfers, and what needs attention."""

import csv

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from inventory import selectors, services
from inventory.forms import AdjustForm, TransferForm
from inventory.models import TransferStatus
from oms.dashboard import ops_required, page_of
from oms.errors import DomainError
from orders.models import Product

LOW_STOCK_BELOW = 5
EXPIRING_WITHIN_DAYS = 30


def _stock_rows(products) -> list[dict]:
    rows = []
    for product in products:
        positions = list(product.stock_positions.all())
        rows.append(
            {
                "product": product,
                "positions": positions,
                "on_hand": sum(p.on_hand for p in positions),
                "allocated": sum(p.allocated for p in positions),
                "in_transit": sum(p.in_transit for p in positions),
                "available": sum(p.available for p in positions),
            }
        )
    return rows


@ops_required
def stock_list(request: HttpRequest) -> HttpResponse:
    request.dashboard_section = "inventory"
    text, warehouse = request.GET.get("q", ""), request.GET.get("warehouse", "")
    page = page_of(request, selectors.products_with_stock(text=text, warehouse=warehouse))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "inventory/stock_list.html",
        {
            "page": page,
            "rows": _stock_rows(page.object_list),
            "q": text,
            "warehouse": warehouse.strip().upper(),
            "warehouses": selectors.warehouse_choices(),
            "query": query.urlencode(),
        },
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


@ops_required
def stock_export(request: HttpRequest) -> StreamingHttpResponse:
    """The inventory as filtered, one row per product and warehouse, as CSV (streamed)."""
    products = selectors.products_with_stock(
        text=request.GET.get("q", ""), warehouse=request.GET.get("warehouse", "")
    )
    writer = csv.writer(_Echo())
    header = [
        "sku",
        "product",
        "warehouse",
        "on_hand",
        "allocated",
        "safety_stock",
        "in_transit",
        "available",
    ]

    def rows():
        yield "\ufeff" + writer.writerow(header)
        for product in products.iterator(chunk_size=500):
            for p in product.stock_positions.all():
                figures = [p.on_hand, p.allocated, p.safety_stock, p.in_transit, p.available]
                yield writer.writerow([product.sku, product.name, p.warehouse.code, *figures])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="stock-{timezone.localdate():%Y%m%d}.csv"'
    return response


@ops_required
def stock_detail(request: HttpRequest, sku: str) -> HttpResponse:
    request.dashboard_section = "inventory"
    product = Product.objects.filter(sku=sku.upper()).first()
    if product is None:
        raise Http404(f"No product with SKU {sku}.")
    positions = list(
        product.stock_positions.select_related("warehouse", "default_bin").order_by("warehouse__code")
    )
    return render(
        request,
        "inventory/stock_detail.html",
        {
            "product": product,
            "positions": positions,
            "lots": selectors.lots_of(product),
            "movements": selectors.position_history(product=product),
            "transfers": list(selectors.transfers().filter(product=product)[:20]),
            "adjust_form": AdjustForm(),
            "transfer_form": TransferForm(initial={"sku": product.sku}),
            "today": timezone.localdate(),
        },
    )


def _form_problems(form) -> str:
    return "; ".join(
        f"{form.fields[k].label if k in form.fields else k}: {' '.join(v)}" for k, v in form.errors.items()
    )


@require_POST
@ops_required
def stock_adjust(request: HttpRequest, sku: str) -> HttpResponse:
    product = Product.objects.filter(sku=sku.upper()).first()
    if product is None:
        raise Http404(f"No product with SKU {sku}.")
    form = AdjustForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Not adjusted: {_form_problems(form)}")
    else:
        try:
            position = services.stock_adjust(
                warehouse=form.cleaned_data["warehouse"],
                product=product,
                delta=form.cleaned_data["delta"],
                reason=form.cleaned_data["reason"],
                actor=request.user.get_username(),
            )
        except DomainError as exc:
            messages.error(request, f"Not adjusted: {exc.message} {_details(exc)}")
        else:
            messages.success(
                request, f"{product.sku} at {position.warehouse.code}: now {position.on_hand} on hand."
            )
    return redirect("inventory:stock_detail", sku=product.sku)


def _details(exc: DomainError) -> str:
    if isinstance(exc.details, dict):
        return " ".join(
            " ".join(str(m) for m in v) if isinstance(v, list) else str(v) for v in exc.details.values()
        )
    return ""


@ops_required
def transfer_list(request: HttpRequest) -> HttpResponse:
    request.dashboard_section = "inventory-transfers"
    status, warehouse = request.GET.get("status", ""), request.GET.get("warehouse", "")
    if status not in TransferStatus.values:
        status = ""
    page = page_of(request, selectors.transfers(status=status, warehouse=warehouse))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "inventory/transfer_list.html",
        {
            "page": page,
            "status": status,
            "statuses": TransferStatus.choices,
            "warehouse": warehouse.strip().upper(),
            "warehouses": selectors.warehouse_choices(),
            "form": TransferForm(),
            "query": query.urlencode(),
        },
    )


@require_POST
@ops_required
def transfer_create(request: HttpRequest) -> HttpResponse:
    form = TransferForm(request.POST)
    back = request.POST.get("back") or "transfers"
    if not form.is_valid():
        messages.error(request, f"No transfer: {_form_problems(form)}")
    else:
        data = form.cleaned_data
        try:
            transfer = services.transfer_request(
                sku=data["sku"],
                from_code=data["from_warehouse"].code,
                to_code=data["to_warehouse"].code,
                quantity=data["quantity"],
                ship=data["ship"],
                actor=request.user.get_username(),
            )
        except DomainError as exc:
            messages.error(request, f"No transfer: {exc.message} {_details(exc)}")
        else:
            messages.success(
                request,
                f"Transfer {transfer.pk}: {transfer.quantity} x {transfer.product.sku} "
                f"{transfer.from_warehouse.code} → {transfer.to_warehouse.code}, "
                f"{transfer.get_status_display().lower()}.",
            )
    if back == "product" and form.is_valid():
        return redirect("inventory:stock_detail", sku=form.cleaned_data["sku"].strip().upper())
    return redirect("inventory:transfer_list")


TRANSFER_ACTIONS = {
    "ship": services.transfer_ship,
    "receive": services.transfer_receive,
    "cancel": services.transfer_cancel,
}


@require_POST
@ops_required
def transfer_action(request: HttpRequest, transfer_id: int, action: str) -> HttpResponse:
    service = TRANSFER_ACTIONS.get(action)
    if service is None:
        raise Http404("No such action.")
    try:
        transfer = service(transfer_id=transfer_id, actor=request.user.get_username())
    except DomainError as exc:
        messages.error(request, f"Transfer {transfer_id}: {exc.message} {_details(exc)}")
    else:
        messages.success(request, f"Transfer {transfer.pk} is {transfer.get_status_display().lower()}.")
    return redirect(request.POST.get("next") or "inventory:transfer_list")


@ops_required
def stock_alerts(request: HttpRequest) -> HttpResponse:
    request.dashboard_section = "inventory-alerts"
    return render(
        request,
        "inventory/stock_alerts.html",
        {
            "low": selectors.low_stock(below=LOW_STOCK_BELOW),
            "expiring": selectors.expiring_lots(within_days=EXPIRING_WITHIN_DAYS),
            "below": LOW_STOCK_BELOW,
            "within": EXPIRING_WITHIN_DAYS,
        },
    )
