"""Pick lists for warehouse systems (integration keys with the ``inventory`` scope): read what to
pick, confirm what was found. Each view calls one service."""

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from oms.api.idempotent import idempotent_post
from oms.api.schema import IDEMPOTENCY_HEADER, checked, errors
from oms.errors import NotFound, ValidationFailed
from orders.api.auth import scope_required
from orders.models import ApiScope
from orders.services import Actor
from shipments import services
from shipments.api.serializers import PackageIn, PackedOut, PickConfirmIn, PickListOut
from shipments.labels import LABEL_CONTENT_TYPES
from shipments.models import Package, PickList, PickListStatus, Shipment

WarehouseScope = scope_required(ApiScope.INVENTORY)


def _pick_lists():
    return PickList.objects.select_related("warehouse").prefetch_related("lines__order_line__order")


class PickListsView(APIView):
    permission_classes = [WarehouseScope]

    @extend_schema(
        operation_id="pick_lists",
        summary="Pick lists of a warehouse",
        parameters=[
            OpenApiParameter("warehouse", str, required=True, description="Warehouse code, e.g. ATH1."),
            OpenApiParameter("status", str, enum=PickListStatus.values, description="Default: open."),
        ],
        responses={200: PickListOut(many=True), **errors(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        warehouse = request.query_params.get("warehouse", "").strip().upper()
        status = request.query_params.get("status", PickListStatus.OPEN)
        problems = {}
        if not warehouse:
            problems["warehouse"] = ["Give the warehouse's code."]
        if status not in PickListStatus.values:
            problems["status"] = [f"One of {', '.join(PickListStatus.values)}."]
        if problems:
            raise ValidationFailed("The query is incomplete.", details=problems)
        lists = _pick_lists().filter(warehouse__code=warehouse, status=status).order_by("pk")[:200]
        return Response(PickListOut(lists, many=True).data)


class PickListConfirmView(APIView):
    permission_classes = [WarehouseScope]

    @extend_schema(
        operation_id="pick_list_confirm",
        summary="Confirm what was found",
        description=(
            "Every open line needs its count; problems are reported per line id (`lines.<id>`). Units "
            "found short are taken off the shelf's figure and routed to the next warehouse."
        ),
        parameters=[IDEMPOTENCY_HEADER],
        request=PickConfirmIn,
        responses={200: PickListOut, **errors(400, 401, 403, 404, 409, 422)},
    )
    def post(self, request: Request, pick_list_id: int) -> Response:
        def confirm() -> tuple[int, dict, dict[str, str]]:
            if not PickList.objects.filter(pk=pick_list_id).exists():
                raise NotFound(f"Pick list {pick_list_id} does not exist.")
            body = checked(PickConfirmIn, request)
            services.pick_list_confirm(
                pick_list_id=pick_list_id,
                picked={line["id"]: line["picked"] for line in body.data["lines"] if line["id"]},
                actor=Actor.for_api_key(request.auth),
                extra_errors=body.errors,
            )
            return 200, PickListOut(_pick_lists().get(pk=pick_list_id)).data, {}

        return idempotent_post(request, confirm)


class PackagesView(APIView):
    permission_classes = [WarehouseScope]

    @extend_schema(
        operation_id="package_create",
        summary="Pack picked units of an order",
        description=(
            "Puts picked units into one measured package. With `ship` (the default) a draft shipment is "
            "created with the service mapped to the order's service level: buy its label next."
        ),
        parameters=[IDEMPOTENCY_HEADER],
        request=PackageIn,
        responses={201: PackedOut, **errors(400, 401, 403, 404, 409, 422)},
    )
    def post(self, request: Request) -> Response:
        def pack() -> tuple[int, dict, dict[str, str]]:
            body = checked(PackageIn, request)
            data = body.data
            actor = Actor.for_api_key(request.auth)
            package = services.package_pack(
                order_number=data["order"],
                warehouse_code=data["warehouse"],
                contents={c["line_number"]: c["quantity"] for c in data["contents"] if c["line_number"]},
                weight_grams=data["weight_grams"],
                length_mm=data["length_mm"],
                width_mm=data["width_mm"],
                height_mm=data["height_mm"],
                actor=actor,
                extra_errors=body.errors,
            )
            if data["ship"]:
                services.shipment_create(package_ids=[package.pk], actor=actor)
            return 201, packed(package.pk), {}

        return idempotent_post(request, pack)


class ShipmentLabelsView(APIView):
    permission_classes = [WarehouseScope]

    @extend_schema(
        operation_id="shipment_buy_labels",
        summary="Buy the shipment's labels",
        description=(
            "Safe to call again: after a timeout (503) the carrier is asked before anything is bought, and "
            "a shipment with labels answers with them. A carrier's refusal is 422 with its reasons."
        ),
        request=None,
        responses={
            200: PackedOut(many=True),
            **errors(
                401,
                403,
                404,
                409,
                422,
                503,
                _422="The carrier refused; its reasons are in `details.carrier`.",
            ),
        },
    )
    def post(self, request: Request, shipment_id: int) -> Response:
        if not Shipment.objects.filter(pk=shipment_id).exists():
            raise NotFound(f"Shipment {shipment_id} does not exist.")
        services.shipment_buy_labels(shipment_id=shipment_id, actor=Actor.for_api_key(request.auth))
        packages = Package.objects.filter(shipment_id=shipment_id).order_by("pk")
        return Response([packed(p.pk) for p in packages])


class ShipmentHandOverView(APIView):
    permission_classes = [WarehouseScope]

    @extend_schema(
        operation_id="shipment_hand_over",
        summary="The carrier took the shipment",
        request=None,
        responses={200: PackedOut(many=True), **errors(401, 403, 404, 409)},
    )
    def post(self, request: Request, shipment_id: int) -> Response:
        if not Shipment.objects.filter(pk=shipment_id).exists():
            raise NotFound(f"Shipment {shipment_id} does not exist.")
        services.shipment_hand_over(shipment_id=shipment_id, actor=Actor.for_api_key(request.auth))
        packages = Package.objects.filter(shipment_id=shipment_id).order_by("pk")
        return Response([packed(p.pk) for p in packages])


class PackageLabelView(APIView):
    permission_classes = [WarehouseScope]

    @extend_schema(
        operation_id="package_label",
        summary="A package's label file (pdf or zpl)",
        responses={(200, "application/pdf"): bytes, **errors(401, 403, 404)},
    )
    def get(self, request: Request, package_id: int, kind: str) -> HttpResponse:
        # "kind", not "format": DRF reads a "format" URL argument as a renderer to negotiate.
        label = services.label_of(package_id=package_id, format=kind)
        return HttpResponse(bytes(label.content), content_type=LABEL_CONTENT_TYPES[label.format])


def packed(package_id: int) -> dict:
    package = Package.objects.select_related("shipment").get(pk=package_id)
    formats = set(package.labels.values_list("format", flat=True))
    base = f"/api/v1/fulfilment/packages/{package.pk}/label"
    return {
        "package_id": package.pk,
        "shipment_id": package.shipment_id,
        "shipment": package.shipment.reference if package.shipment else None,
        "shipment_status": package.shipment.status if package.shipment else None,
        "tracking_number": package.tracking_number,
        "label_pdf": f"{base}.pdf" if "pdf" in formats else None,
        "label_zpl": f"{base}.zpl" if "zpl" in formats else None,
    }
