"""Inventory endpoints for WMS / ERP integrations (receipts, adjustments, counts) and for channels
(availability). Each view parses, calls one service and shapes the answer."""

from collections.abc import Callable
from dataclasses import asdict

from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, OpenApiRequest, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import BaseParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory import selectors, services
from inventory.api.serializers import (
    MAX_REFERENCE,
    AdjustmentBatchIn,
    AdjustmentRowIn,
    ReceiptBatchIn,
    ReceiptRowIn,
    SkuAvailabilityOut,
    StockBatchOut,
    StockCountIn,
    StockRowIn,
    TransferIn,
    TransferOut,
)
from inventory.imports import BatchKind, StockRow, rows_from_csv, stock_batch_apply
from inventory.models import Transfer, TransferStatus
from oms.api.idempotent import idempotent_post
from oms.api.lists import CheckedCursorPagination
from oms.api.parsers import JSONParser
from oms.api.schema import IDEMPOTENCY_HEADER, checked, errors
from oms.errors import NotFound, ValidationFailed
from orders.api.auth import scope_required
from orders.models import ApiKey, ApiScope
from orders.validation import normalize_sku

InventoryScope = scope_required(ApiScope.INVENTORY)


class CSVTextParser(BaseParser):
    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None) -> str:
        try:
            return stream.read().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationFailed("The CSV is not UTF-8 text.", details={"body": [str(exc)]}) from exc


Parsed = tuple[list[StockRow], str, bool, dict[str, list[str]]]


def _apply(request: Request, kind: str, parse: Callable[[], Parsed]) -> Response:
    """Parse inside the idempotent transaction: the key's fingerprint needs the raw body first. The
    body's shape problems go to the service, which answers them with the rows' own in one 400."""

    def work():
        rows, reference, full, shape_errors = parse()
        result = stock_batch_apply(
            kind=kind,
            rows=rows,
            actor=_actor(request),
            batch_reference=reference,
            full=full,
            extra_errors=shape_errors,
        )
        return 200, StockBatchOut(asdict(result)).data, {}

    return idempotent_post(request, work)


def _actor(request: Request) -> str:
    key: ApiKey = request.auth
    return f"{key.name} ({key.prefix}…)"


BATCH_ERRORS = errors(400, 401, 403, 409, 422)


class SingleRowView(APIView):
    permission_classes = [InventoryScope]
    kind = BatchKind.RECEIPT
    row_serializer: type[StockRowIn] = ReceiptRowIn

    def post(self, request: Request) -> Response:
        def parse():
            body = checked(self.row_serializer, request)
            # one row: its problems are named as in a batch of one (rows.0.sku)
            shape_errors = {f"rows.0.{path}": problems for path, problems in body.errors.items()}
            return [StockRowIn.to_row(body.data)], "", False, shape_errors

        return _apply(request, self.kind, parse)


class BatchView(APIView):
    permission_classes = [InventoryScope]
    kind = BatchKind.RECEIPT
    batch_serializer = ReceiptBatchIn

    def post(self, request: Request) -> Response:
        def parse():
            body = checked(self.batch_serializer, request)
            rows = [StockRowIn.to_row(item) for item in body.data["rows"]]
            return rows, body.data["reference"], False, body.errors

        return _apply(request, self.kind, parse)


class ReceiptView(SingleRowView):
    kind = BatchKind.RECEIPT
    row_serializer = ReceiptRowIn

    @extend_schema(
        operation_id="inventory_receipt",
        summary="Record goods received",
        parameters=[IDEMPOTENCY_HEADER],
        request=ReceiptRowIn,
        responses={200: StockBatchOut, **BATCH_ERRORS},
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


class ReceiptBatchView(BatchView):
    kind = BatchKind.RECEIPT
    batch_serializer = ReceiptBatchIn

    @extend_schema(
        operation_id="inventory_receipts_bulk",
        summary="Record many receipts, all or nothing",
        parameters=[IDEMPOTENCY_HEADER],
        request=ReceiptBatchIn,
        responses={200: StockBatchOut, **BATCH_ERRORS},
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


class AdjustmentView(SingleRowView):
    kind = BatchKind.ADJUSTMENT
    row_serializer = AdjustmentRowIn

    @extend_schema(
        operation_id="inventory_adjustment",
        summary="Correct a stock figure (with a reason)",
        parameters=[IDEMPOTENCY_HEADER],
        request=AdjustmentRowIn,
        responses={200: StockBatchOut, **BATCH_ERRORS},
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


class AdjustmentBatchView(BatchView):
    kind = BatchKind.ADJUSTMENT
    batch_serializer = AdjustmentBatchIn

    @extend_schema(
        operation_id="inventory_adjustments_bulk",
        summary="Correct many figures, all or nothing",
        parameters=[IDEMPOTENCY_HEADER],
        request=AdjustmentBatchIn,
        responses={200: StockBatchOut, **BATCH_ERRORS},
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


class CountView(APIView):
    permission_classes = [InventoryScope]
    parser_classes = [JSONParser, CSVTextParser]

    @extend_schema(
        operation_id="inventory_counts",
        summary="Upload a stock count (JSON or CSV), all or nothing",
        description=(
            "Each row sets a position (or lot) to the counted figure; the difference goes to the ledger as a "
            "cycle count. As CSV (`Content-Type: text/csv`): a header line with warehouse, sku, quantity and "
            "optionally lot_code, expiry_date, bin, reason; `full` and `reference` as query parameters. "
            "Any bad row: 400 listing every bad row, and nothing is applied."
        ),
        parameters=[
            IDEMPOTENCY_HEADER,
            OpenApiParameter(
                "full", bool, description="CSV only: a full snapshot (see the JSON body's `full`)."
            ),
            OpenApiParameter(
                "reference",
                {"type": "string", "maxLength": MAX_REFERENCE},
                description="CSV only: your count sheet's number.",
            ),
        ],
        request={"application/json": StockCountIn, "text/csv": OpenApiRequest(str)},
        responses={200: StockBatchOut, **BATCH_ERRORS},
    )
    def post(self, request: Request) -> Response:
        def parse():
            if isinstance(request.data, str):
                full = request.query_params.get("full", "").lower() in ("1", "true", "yes")
                reference = request.query_params.get("reference", "")
                shape_errors = {}
                if len(reference) > MAX_REFERENCE:
                    shape_errors["reference"] = [f"At most {MAX_REFERENCE} characters."]
                return rows_from_csv(request.data), reference[:MAX_REFERENCE], full, shape_errors
            body = checked(StockCountIn, request)
            rows = [StockRowIn.to_row(item) for item in body.data["rows"]]
            return rows, body.data["reference"], body.data["full"], body.errors

        return _apply(request, BatchKind.COUNT, parse)


class CanSeeAvailability(BasePermission):
    message = "This endpoint needs a channel key or a key with the 'inventory' scope."

    def has_permission(self, request, view) -> bool:
        key = request.auth
        return isinstance(key, ApiKey) and (key.channel_id is not None or ApiScope.INVENTORY in key.scopes)


class AvailabilityView(APIView):
    permission_classes = [CanSeeAvailability]

    @extend_schema(
        operation_id="inventory_availability",
        summary="What can be promised, per warehouse and in total",
        description=(
            "Channel keys see only `available` (after safety stock); integration keys with the inventory "
            "scope also see on hand, allocated and in transit."
        ),
        parameters=[
            OpenApiParameter("sku", str, required=True, description="One SKU or several, comma-separated.")
        ],
        responses={200: SkuAvailabilityOut(many=True), **errors(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        skus = [normalize_sku(s) for s in request.query_params.get("sku", "").split(",") if s.strip()]
        if not skus:
            raise ValidationFailed(
                "Say which SKU.", details={"sku": ["Give one SKU or several, comma-separated."]}
            )
        if len(skus) > 200:
            raise ValidationFailed("Too many SKUs.", details={"sku": ["At most 200 at a time."]})
        full = ApiScope.INVENTORY in request.auth.scopes
        body = []
        for sku, rows in selectors.availability_by_sku(skus).items():
            warehouses = [
                asdict(r) if full else {"warehouse": r.warehouse, "available": r.available} for r in rows
            ]
            item = {"sku": sku, "available": sum(r.available for r in rows)}
            if full:
                item |= {
                    name: sum(getattr(r, name) for r in rows)
                    for name in ("on_hand", "allocated", "in_transit")
                }
            body.append(item | {"warehouses": warehouses})
        return Response(body)


# ------------------------------------------------------------------------------------------ transfers


MAX_WAREHOUSE_CODE = 20  # Warehouse.code's length


class TransferCursorPagination(CheckedCursorPagination):
    ordering = "-id"
    page_size = 50
    max_page_size = 200


def _transfers():
    return Transfer.objects.select_related("product", "from_warehouse", "to_warehouse")


class TransfersView(GenericAPIView):
    permission_classes = [InventoryScope]
    pagination_class = TransferCursorPagination
    serializer_class = TransferOut
    filter_backends = []

    @extend_schema(
        operation_id="inventory_transfers",
        summary="Transfers between warehouses, newest first",
        parameters=[
            OpenApiParameter("status", str, enum=TransferStatus.values, description="Only this status."),
            OpenApiParameter(
                "warehouse",
                {"type": "string", "maxLength": MAX_WAREHOUSE_CODE},
                description="From or to this warehouse.",
            ),
        ],
        responses={200: TransferOut(many=True), **errors(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        query = _transfers()
        status = request.query_params.get("status")
        if status is not None:
            if status not in TransferStatus.values:
                raise ValidationFailed(
                    "Unknown status.", details={"status": [f"One of {', '.join(TransferStatus.values)}."]}
                )
            query = query.filter(status=status)
        warehouse = request.query_params.get("warehouse")
        if warehouse is not None:
            if len(warehouse) > MAX_WAREHOUSE_CODE:
                raise ValidationFailed(
                    "Bad warehouse.", details={"warehouse": [f"At most {MAX_WAREHOUSE_CODE} characters."]}
                )
            code = warehouse.strip().upper()
            query = query.filter(Q(from_warehouse__code=code) | Q(to_warehouse__code=code))
        page = self.paginate_queryset(query)
        return self.get_paginated_response(TransferOut(page, many=True).data)

    @extend_schema(
        operation_id="inventory_transfer_create",
        summary="Plan a transfer (or send it now)",
        description=(
            "Planned, nothing moves: ship it later with `.../ship/`. With `ship: true` the stock leaves the "
            "source at once (only units not promised to orders may go) and is in transit at the "
            "destination until `.../receive/`. Unknown SKUs and warehouses are 400, with every problem."
        ),
        parameters=[IDEMPOTENCY_HEADER],
        request=TransferIn,
        responses={201: TransferOut, **errors(400, 401, 403, 409, 422)},
    )
    def post(self, request: Request) -> Response:
        def create():
            body = checked(TransferIn, request)
            transfer = services.transfer_request(
                sku=body.data["sku"],
                from_code=body.data["from_warehouse"],
                to_code=body.data["to_warehouse"],
                quantity=body.data["quantity"],
                ship=body.data["ship"],
                actor=_actor(request),
                extra_errors=body.errors,
            )
            return (
                201,
                TransferOut(_transfers().get(pk=transfer.pk)).data,
                {"Location": f"{request.path}{transfer.pk}/"},
            )

        return idempotent_post(request, create)


class TransferDetailView(APIView):
    permission_classes = [InventoryScope]

    @extend_schema(
        operation_id="inventory_transfer",
        summary="One transfer",
        responses={200: TransferOut, **errors(401, 403, 404)},
    )
    def get(self, request: Request, transfer_id: int) -> Response:
        transfer = _transfers().filter(pk=transfer_id).first()
        if transfer is None:
            raise NotFound(f"Transfer {transfer_id} does not exist.")
        return Response(TransferOut(transfer).data)


TRANSFER_ACTIONS = {
    "ship": (services.transfer_ship, "Send a planned transfer: the stock leaves the source."),
    "receive": (services.transfer_receive, "The transfer arrived: its units join the destination's stock."),
    "cancel": (services.transfer_cancel, "Drop a planned transfer (one on its way is received instead)."),
}


def _transfer_action_view(action: str) -> type[APIView]:
    service, summary = TRANSFER_ACTIONS[action]

    class TransferActionView(APIView):
        permission_classes = [InventoryScope]

        @extend_schema(
            operation_id=f"inventory_transfer_{action}",
            summary=summary,
            request=None,
            responses={200: TransferOut, **errors(401, 403, 404, 409)},
        )
        def post(self, request: Request, transfer_id: int) -> Response:
            service(transfer_id=transfer_id, actor=_actor(request))
            return Response(TransferOut(_transfers().get(pk=transfer_id)).data)

    TransferActionView.__name__ = f"Transfer{action.capitalize()}View"
    return TransferActionView


TransferShipView = _transfer_action_view("ship")
TransferReceiveView = _transfer_action_view("receive")
TransferCancelView = _transfer_action_view("cancel")
