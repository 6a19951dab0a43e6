"""Inventory endpoints for WMS / ERP integrations (receipts, adjustments, counts) and for channels
(availability). Each view parses, calls one service and shapes the answer."""

from collections.abc import Callable
from dataclasses import asdict

from drf_spectacular.utils import OpenApiParameter, OpenApiRequest, extend_schema
from rest_framework.parsers import BaseParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory import selectors
from inventory.api.serializers import (
    SkuAvailabilityOut,
    StockBatchIn,
    StockBatchOut,
    StockCountIn,
    StockRowIn,
)
from inventory.imports import BatchKind, StockRow, rows_from_csv, stock_batch_apply
from oms.api.idempotent import idempotent_post
from oms.api.parsers import JSONParser
from oms.api.schema import IDEMPOTENCY_HEADER, errors, validated
from oms.errors import ValidationFailed
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


def _apply(request: Request, kind: str, parse: Callable[[], tuple[list[StockRow], str, bool]]) -> Response:
    """Parse inside the idempotent transaction: the key's fingerprint needs the raw body first."""

    def work():
        rows, reference, full = parse()
        result = stock_batch_apply(
            kind=kind, rows=rows, actor=_actor(request), batch_reference=reference, full=full
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

    def post(self, request: Request) -> Response:
        def parse():
            serializer = validated(StockRowIn, request)
            return [serializer.to_row(serializer.validated_data)], "", False

        return _apply(request, self.kind, parse)


class BatchView(APIView):
    permission_classes = [InventoryScope]
    kind = BatchKind.RECEIPT

    def post(self, request: Request) -> Response:
        def parse():
            data = validated(StockBatchIn, request).validated_data
            return [StockRowIn().to_row(item) for item in data["rows"]], data["reference"], False

        return _apply(request, self.kind, parse)


class ReceiptView(SingleRowView):
    kind = BatchKind.RECEIPT

    @extend_schema(
        operation_id="inventory_receipt",
        summary="Record goods received",
        parameters=[IDEMPOTENCY_HEADER],
        request=StockRowIn,
        responses={200: StockBatchOut, **BATCH_ERRORS},
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


class ReceiptBatchView(BatchView):
    kind = BatchKind.RECEIPT

    @extend_schema(
        operation_id="inventory_receipts_bulk",
        summary="Record many receipts, all or nothing",
        parameters=[IDEMPOTENCY_HEADER],
        request=StockBatchIn,
        responses={200: StockBatchOut, **BATCH_ERRORS},
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


class AdjustmentView(SingleRowView):
    kind = BatchKind.ADJUSTMENT

    @extend_schema(
        operation_id="inventory_adjustment",
        summary="Correct a stock figure (with a reason)",
        parameters=[IDEMPOTENCY_HEADER],
        request=StockRowIn,
        responses={200: StockBatchOut, **BATCH_ERRORS},
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


class AdjustmentBatchView(BatchView):
    kind = BatchKind.ADJUSTMENT

    @extend_schema(
        operation_id="inventory_adjustments_bulk",
        summary="Correct many figures, all or nothing",
        parameters=[IDEMPOTENCY_HEADER],
        request=StockBatchIn,
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
            OpenApiParameter("reference", str, description="CSV only: your count sheet's number."),
        ],
        request={"application/json": StockCountIn, "text/csv": OpenApiRequest(str)},
        responses={200: StockBatchOut, **BATCH_ERRORS},
    )
    def post(self, request: Request) -> Response:
        def parse():
            if isinstance(request.data, str):
                full = request.query_params.get("full", "").lower() in ("1", "true", "yes")
                return rows_from_csv(request.data), request.query_params.get("reference", "")[:100], full
            data = validated(StockCountIn, request).validated_data
            return [StockRowIn().to_row(item) for item in data["rows"]], data["reference"], data["full"]

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
