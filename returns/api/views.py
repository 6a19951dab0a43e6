"""Returns for channels (ask, follow, withdraw their own customers' returns) and for warehouse systems
(receive and inspect what arrives). Each view parses, calls one service and shapes the answer."""

import django_filters
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from oms.api.idempotent import idempotent_post
from oms.api.lists import CheckedCursorPagination, UtcIsoDateTimeFilter
from oms.api.schema import IDEMPOTENCY_HEADER, checked, errors
from oms.api.schema import validated as _validated
from oms.errors import NotFound, ValidationFailed
from orders.api.auth import IsChannelKey, scope_required
from orders.models import ApiScope
from orders.services import Actor
from returns import selectors, services
from returns.api.serializers import (
    CreditRecordOut,
    InspectIn,
    InspectionIn,
    ReasonOut,
    ReceiveIn,
    ReturnCancelIn,
    ReturnCreateIn,
    ReturnOut,
    credit_json,
    return_json,
)
from returns.models import Credit, CreditMethod, Return, ReturnSource, ReturnStatus
from shipments import services as shipping

WarehouseScope = scope_required(ApiScope.INVENTORY)


class ReturnFilter(django_filters.FilterSet):
    status = django_filters.BaseInFilter(
        field_name="status",
        help_text=f"One status or several, comma-separated: {', '.join(ReturnStatus.values)}.",
    )
    updated_since = UtcIsoDateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        help_text="Returns changed at or after this ISO 8601 time.",
    )

    class Meta:
        model = Return
        fields = ["status", "updated_since"]

    def filter_queryset(self, queryset):
        unknown = [s for s in self.form.cleaned_data.get("status") or [] if s not in ReturnStatus.values]
        if unknown:
            raise ValidationFailed(
                "Unknown status.", details={"status": [f"Unknown status '{s}'." for s in unknown]}
            )
        return super().filter_queryset(queryset)


class ReturnCursorPagination(CheckedCursorPagination):
    ordering = "-id"
    page_size = 50
    max_page_size = 200


class ReturnsView(GenericAPIView):
    permission_classes = [IsChannelKey]
    filterset_class = ReturnFilter
    pagination_class = ReturnCursorPagination
    serializer_class = ReturnOut

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Return.objects.none()
        return selectors.returns_with_lines().filter(channel_id=self.request.auth.channel_id)

    @extend_schema(
        operation_id="returns_list",
        summary="List your channel's returns",
        description="Newest first, cursor-paginated: follow `next` until it is null.",
        responses={200: ReturnOut(many=True), **errors(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response([return_json(ret) for ret in page])

    @extend_schema(
        operation_id="returns_create",
        summary="Ask for a return",
        description=(
            "Names lines of your channel's orders, the units and a reason code each. Several orders of the "
            "same customer may be in one return. Only delivered units that are not returned or asked back "
            "yet, inside your return policy's window, can be asked back; problems are reported per line "
            "(`lines.<index>.<field>`). The policy then approves the return at once (`authorised`, with "
            "the `return_location` to send it to) or leaves it to a person (`requested`)."
        ),
        parameters=[IDEMPOTENCY_HEADER],
        request=ReturnCreateIn,
        responses={201: ReturnOut, **errors(400, 401, 403, 409, 422)},
    )
    def post(self, request: Request) -> Response:
        def create() -> tuple[int, dict, dict[str, str]]:
            key = request.auth
            body = checked(ReturnCreateIn, request)
            ret = services.return_request(
                channel=key.channel,
                source=ReturnSource.CHANNEL,
                actor=Actor.for_api_key(key),
                lines=ReturnCreateIn.to_lines(body.data),
                credit_method=body.data["credit_method"] or "refund",
                extra_errors=body.errors,
            )
            return (
                201,
                return_json(selectors.return_detail(return_id=ret.pk)),
                {"Location": f"{request.path}{ret.pk}/"},
            )

        return idempotent_post(request, create)


class ReturnDetailView(APIView):
    permission_classes = [IsChannelKey]

    @extend_schema(
        operation_id="returns_retrieve",
        summary="Get one of your returns",
        responses={200: ReturnOut, **errors(401, 403, 404)},
    )
    def get(self, request: Request, return_id: int) -> Response:
        ret = selectors.return_detail(return_id=return_id, channel_id=request.auth.channel_id)
        if ret is None:
            raise NotFound(f"Return {return_id} does not exist.")
        return Response(return_json(ret))


class ReturnCancelView(APIView):
    permission_classes = [IsChannelKey]

    @extend_schema(
        operation_id="returns_cancel",
        summary="Withdraw a return",
        description="Allowed until the parcel arrives (then 409).",
        request=ReturnCancelIn,
        responses={200: ReturnOut, **errors(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, return_id: int) -> Response:
        data = _validated(ReturnCancelIn, request).validated_data
        services.return_cancel(
            return_id=return_id,
            channel=request.auth.channel,
            actor=Actor.for_api_key(request.auth),
            reason=data["reason"],
        )
        return Response(return_json(selectors.return_detail(return_id=return_id)))


class ReturnLabelView(APIView):
    permission_classes = [IsChannelKey]

    @extend_schema(
        operation_id="returns_label",
        summary="Buy the return's prepaid label",
        description=(
            "For an authorised return: a label from the carrier, to the return location; the answer's "
            "`label.pdf_url` is the file for the customer. Calling again after a timeout or a refusal "
            "retries the same parcel: nothing is bought twice. The label's cost is taken from the credit "
            "when the customer pays the return shipping (the policy's label fee)."
        ),
        request=None,
        responses={
            200: ReturnOut,
            **errors(
                401, 403, 404, 409, 422, 503, _422="The carrier refused.", _503="The carrier did not answer."
            ),
        },
    )
    def post(self, request: Request, return_id: int) -> Response:
        if selectors.return_detail(return_id=return_id, channel_id=request.auth.channel_id) is None:
            raise NotFound(f"Return {return_id} does not exist.")
        services.return_label_issue(return_id=return_id, actor=Actor.for_api_key(request.auth))
        return Response(return_json(selectors.return_detail(return_id=return_id)))


class ReturnLabelFileView(APIView):
    permission_classes = [IsChannelKey]

    @extend_schema(
        operation_id="returns_label_pdf",
        summary="The return label to print (PDF)",
        responses={(200, "application/pdf"): bytes, **errors(401, 403, 404)},
    )
    def get(self, request: Request, return_id: int) -> HttpResponse:
        ret = selectors.return_detail(return_id=return_id, channel_id=request.auth.channel_id)
        package = ret.shipment.packages.exclude(tracking_number="").first() if ret and ret.shipment else None
        if package is None:
            raise NotFound(f"Return {return_id} has no label.")
        label = shipping.label_of(package_id=package.pk, format="pdf")
        return HttpResponse(bytes(label.content), content_type="application/pdf")


class ReturnReasonsView(APIView):
    permission_classes = [IsChannelKey]

    @extend_schema(
        operation_id="returns_reasons",
        summary="Reason codes your customers can choose",
        responses={200: ReasonOut(many=True), **errors(401, 403)},
    )
    def get(self, request: Request) -> Response:
        return Response(ReasonOut(services.reasons_for(request.auth.channel), many=True).data)


# ---------------------------------------------------------------------------------------------- credits


class CreditFilter(django_filters.FilterSet):
    created_since = UtcIsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="Credits issued at or after this ISO 8601 time."
    )
    method = django_filters.ChoiceFilter(
        choices=CreditMethod.choices, help_text="refund, store_credit or exchange."
    )

    class Meta:
        model = Credit
        fields = ["created_since", "method"]


class CreditCursorPagination(CheckedCursorPagination):
    ordering = "id"
    page_size = 100
    max_page_size = 500


class CreditsView(GenericAPIView):
    permission_classes = [scope_required(ApiScope.CREDITS)]
    filterset_class = CreditFilter
    pagination_class = CreditCursorPagination
    serializer_class = CreditRecordOut

    def get_queryset(self):
        return Credit.objects.select_related("ret__channel").prefetch_related("lines__order_line")

    @extend_schema(
        operation_id="credits_list",
        summary="Credits to pay out",
        description=(
            "Every credit the OMS issued for a return, oldest first, for a payment or ERP integration: "
            "keep the last cursor and follow `next` to get new ones exactly once. A credit is never "
            "issued twice for a return; its `id` is your idempotency key for the payout."
        ),
        responses={200: CreditRecordOut(many=True), **errors(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response([credit_json(credit) for credit in page])


# ------------------------------------------------------------------------------------------ warehouses


class ExpectedReturnsView(APIView):
    permission_classes = [WarehouseScope]

    @extend_schema(
        operation_id="fulfilment_returns",
        summary="Returns on their way to a warehouse",
        description="Authorised returns whose return location is the warehouse, oldest first (200 at most).",
        parameters=[
            OpenApiParameter("warehouse", str, required=True, description="Warehouse code, e.g. ATH1.")
        ],
        responses={200: ReturnOut(many=True), **errors(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        warehouse = request.query_params.get("warehouse", "").strip().upper()
        if not warehouse:
            raise ValidationFailed(
                "The query is incomplete.", details={"warehouse": ["Give the warehouse's code."]}
            )
        expected = (
            selectors.returns_with_lines()
            .filter(
                return_location__code=warehouse,
                status__in=[ReturnStatus.AUTHORISED, ReturnStatus.LABEL_ISSUED, ReturnStatus.IN_TRANSIT],
            )
            .order_by("pk")[:200]
        )
        return Response([return_json(ret) for ret in expected])


class ReceiveView(APIView):
    permission_classes = [WarehouseScope]

    @extend_schema(
        operation_id="fulfilment_return_receive",
        summary="Receive a return",
        description=(
            "Counts per return line (fewer than asked is a partial return; a line left out came back empty). "
            "With `inspections`, every unit's grade and disposition in the same call: restocked units go "
            "back into stock. Units that match no line (a wrong or extra item) are inspections without "
            "`line_id`, naming their `sku`."
        ),
        parameters=[IDEMPOTENCY_HEADER],
        request=ReceiveIn,
        responses={200: ReturnOut, **errors(400, 401, 403, 404, 409, 422)},
    )
    def post(self, request: Request, return_id: int) -> Response:
        def receive() -> tuple[int, dict, dict[str, str]]:
            if not Return.objects.filter(pk=return_id).exists():
                raise NotFound(f"Return {return_id} does not exist.")
            body = checked(ReceiveIn, request)
            inspections = body.data.get("inspections")
            services.return_receive(
                return_id=return_id,
                actor=Actor.for_api_key(request.auth),
                received={line["id"]: line["received"] for line in body.data["lines"] if line["id"]},
                inspections=[InspectionIn.to_input(item) for item in inspections]
                if inspections is not None
                else None,
                extra_errors=body.errors,
            )
            return 200, return_json(selectors.return_detail(return_id=return_id)), {}

        return idempotent_post(request, receive)


class InspectView(APIView):
    permission_classes = [WarehouseScope]

    @extend_schema(
        operation_id="fulfilment_return_inspect",
        summary="Inspect a received return",
        description="Every received unit needs a grade and a disposition; problems are reported per item.",
        parameters=[IDEMPOTENCY_HEADER],
        request=InspectIn,
        responses={200: ReturnOut, **errors(400, 401, 403, 404, 409, 422)},
    )
    def post(self, request: Request, return_id: int) -> Response:
        def inspect() -> tuple[int, dict, dict[str, str]]:
            if not Return.objects.filter(pk=return_id).exists():
                raise NotFound(f"Return {return_id} does not exist.")
            body = checked(InspectIn, request)
            services.return_inspect(
                return_id=return_id,
                actor=Actor.for_api_key(request.auth),
                inspections=[InspectionIn.to_input(item) for item in body.data["inspections"]],
                extra_errors=body.errors,
            )
            return 200, return_json(selectors.return_detail(return_id=return_id)), {}

        return idempotent_post(request, inspect)
