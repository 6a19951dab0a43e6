"""Dashboard pages for stock: search, a product's positions, lots and ledger, and what needs attention."""

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from inventory import selectors
from oms.dashboard import ops_required
from orders.models import Product

LOW_STOCK_BELOW = 5
EXPIRING_WITHIN_DAYS = 30


@ops_required
def stock_list(request: HttpRequest) -> HttpResponse:
    request.dashboard_section = "inventory"
    text = request.GET.get("q", "")
    page = Paginator(selectors.products_with_stock(text=text), settings.DASHBOARD_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    rows = []
    for product in page.object_list:
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
    return render(request, "inventory/stock_list.html", {"page": page, "rows": rows, "q": text})


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
            "today": timezone.localdate(),
        },
    )


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
