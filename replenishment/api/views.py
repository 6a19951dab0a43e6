"""Replenishment for ERP integrations (key scope ``inventory``, as the inventory API): read the
suggestions and purchase orders, and book goods received against a purchase order. Each view
parses, calls one service and shapes the answer."""

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from oms.api.idempotent import idempotent_post
from oms.api.lists import CheckedCursorPagination, UtcIsoDateTimeFilter
from oms.api.schema import IDEMPOTENCY_HEADER, checked, errors
from oms.errors import NotFound, ValidationFailed
from orders.api.auth import scope_required
from orders.models import ApiKey, ApiScope
from replenishment import services
from replenishment.api.serializers import PurchaseOrderOut, ReceiptIn, SuggestionOut
from replenishment.models import PurchaseOrder, PurchaseOrderStatus, Suggestion, SuggestionStatus

InventoryScope = scope_required(ApiScope.INVENTORY)


def _actor(request: Request) -> str:
    key: ApiKey = request.auth
    return f"{key.name} ({key.prefix}…)"


class _StatusListFilter(django_filters.FilterSet):
    statuses: list[str] = []

    def filter_queryset(self, queryset):
        unknown = [s for s in self.form.cleaned_data.get("status") or [] if s not in self.statuses]
        if unknown:
            raise ValidationFailed(
                "Unknown status.",
                details={
                    "status": [f"Unknown status '{s}'; one of {', '.join(self.statuses)}." for s in unknown]
                },
            )
        return super().filter_queryset(queryset)


class SuggestionFilter(_StatusListFilter):
    statuses = SuggestionStatus.values
    status = django_filters.BaseInFilter(
        field_name="status",
        help_text=f"One status or several, comma-separated: {', '.join(SuggestionStatus.values)}.",
    )
    warehouse = django_filters.CharFilter(
        field_name="position__warehouse__code", help_text="Only this warehouse (its code)."
    )
    updated_since = UtcIsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text="Changed at or after this ISO 8601 time."
    )

    class Meta:
        model = Suggestion
        fields = ["status", "warehouse", "updated_since"]


class PurchaseOrderFilter(_StatusListFilter):
    statuses = PurchaseOrderStatus.values
    status = django_filters.BaseInFilter(
        field_name="status",
        help_text=f"One status or several, comma-separated: {', '.join(PurchaseOrderStatus.values)}.",
    )
    supplier = django_filters.CharFilter(
        field_name="supplier__code", help_text="Only this supplier (its code)."
    )
    updated_since = UtcIsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text="Changed at or after this ISO 8601 time."
    )

    class Meta:
        model = PurchaseOrder
        fields = ["status", "supplier", "updated_since"]


class OldestFirst(CheckedCursorPagination):
    ordering = "id"
    page_size = 100
    max_page_size = 500


class SuggestionsView(GenericAPIView):
    permission_classes = [InventoryScope]
    filterset_class = SuggestionFilter
    pagination_class = OldestFirst
    serializer_class = SuggestionOut

    def get_queryset(self):
        return Suggestion.objects.select_related(
            "position__warehouse",
            "position__product",
            "supplier",
            "production_site",
            "source_warehouse",
            "purchase_order_line",
        )

    @extend_schema(
        operation_id="replenishment_suggestions",
        summary="Reorder suggestions, oldest first",
        description=(
            "What the reorder evaluation proposes per stock position, with the figures behind each "
            "quantity. At most one suggestion per position is `open` (kept current by the evaluation); "
            "ops approve or reject it, approved ones become purchase, transfer or production orders "
            "(`ordered`). Poll with `updated_since` to see changes."
        ),
        responses={200: SuggestionOut(many=True), **errors(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(SuggestionOut(page, many=True).data)


def _purchase_orders():
    return PurchaseOrder.objects.select_related("supplier", "warehouse").prefetch_related("lines__product")


class PurchaseOrdersView(GenericAPIView):
    permission_classes = [InventoryScope]
    filterset_class = PurchaseOrderFilter
    pagination_class = OldestFirst
    serializer_class = PurchaseOrderOut

    def get_queryset(self):
        return _purchase_orders()

    @extend_schema(
        operation_id="replenishment_purchase_orders",
        summary="Purchase orders, oldest first",
        description=(
            "Drafts are being gathered from approved suggestions; `sent` ones are on order with the "
            "supplier and can be received (in parts) with `.../receipts/`. Poll with `updated_since`."
        ),
        responses={200: PurchaseOrderOut(many=True), **errors(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(PurchaseOrderOut(page, many=True).data)


def _purchase_order(purchase_order_id: int) -> PurchaseOrder:
    purchase_order = _purchase_orders().filter(pk=purchase_order_id).first()
    if purchase_order is None:
        raise NotFound(f"Purchase order {purchase_order_id} does not exist.")
    return purchase_order


class PurchaseOrderDetailView(APIView):
    permission_classes = [InventoryScope]

    @extend_schema(
        operation_id="replenishment_purchase_order",
        summary="One purchase order",
        responses={200: PurchaseOrderOut, **errors(401, 403, 404)},
    )
    def get(self, request: Request, purchase_order_id: int) -> Response:
        return Response(PurchaseOrderOut(_purchase_order(purchase_order_id)).data)


class PurchaseOrderReceiptView(APIView):
    permission_classes = [InventoryScope]

    @extend_schema(
        operation_id="replenishment_purchase_order_receive",
        summary="Book goods received against a purchase order",
        description=(
            "Units per purchase order line, all or part of what is outstanding; the stock joins the "
            "order's warehouse through the ledger (lot code and expiry for lot-tracked SKUs) and serves "
            "backorders oldest first. Any bad line: 400 naming every problem, and nothing is booked. "
            "Send an `Idempotency-Key`: a retried receipt is then booked once. A purchase order that is "
            "not sent (a draft, received or cancelled) is 409."
        ),
        parameters=[IDEMPOTENCY_HEADER],
        request=ReceiptIn,
        responses={200: PurchaseOrderOut, **errors(400, 401, 403, 404, 409, 422)},
    )
    def post(self, request: Request, purchase_order_id: int) -> Response:
        def receive():
            if not PurchaseOrder.objects.filter(pk=purchase_order_id).exists():
                raise NotFound(f"Purchase order {purchase_order_id} does not exist.")
            body = checked(ReceiptIn, request)
            services.purchase_order_receive(
                purchase_order_id=purchase_order_id,
                lines=[
                    services.ReceiptLine(
                        line_id=line["line_id"],
                        quantity=line["quantity"],
                        lot_code=line["lot_code"],
                        expiry_date=line["expiry_date"],
                    )
                    for line in body.data.get("lines") or []
                ],
                actor=_actor(request),
                delivery_note=body.data.get("delivery_note") or "",
                extra_errors=body.errors,
            )
            return 200, PurchaseOrderOut(_purchase_order(purchase_order_id)).data, {}

        return idempotent_post(request, receive)
