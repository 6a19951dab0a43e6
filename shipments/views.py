"""Dashboard pages for fulfilment: each warehouse's work queue, pick lists (printable), shipments
with their labels. Thin: every change goes through shipments.services."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from inventory import selectors as inventory_selectors
from inventory.models import Warehouse
from oms.dashboard import ops_required
from oms.errors import DomainError
from orders.models import Order
from orders.services import Actor
from shipments import printouts, selectors, services
from shipments.labels import LABEL_CONTENT_TYPES
from shipments.models import LabelFormat, PickList, PickListLine, Shipment, ShipmentDirection


def _problem(exc: DomainError) -> str:
    """The refusal in one line for a dashboard message, with what it says per field or line."""
    details = exc.details if isinstance(exc.details, dict) else {}
    reasons = [
        reason
        for value in details.values()
        if isinstance(value, list)
        for reason in value
        if isinstance(reason, str)
    ]
    return f"{exc.message} {'; '.join(reasons)}".strip() if reasons else exc.message


def fulfilment_panel(order) -> tuple[str, dict] | None:
    """The order page's fulfilment panel: its pick list lines, packages waiting and shipments."""
    picks = list(
        PickListLine.objects.filter(order_line__order=order)
        .select_related("pick_list__warehouse")
        .order_by("pick_list_id", "bin_code", "sku")
    )
    shipments = list(
        order.shipments.filter(direction=ShipmentDirection.OUTBOUND)
        .select_related("warehouse", "service__carrier")
        .prefetch_related("packages")
        .order_by("pk")
    )
    promised: dict[str, dict] = {}
    for held in inventory_selectors.active_allocations(order.pk):
        entry = promised.setdefault(held["warehouse"], {"warehouse_id": held["warehouse_id"], "units": 0})
        entry["units"] += held["quantity"]
    if not picks and not shipments and not promised:
        return None
    waiting = {
        warehouse_id: units
        for warehouse_id in {p.pick_list.warehouse_id for p in picks}
        if (units := sum(services.packable_units(order_id=order.pk, warehouse_id=warehouse_id).values()))
    }
    return "shipments/_order_panel.html", {
        "order": order,
        "picks": picks,
        "shipments": shipments,
        "to_pack": waiting,
        "promised": promised,
    }


@require_POST
@ops_required
def warehouse_reject(request: HttpRequest, order_id: int) -> HttpResponse:
    try:
        services.warehouse_reject_order(
            order_id=order_id,
            warehouse_id=int(request.POST.get("warehouse_id") or 0),
            actor=Actor.for_user(request.user),
            reason=request.POST.get("reason", ""),
        )
    except DomainError as exc:
        messages.error(request, _problem(exc))
    else:
        messages.success(request, "Withdrawn from that warehouse and routed again.")
    return redirect("dashboard:order_detail", order_id)


@ops_required
def work_queue(request: HttpRequest) -> HttpResponse:
    request.dashboard_section = "fulfilment"
    return render(request, "shipments/work_queue.html", {"queues": selectors.work_queues()})


@require_POST
@ops_required
def wave_release(request: HttpRequest, warehouse_id: int) -> HttpResponse:
    try:
        pick_list = services.wave_release(warehouse_id=warehouse_id, actor=Actor.for_user(request.user))
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("shipments:work_queue")
    if pick_list is None:
        messages.info(request, "Nothing waits to be picked there.")
        return redirect("shipments:work_queue")
    messages.success(request, f"Pick list {pick_list.number} released.")
    return redirect("shipments:pick_list", pick_list.pk)


@ops_required
def pick_list_detail(request: HttpRequest, pick_list_id: int) -> HttpResponse:
    request.dashboard_section = "fulfilment"
    pick_list = PickList.objects.select_related("warehouse").filter(pk=pick_list_id).first()
    if pick_list is None:
        raise Http404(f"No pick list {pick_list_id}.")
    lines = list(
        pick_list.lines.select_related("order_line__order").order_by("bin_code", "sku", "order_line_id")
    )
    if request.method == "POST":
        try:
            picked = {line.pk: int(request.POST.get(f"line-{line.pk}", "")) for line in lines}
        except ValueError:
            messages.error(request, "Every line needs a whole number of units found.")
            return redirect("shipments:pick_list", pick_list.pk)
        try:
            services.pick_list_confirm(
                pick_list_id=pick_list.pk, picked=picked, actor=Actor.for_user(request.user)
            )
        except DomainError as exc:
            messages.error(request, _problem(exc))
        else:
            short = sum(line.quantity - picked[line.pk] for line in lines)
            messages.success(
                request,
                f"{pick_list.number} confirmed"
                + (f"; {short} unit(s) short went back to routing." if short else "."),
            )
        return redirect("shipments:pick_list", pick_list.pk)
    return render(request, "shipments/pick_list.html", {"pick_list": pick_list, "lines": lines})


@ops_required
def pack(request: HttpRequest, warehouse_id: int, order_id: int) -> HttpResponse:
    """The pack station: a scanner types a SKU and Enter; each scan puts one unit in the box."""
    request.dashboard_section = "fulfilment"
    order = Order.objects.filter(pk=order_id).first()
    warehouse = Warehouse.objects.filter(pk=warehouse_id).first()
    if order is None or warehouse is None:
        raise Http404("No such order or warehouse.")
    waiting = services.packable_units(order_id=order.pk, warehouse_id=warehouse.pk)
    lines = [
        (line, waiting[line.pk])
        for line in order.lines.select_related("product").order_by("line_number")
        if line.pk in waiting
    ]
    if request.method == "POST":
        actor = Actor.for_user(request.user)
        try:
            contents = {line.pk: int(request.POST.get(f"line-{line.pk}") or 0) for line, _ in lines}
            measures = {
                name: int(request.POST.get(name) or 0)
                for name in ("weight_grams", "length_mm", "width_mm", "height_mm")
            }
        except ValueError:
            messages.error(request, "Counts and measures are whole numbers.")
            return redirect("shipments:pack", warehouse.pk, order.pk)
        try:
            package = services.package_create(
                order_id=order.pk, warehouse_id=warehouse.pk, contents=contents, actor=actor, **measures
            )
        except DomainError as exc:
            messages.error(request, _problem(exc))
            return redirect("shipments:pack", warehouse.pk, order.pk)
        if request.POST.get("ship_now"):
            try:
                shipment = services.shipment_create(package_ids=[package.pk], actor=actor)
            except DomainError as exc:
                messages.error(request, f"Packed; no shipment yet: {_problem(exc)}")
                return redirect("shipments:work_queue")
            try:
                services.shipment_buy_labels(shipment_id=shipment.pk, actor=actor)
            except DomainError as exc:
                messages.error(request, f"Packed; the label is not bought: {_problem(exc)}")
            else:
                messages.success(request, f"Packed; label ready for {shipment.reference}.")
            return redirect("shipments:shipment", shipment.pk)
        messages.success(request, "Packed.")
        return redirect("shipments:work_queue")
    return render(request, "shipments/pack.html", {"order": order, "warehouse": warehouse, "lines": lines})


@require_POST
@ops_required
def pick_list_cancel(request: HttpRequest, pick_list_id: int) -> HttpResponse:
    try:
        pick_list = services.pick_list_cancel(pick_list_id=pick_list_id, actor=Actor.for_user(request.user))
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("shipments:pick_list", pick_list_id)
    messages.success(request, f"{pick_list.number} withdrawn; its units go on the next wave.")
    return redirect("shipments:work_queue")


@ops_required
def pick_list_pdf(request: HttpRequest, pick_list_id: int) -> HttpResponse:
    pick_list = PickList.objects.select_related("warehouse").filter(pk=pick_list_id).first()
    if pick_list is None:
        raise Http404(f"No pick list {pick_list_id}.")
    lines = list(
        pick_list.lines.select_related("order_line__order").order_by("bin_code", "sku", "order_line_id")
    )
    response = HttpResponse(printouts.pick_list_pdf(pick_list, lines), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{pick_list.number}.pdf"'
    return response


@ops_required
def shipment_detail(request: HttpRequest, shipment_id: int) -> HttpResponse:
    request.dashboard_section = "fulfilment"
    shipment = (
        Shipment.objects.select_related("order", "warehouse", "service__carrier")
        .filter(pk=shipment_id)
        .first()
    )
    if shipment is None:
        raise Http404(f"No shipment {shipment_id}.")
    packages = list(shipment.packages.prefetch_related("lines__order_line", "labels").order_by("pk"))
    return render(
        request,
        "shipments/shipment.html",
        {"shipment": shipment, "packages": packages, "events": shipment.events.all()},
    )


@require_POST
@ops_required
def shipment_action(request: HttpRequest, shipment_id: int, action: str) -> HttpResponse:
    actor = Actor.for_user(request.user)
    operations = {
        "buy-labels": lambda: services.shipment_buy_labels(shipment_id=shipment_id, actor=actor),
        "hand-over": lambda: services.shipment_hand_over(shipment_id=shipment_id, actor=actor),
        "cancel": lambda: services.shipment_cancel(
            shipment_id=shipment_id, actor=actor, reason="cancelled by ops"
        ),
    }
    if action not in operations:
        raise Http404("No such action.")
    try:
        shipment = operations[action]()
    except DomainError as exc:
        messages.error(request, _problem(exc))
    else:
        messages.success(request, f"Shipment {shipment.reference}: {shipment.get_status_display().lower()}.")
    return redirect("shipments:shipment", shipment_id)


@ops_required
def label_download(request: HttpRequest, package_id: int, format: str) -> HttpResponse:
    try:
        label = services.label_of(package_id=package_id, format=format)
    except DomainError as exc:
        raise Http404(exc.message) from exc
    response = HttpResponse(bytes(label.content), content_type=LABEL_CONTENT_TYPES[label.format])
    disposition = "inline" if label.format == LabelFormat.PDF else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="label-{package_id}.{label.format}"'
    return response


def print_pick_lists_for(
    *, order_ids: list[int], user, note: str = ""
) -> HttpResponse | tuple[int, list[str]]:
    """The order list's bulk action: pick lists for the selected orders, as one PDF to print."""
    lists = services.pick_lists_for_orders(order_ids=order_ids, actor=Actor.for_user(user))
    if not lists:
        return 0, [
            "None of the selected orders has units waiting to be picked (allocated and not listed yet)."
        ]
    loaded = [
        (pick_list, list(pick_list.lines.select_related("order_line__order").order_by("pk")))
        for pick_list in PickList.objects.filter(pk__in=[p.pk for p in lists]).select_related("warehouse")
    ]
    response = HttpResponse(printouts.pick_lists_pdf(loaded), content_type="application/pdf")
    response["Content-Disposition"] = 'inline; filename="pick-lists.pdf"'
    return response
