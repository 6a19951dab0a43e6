"""The webhooks page: each endpoint with what waits for it and what was given up, the delivery log
with each try's request and answer, and replay of chosen deliveries or of a whole time range. Thin
views: writes go through integrations.services."""

import json

from django.contrib import messages as flash
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from integrations import selectors, services
from integrations.forms import DeliveryFilterForm, ImportUploadForm, RangeReplayForm
from integrations.models import (
    ShopWebhook,
    ShopWebhookStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookStatus,
)
from integrations.shops import services as shops
from integrations.shops import sync as shop_sync
from oms.dashboard import ops_required, page_of
from oms.errors import DomainError

REPLAY_SELECTED_MAX = 500


def disabled_endpoints_banner(request: HttpRequest) -> tuple[str, str] | None:
    """While an integration's endpoint is disabled after failing, every dashboard page says so."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return None
    count = WebhookEndpoint.objects.filter(is_active=False, disabled_at__isnull=False).count()
    if not count:
        return None
    plural = "s" if count != 1 else ""
    return (f"{count} webhook endpoint{plural} disabled after failing", reverse("integrations:webhooks"))


def shop_attention_banner(request: HttpRequest) -> tuple[str, str] | None:
    """While a shop's order could not be taken (a SKU we do not know), every dashboard page says so."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return None
    count = ShopWebhook.objects.filter(status=ShopWebhookStatus.FAILED)[:100].count()
    if not count:
        return None
    shown = f"{count}+" if count >= 100 else str(count)
    return (
        f"{shown} shop order{'s' if count != 1 else ''} could not be taken: see why",
        reverse("integrations:shops") + "?status=failed",
    )


def _back(request: HttpRequest) -> str:
    back = request.POST.get("back", "")
    return back if back.startswith("/dashboard/") else reverse("integrations:webhooks")


@ops_required
def webhooks(request: HttpRequest) -> HttpResponse:
    request.dashboard_section = "integrations"
    form = DeliveryFilterForm(request.GET or None)
    values: dict = {}
    if form.is_bound and form.is_valid():
        values = form.cleaned_data
    start, end = form.bounds() if values else (None, None)
    endpoint = values.get("endpoint")
    rows = selectors.deliveries_log(
        endpoint_id=endpoint.pk if endpoint else None,
        status=values.get("status", ""),
        event=values.get("event", ""),
        start=start,
        end=end,
    )
    page = page_of(request, rows)
    query = request.GET.copy()
    query.pop("page", None)
    chips = request.GET.copy()
    chips.pop("page", None)
    chips.pop("status", None)
    return render(
        request,
        "integrations/webhooks.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "chip_query": chips.urlencode(),
            "status": values.get("status", ""),
            "counts": selectors.status_counts(endpoint_id=endpoint.pk if endpoint else None),
            "cap": selectors.COUNT_CAP,
            "endpoints": selectors.endpoints_overview(),
            "replay_form": RangeReplayForm(
                initial={
                    "endpoint": endpoint.pk if endpoint else None,
                    "event": values.get("event", ""),
                    "start": values.get("start"),
                    "end": values.get("end"),
                    "status": values.get("status") or WebhookStatus.FAILED,
                }
            ),
        },
    )


@ops_required
def delivery_detail(request: HttpRequest, delivery_id: int) -> HttpResponse:
    request.dashboard_section = "integrations"
    delivery = get_object_or_404(WebhookDelivery.objects.select_related("endpoint__api_key"), pk=delivery_id)
    try:  # indented for reading; what was signed and sent is the compact text, byte for byte
        body = json.dumps(json.loads(delivery.body), indent=2, sort_keys=True, ensure_ascii=False)
    except ValueError:
        body = delivery.body
    return render(request, "integrations/delivery.html", {"delivery": delivery, "body": body})


@ops_required
@require_POST
def replay_selected(request: HttpRequest) -> HttpResponse:
    ids = [int(v) for v in request.POST.getlist("delivery") if v.isdigit()][:REPLAY_SELECTED_MAX]
    count = services.deliveries_replay(delivery_ids=ids)
    skipped = len(ids) - count
    flash.success(request, f"{count} deliver{'y' if count == 1 else 'ies'} will be sent again.")
    if skipped:
        flash.warning(request, f"{skipped} already on their way (waiting to be sent) were left as they are.")
    return redirect(_back(request))


@ops_required
@require_POST
def replay_range(request: HttpRequest) -> HttpResponse:
    form = RangeReplayForm(request.POST)
    if not form.is_valid():
        for field, problems in form.errors.items():
            label = form.fields[field].label or field if field in form.fields else "Range"
            flash.error(request, f"Not sent again. {label}: {' '.join(problems)}")
        return redirect(_back(request))
    start, end = form.bounds()
    endpoint = form.cleaned_data["endpoint"]
    try:
        count = services.deliveries_replay_range(
            start=start,
            end=end,
            endpoint_id=endpoint.pk if endpoint else None,
            event=form.cleaned_data["event"],
            statuses=(form.cleaned_data["status"],),
        )
    except DomainError as exc:
        flash.error(request, exc.message)
        return redirect(_back(request))
    flash.success(
        request,
        f"{count} deliver{'y' if count == 1 else 'ies'} from {form.cleaned_data['start']:%d %b %Y} to "
        f"{form.cleaned_data['end']:%d %b %Y} will be sent again, in order.",
    )
    return redirect(_back(request))


@ops_required
@require_POST
def endpoint_enable(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id)
    services.endpoint_enable(endpoint_id=endpoint.pk)
    flash.success(request, f"{endpoint.url} is enabled again; what waited for it is sent now.")
    return redirect(_back(request))


@ops_required
def shop_inbox(request: HttpRequest) -> HttpResponse:
    """What the shops sent and what became of it; the calls that could not be applied first to fix."""
    request.dashboard_section = "integrations"
    status = request.GET.get("status", "")
    status = status if status in ShopWebhookStatus.values else ""
    connection = request.GET.get("shop", "")
    connection_id = int(connection) if connection.isdigit() and len(connection) < 10 else None
    query = request.GET.get("q", "").strip()[:100]
    page = page_of(request, selectors.shop_webhooks(connection_id=connection_id, status=status, query=query))
    params = request.GET.copy()
    params.pop("page", None)
    chips = params.copy()
    chips.pop("status", None)
    return render(
        request,
        "integrations/shops.html",
        {
            "page": page,
            "status": status,
            "shop": connection_id,
            "q": query,
            "query": params.urlencode(),
            "chip_query": chips.urlencode(),
            "counts": selectors.shop_counts(connection_id=connection_id),
            "cap": selectors.COUNT_CAP,
            "connections": selectors.shop_connections(),
        },
    )


@ops_required
@require_POST
def shop_retry(request: HttpRequest) -> HttpResponse:
    ids = [int(v) for v in request.POST.getlist("call") if v.isdigit()][:REPLAY_SELECTED_MAX]
    applied, refused = 0, []
    for webhook_id in ids:
        try:
            hook = shops.shop_webhook_retry(webhook_id=webhook_id)
        except (DomainError, ShopWebhook.DoesNotExist) as exc:
            refused.append(getattr(exc, "message", f"call {webhook_id} does not exist"))
            continue
        if hook.status == ShopWebhookStatus.FAILED:
            refused.append(f"{hook.external_id}: still {hook.outcome}")
        else:
            applied += 1
    if applied:
        flash.success(request, f"{applied} shop call{'s' if applied != 1 else ''} applied.")
    for line in refused[:20]:
        flash.warning(request, line)
    back = request.POST.get("back", "")
    return redirect(back if back.startswith("/dashboard/") else "integrations:shops")


def shop_panel(order) -> tuple[str, dict] | None:
    """The order page's shop panel, for an order that came from a connected shop: what the shop was
    told (its fulfilments, the cancellation), or is still to be told, with the last answer."""
    from integrations.models import ShopOrderLink

    link = ShopOrderLink.objects.select_related("connection").filter(order_id=order.pk).first()
    if link is None:
        return None
    return "integrations/_order_panel.html", {"link": link, "syncs": shop_sync.order_syncs(order.pk)}


@ops_required
@require_POST
def shop_sync_retry(request: HttpRequest, sync_id: int) -> HttpResponse:
    from integrations.models import ShopSync

    sync = get_object_or_404(ShopSync.objects.select_related("link"), pk=sync_id)
    try:
        shop_sync.shop_sync_retry(sync_id=sync.pk)
    except DomainError as exc:
        flash.error(request, exc.message)
    else:
        outcome = shop_sync.shop_sync_send(sync_id=sync.pk)
        if outcome == "sent":
            flash.success(request, "The shop has been told.")
        else:
            flash.warning(request, "The shop did not take it yet: it is tried again with a growing pause.")
    return redirect("dashboard:order_detail", sync.link.order_id)


@ops_required
def imports_page(request: HttpRequest) -> HttpResponse:
    """Upload a marketplace's file of orders, and the recent imports with how they went."""
    from integrations import imports
    from integrations.models import OrderImport

    request.dashboard_section = "integrations"
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        raw = upload.read(imports.MAX_BYTES + 1)
        try:
            imp = imports.order_import_create(
                channel=form.cleaned_data["channel"],
                file_name=upload.name,
                raw=raw,
                uploaded_by=request.user.get_username(),
            )
        except DomainError as exc:
            for problems in (exc.details or {}).values():
                for problem in problems:
                    form.add_error("file", problem)
        else:
            return redirect("integrations:import", imp.pk)
    recent = OrderImport.objects.select_related("channel").defer("content").order_by("-id")[:30]
    return render(
        request,
        "integrations/imports.html",
        {
            "form": form,
            "recent": recent,
            "max_mb": imports.MAX_BYTES // (1024 * 1024),
            "max_orders": imports.MAX_ORDERS,
        },
    )


@ops_required
def import_detail(request: HttpRequest, import_id: int) -> HttpResponse:
    from integrations.models import OrderImport

    request.dashboard_section = "integrations"
    imp = get_object_or_404(OrderImport.objects.select_related("channel").defer("content"), pk=import_id)
    template = (
        "integrations/_import_progress.html"
        if request.headers.get("HX-Request")
        else "integrations/import.html"
    )
    return render(request, template, {"imp": imp})
