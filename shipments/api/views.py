"""Pick lists for warehouse systems (integration keys with the ``inventory`` scope): read what to
pick, confirm what was found. Each view calls one service."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from oms.api.idempotent import idempotent_post
from oms.api.schema import IDEMPOTENCY_HEADER, errors, validated
from oms.errors import NotFound, ValidationFailed
from orders.api.auth import scope_required
from orders.models import ApiScope
from orders.services import Actor
from shipments import services
from shipments.api.serializers import PickConfirmIn, PickListOut
from shipments.models import PickList, PickListStatus

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
            data = validated(PickConfirmIn, request).validated_data
            services.pick_list_confirm(
                pick_list_id=pick_list_id,
                picked={line["id"]: line["picked"] for line in data["lines"]},
                actor=Actor.for_api_key(request.auth),
            )
            return 200, PickListOut(_pick_lists().get(pk=pick_list_id)).data, {}

        return idempotent_post(request, confirm)
