"""Orders and catalog endpoints. Each view parses, calls one service, and shapes the answer."""

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from oms.api.idempotent import idempotent_post
from oms.api.lists import CheckedCursorPagination, UtcIsoDateTimeFilter
from oms.api.schema import IDEMPOTENCY_HEADER, checked, errors
from oms.api.schema import validated as _validated
from oms.errors import NotFound, ValidationFailed
from orders import selectors, services
from orders.api.auth import IsChannelKey, scope_required
from orders.api.serializers import (
    OrderCancelIn,
    OrderCreateIn,
    OrderDetailOut,
    OrderOut,
    OrderUpdateIn,
    ProductOut,
    ProductsBulkIn,
    ProductsBulkOut,
    order_json,
)
from orders.models import ApiScope, Order, OrderStatus, Product


class OrderFilter(django_filters.FilterSet):
    status = django_filters.BaseInFilter(
        field_name="status",
        help_text=f"One status or several, comma-separated: {', '.join(OrderStatus.values)}.",
    )
    updated_since = UtcIsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text="Orders changed at or after this ISO 8601 time."
    )
    external_id = django_filters.CharFilter(field_name="external_id", help_text="Your own order number.")

    class Meta:
        model = Order
        fields = ["status", "updated_since", "external_id"]

    def filter_queryset(self, queryset):
        unknown = [s for s in self.form.cleaned_data.get("status") or [] if s not in OrderStatus.values]
        if unknown:
            raise ValidationFailed(
                "Unknown status.", details={"status": [f"Unknown status '{s}'." for s in unknown]}
            )
        return super().filter_queryset(queryset)


class OrderCursorPagination(CheckedCursorPagination):
    ordering = "-id"
    page_size = 50
    max_page_size = 200


class OrdersView(GenericAPIView):
    permission_classes = [IsChannelKey]
    filterset_class = OrderFilter
    pagination_class = OrderCursorPagination
    serializer_class = OrderOut

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Order.objects.none()
        return selectors.orders_with_lines().filter(channel_id=self.request.auth.channel_id)

    @extend_schema(
        operation_id="orders_list",
        summary="List your channel's orders",
        description="Newest first, cursor-paginated: follow `next` until it is null.",
        responses={200: OrderOut(many=True), **errors(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response([order_json(order) for order in page])

    @extend_schema(
        operation_id="orders_create",
        summary="Create an order",
        description=(
            "Captures an order from your channel. Totals are computed from the lines. SKUs must exist in the "
            "catalog; addresses are checked against their country's rules. A second order with the same "
            "`external_id` is refused with 409 and `details.existing_order_id`."
        ),
        parameters=[IDEMPOTENCY_HEADER],
        request=OrderCreateIn,
        responses={
            201: OrderOut,
            **errors(
                400,
                401,
                403,
                409,
                422,
                _409="Duplicate external_id, or the same Idempotency-Key is in flight.",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        def create() -> tuple[int, dict, dict[str, str]]:
            key = request.auth
            body = checked(OrderCreateIn, request)
            data = OrderCreateIn.to_order_input(body.data, body.errors)
            order = services.order_create(
                channel=key.channel, actor=services.Actor.for_api_key(key), data=data
            )
            return 201, order_json(order), {"Location": f"{request.path}{order.pk}/"}

        return idempotent_post(request, create)


class OrderDetailView(APIView):
    permission_classes = [IsChannelKey]

    def _detail(self, request: Request, order_id: int) -> Order:
        order = selectors.order_detail(order_id=order_id, channel_id=request.auth.channel_id)
        if order is None:
            raise NotFound(f"Order {order_id} does not exist.")
        return order

    @extend_schema(
        operation_id="orders_retrieve",
        summary="Get one order with its lines and history",
        responses={200: OrderDetailOut, **errors(401, 403, 404)},
    )
    def get(self, request: Request, order_id: int) -> Response:
        return Response(OrderDetailOut(self._detail(request, order_id)).data)

    @extend_schema(
        operation_id="orders_update",
        summary="Change the shipping address or line quantities",
        description=(
            "Allowed until picking starts (then 409). Every change is recorded in the history, and the "
            "order's stock is re-planned at once: a lowered line gives back what it no longer needs, a "
            "raised one is reserved or backordered by the routing rules, and a new address moves the "
            "order to other warehouses when the rules now prefer them."
        ),
        request=OrderUpdateIn,
        responses={
            200: OrderDetailOut,
            **errors(400, 401, 403, 404, 409, _409="The order is already in fulfilment or beyond."),
        },
    )
    def patch(self, request: Request, order_id: int) -> Response:
        body = checked(OrderUpdateIn, request)
        lines = body.data.get("lines") or []
        services.order_edit(
            order_id=order_id,
            channel=request.auth.channel,
            actor=services.Actor.for_api_key(request.auth),
            shipping_address=body.data.get("shipping_address"),
            # a line number that could not be read (0 stands in for it) names no line
            line_quantities={line["line_number"]: line["quantity"] for line in lines if line["line_number"]}
            or None,
            extra_errors=body.errors,
        )
        return Response(OrderDetailOut(self._detail(request, order_id)).data)


class OrderCancelView(APIView):
    permission_classes = [IsChannelKey]

    @extend_schema(
        operation_id="orders_cancel",
        summary="Cancel an order",
        description=(
            "Allowed until the order has shipped. A partially shipped order keeps what has shipped and "
            "becomes `shipped`: the units not shipped yet are cancelled. Cancelling a cancelled or shipped "
            "order is refused with 409."
        ),
        request=OrderCancelIn,
        responses={
            200: OrderDetailOut,
            **errors(400, 401, 403, 404, 409, _409="The order can no longer be cancelled."),
        },
    )
    def post(self, request: Request, order_id: int) -> Response:
        data = _validated(OrderCancelIn, request).validated_data
        services.order_cancel(
            order_id=order_id,
            channel=request.auth.channel,
            actor=services.Actor.for_api_key(request.auth),
            reason=data["reason"],
        )
        order = selectors.order_detail(order_id=order_id, channel_id=request.auth.channel_id)
        return Response(OrderDetailOut(order).data)


class ProductCursorPagination(CheckedCursorPagination):
    ordering = "sku"
    page_size = 100
    max_page_size = 1000


class ProductsView(GenericAPIView):
    permission_classes = [scope_required(ApiScope.CATALOG)]
    pagination_class = ProductCursorPagination
    serializer_class = ProductOut
    queryset = Product.objects.all()
    filter_backends = []

    @extend_schema(
        operation_id="products_list",
        summary="List the catalog",
        responses={200: ProductOut(many=True), **errors(401, 403)},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ProductOut(page, many=True).data)


class ProductsBulkView(APIView):
    permission_classes = [scope_required(ApiScope.CATALOG)]

    @extend_schema(
        operation_id="products_bulk_upsert",
        summary="Create or update products in bulk",
        description="Matched by SKU (trimmed, upper-case). All or nothing: one bad row and nothing is saved.",
        parameters=[IDEMPOTENCY_HEADER],
        request=ProductsBulkIn,
        responses={200: ProductsBulkOut, **errors(400, 401, 403, 409, 422)},
    )
    def post(self, request: Request) -> Response:
        def upsert() -> tuple[int, dict, dict[str, str]]:
            body = checked(ProductsBulkIn, request)
            result = services.products_upsert(
                products=ProductsBulkIn.to_inputs(body.data), extra_errors=body.errors
            )
            return 200, ProductsBulkOut(result).data, {}

        return idempotent_post(request, upsert)
