"""Webhook subscriptions for integrations: a key with the ``webhooks`` scope registers, changes and
removes its own endpoints, reads their delivery log and has a time range sent again. Another key's
endpoint is a 404. Each view parses, calls one service and shapes the answer."""

import csv
import io
import json

from django.db import transaction
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations import exports, services, signing
from integrations.api.serializers import (
    DeliveryOut,
    EndpointCreateIn,
    EndpointOut,
    EndpointUpdateIn,
    EndpointWithSecretOut,
    ExportAckIn,
    ExportAckOut,
    ExportPageOut,
    ReplayIn,
    ReplayOut,
    ShopWebhookAckOut,
    endpoint_json,
)
from integrations.models import ExportFeed, WebhookDelivery, WebhookEndpoint, WebhookStatus
from integrations.shops import services as shop_services
from integrations.tasks import process_shop_webhook
from oms.api.idempotent import idempotent_post
from oms.api.lists import CheckedCursorPagination
from oms.api.schema import IDEMPOTENCY_HEADER, errors, validated
from oms.errors import NotFound, ValidationFailed
from oms.tasks import enqueue_or_leave_for_sweep
from orders.api.auth import scope_required
from orders.models import ApiKey, ApiScope

WebhooksScope = scope_required(ApiScope.WEBHOOKS)

SIGNING_GUIDE = f"""From the next event on, every event your key may see and the endpoint wants is POSTed to
it as JSON: `{{"id": "evt_…", "type": "order.shipped", "timestamp": "…", "data": {{…}}}}`, where an order's
events (and its shipments') carry `data.order` shaped as `GET /api/v1/orders/{{id}}/` answers.

Signed as Standard Webhooks: headers `webhook-id` (the event's id, the same on every retry: dedupe on
it), `webhook-timestamp` (Unix seconds) and `webhook-signature` (`v1,` and the base64 HMAC-SHA256,
keyed with the base64-decoded part of `secret` after `whsec_`, over
`{{webhook-id}}.{{webhook-timestamp}}.{{body}}`).
Refuse a timestamp more than {signing.TOLERANCE_SECONDS} seconds from your clock: that is a replay.

Answer 2xx within {services.TIMEOUT_SECONDS} s. Anything else is retried, backing off from 30 s to 6 h with
jitter; one order's events arrive in order. At most {services.MAX_ENDPOINTS_PER_KEY} endpoints a key. The
answer holds the signing `secret`, shown this once."""


def _own(request: Request, endpoint_id: int) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id, api_key=request.auth).first()
    if endpoint is None:
        raise NotFound(f"Webhook endpoint {endpoint_id} does not exist.")
    return endpoint


class EndpointsView(APIView):
    permission_classes = [WebhooksScope]

    @extend_schema(
        operation_id="webhook_endpoints_list",
        summary="List your webhook endpoints",
        responses={200: EndpointOut(many=True), **errors(401, 403)},
    )
    def get(self, request: Request) -> Response:
        endpoints = WebhookEndpoint.objects.filter(api_key=request.auth).order_by("id")
        return Response([endpoint_json(e) for e in endpoints])

    @extend_schema(
        operation_id="webhook_endpoints_create",
        summary="Register a webhook endpoint",
        description=SIGNING_GUIDE,
        parameters=[IDEMPOTENCY_HEADER],
        request=EndpointCreateIn,
        responses={
            201: EndpointWithSecretOut,
            **errors(400, 401, 403, 409, 422, _409="The key has as many endpoints as it may."),
        },
    )
    def post(self, request: Request) -> Response:
        def create() -> tuple[int, dict, dict[str, str]]:
            data = validated(EndpointCreateIn, request).validated_data
            endpoint = services.endpoint_create(
                api_key=request.auth, url=data["url"], events=data["events"], description=data["description"]
            )
            return (
                201,
                endpoint_json(endpoint, with_secret=True),
                {"Location": f"{request.path}{endpoint.pk}/"},
            )

        return idempotent_post(request, create)


class EndpointDetailView(APIView):
    permission_classes = [WebhooksScope]

    @extend_schema(
        operation_id="webhook_endpoints_retrieve",
        summary="Get one of your webhook endpoints",
        responses={200: EndpointOut, **errors(401, 403, 404)},
    )
    def get(self, request: Request, endpoint_id: int) -> Response:
        return Response(endpoint_json(_own(request, endpoint_id)))

    @extend_schema(
        operation_id="webhook_endpoints_update",
        summary="Change, pause or turn on again a webhook endpoint",
        request=EndpointUpdateIn,
        responses={200: EndpointOut, **errors(400, 401, 403, 404)},
    )
    def patch(self, request: Request, endpoint_id: int) -> Response:
        data = validated(EndpointUpdateIn, request).validated_data
        endpoint = services.endpoint_update(
            endpoint_id=endpoint_id,
            api_key=request.auth,
            url=data.get("url"),
            events=data.get("events"),
            description=data.get("description"),
            active=data.get("active"),
        )
        return Response(endpoint_json(endpoint))

    @extend_schema(
        operation_id="webhook_endpoints_destroy",
        summary="Remove a webhook endpoint",
        description="Its delivery log goes with it; what was waiting for it is not sent.",
        responses={204: None, **errors(401, 403, 404)},
    )
    def delete(self, request: Request, endpoint_id: int) -> Response:
        services.endpoint_delete(endpoint_id=endpoint_id, api_key=request.auth)
        return Response(status=204)


class EndpointRotateSecretView(APIView):
    permission_classes = [WebhooksScope]

    @extend_schema(
        operation_id="webhook_endpoints_rotate_secret",
        summary="Give an endpoint a new signing secret",
        description="Every delivery from now on, retries included, is signed with the new secret.",
        request=None,
        responses={200: EndpointWithSecretOut, **errors(401, 403, 404)},
    )
    def post(self, request: Request, endpoint_id: int) -> Response:
        endpoint = services.endpoint_rotate_secret(endpoint_id=endpoint_id, api_key=request.auth)
        return Response(endpoint_json(endpoint, with_secret=True))


class DeliveryCursorPagination(CheckedCursorPagination):
    ordering = "-id"
    page_size = 50
    max_page_size = 200


class EndpointDeliveriesView(GenericAPIView):
    permission_classes = [WebhooksScope]
    pagination_class = DeliveryCursorPagination
    serializer_class = DeliveryOut

    def get_queryset(self):
        return WebhookDelivery.objects.none()

    @extend_schema(
        operation_id="webhook_deliveries_list",
        summary="An endpoint's delivery log",
        description="Newest first, cursor-paginated: follow `next` until it is null.",
        parameters=[
            OpenApiParameter(
                "status",
                str,
                enum=WebhookStatus.values,
                required=False,
                description="Only deliveries in this state.",
            )
        ],
        responses={200: DeliveryOut(many=True), **errors(400, 401, 403, 404)},
    )
    def get(self, request: Request, endpoint_id: int) -> Response:
        endpoint = _own(request, endpoint_id)
        rows = WebhookDelivery.objects.filter(endpoint=endpoint).defer("body", "response_body")
        status = request.query_params.get("status")
        if status is not None:
            if status not in WebhookStatus.values:
                raise ValidationFailed(
                    "Unknown status.", details={"status": [f"One of {', '.join(WebhookStatus.values)}."]}
                )
            rows = rows.filter(status=status)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(DeliveryOut(page, many=True).data)


class EndpointReplayView(APIView):
    permission_classes = [WebhooksScope]

    @extend_schema(
        operation_id="webhook_endpoints_replay",
        summary="Send a time range of deliveries again",
        description=(
            "Every delivery of the endpoint in [start, end) that we gave up on (or that you answered "
            "but lost) is sent again, with its first body and webhook-id, in order per order."
        ),
        request=ReplayIn,
        responses={200: ReplayOut, **errors(400, 401, 403, 404)},
    )
    def post(self, request: Request, endpoint_id: int) -> Response:
        data = validated(ReplayIn, request).validated_data
        if data["end"] <= data["start"]:
            raise ValidationFailed("The range is empty.", details={"end": ["Must be after `start`."]})
        endpoint = _own(request, endpoint_id)
        count = services.deliveries_replay_range(
            start=data["start"], end=data["end"], endpoint_id=endpoint.pk, statuses=(data["status"],)
        )
        return Response({"replayed": count})


class ShopWebhookView(APIView):
    """The shops' own webhooks: open to the platform, which proves itself by its signature."""

    authentication_classes = []
    permission_classes = []

    @extend_schema(
        operation_id="shop_webhook",
        summary="Receive a shop's order webhook (Shopify, WooCommerce)",
        description=(
            "For the shop platforms only: point the shop's order webhooks here. Shopify: topics "
            "`orders/create`, `orders/updated`, `orders/cancelled`, signed with `X-Shopify-Hmac-Sha256` "
            "(the app's client secret). WooCommerce: topics `order.created`, `order.updated`, "
            "`order.deleted`, signed with `X-WC-Webhook-Signature` (the webhook's secret). Unsigned or "
            "badly signed calls are refused with 401 and nothing is stored. A verified call is stored, "
            "acknowledged at once and applied in the background; the same delivery again "
            "(`X-Shopify-Webhook-Id`, `X-WC-Webhook-Delivery-ID`) is acknowledged with `duplicate: true`. "
            "Other topics, and WooCommerce's ping when a webhook is saved, are acknowledged and ignored."
        ),
        request={"application/json": {"type": "object"}},
        responses={200: ShopWebhookAckOut, **errors(400, 401, 404, 413)},
    )
    def post(self, request: Request, code: str) -> Response:
        stored, new = shop_services.shop_webhook_receive(
            code=code, headers=request.headers, body=request.body
        )
        if new:
            transaction.on_commit(
                lambda: enqueue_or_leave_for_sweep(process_shop_webhook, stored.pk, what="a shop webhook")
            )
        return Response(
            {"received": True, "duplicate": stored is not None and not new, "ignored": stored is None}
        )


class IsIntegrationKey(BasePermission):
    message = "The ERP feeds need an integration's key (no channel) with the 'exports' scope."

    def has_permission(self, request, view) -> bool:
        key = request.auth
        return isinstance(key, ApiKey) and key.channel_id is None and ApiScope.EXPORTS in key.scopes


FEED_HELP = {
    ExportFeed.INVOICES: (
        "One entry per shipment handed over (`key` `shipment:<id>`): `invoice` (the shipment), "
        "`order_id`, `order_number`, `channel`, `external_id`, `currency`, `shipped_at`, `carrier`, "
        "`tracking_numbers`, `customer`, `ship_to`, `lines` (each `line_number`, `sku`, `name`, "
        "`quantity`, `unit_price`, `discount` in proportion to the units shipped, `net`), and "
        "`order_discount`, `shipping`, `tax` (the order's, on its first invoice; 0 on later ones) "
        "and `total`."
    ),
    ExportFeed.CREDITS: (
        "One entry per return credited (`key` `credit:<id>`), shaped as an item of `GET /api/v1/credits/`."
    ),
    ExportFeed.STOCK_VALUATION: (
        "One entry per warehouse and day (`key` `valuation:<day>:<warehouse>`), written after the day is "
        "over: `items` (each `sku`, `units` on hand at the day's end, `unit_cost`, `currency`, `value`; "
        "the cost from the product costs in admin, null where none is set), `totals` per currency and "
        "`unvalued_skus`."
    ),
}
FEED_PARAMETER = OpenApiParameter("feed", str, OpenApiParameter.PATH, enum=ExportFeed.values)


class ExportFeedView(APIView):
    permission_classes = [IsIntegrationKey]

    @extend_schema(
        operation_id="exports_read",
        summary="Read an ERP feed from a cursor",
        description=(
            "Entries in order after `after`; without it, after what your key acknowledged (`POST …/ack/`), "
            "so that a consumer that acks what it stored never takes an entry twice nor misses one, "
            "whatever was written concurrently. Feeds: "
            + " ".join(f"**{feed}**: {text}" for feed, text in FEED_HELP.items())
            + " The same as CSV: `GET /api/v1/exports/{feed}.csv` (the next cursor in `X-Next-Cursor`)."
        ),
        parameters=[
            FEED_PARAMETER,
            OpenApiParameter("after", {"type": "string", "pattern": "^[0-9]{1,18}$"}, required=False),
            OpenApiParameter(
                "limit", {"type": "integer", "minimum": 1, "maximum": exports.MAX_LIMIT}, required=False
            ),
        ],
        responses={200: ExportPageOut, **errors(400, 401, 403, 404)},
    )
    def get(self, request: Request, feed: str) -> Response:
        return Response(_read(request, feed))


def _read(request: Request, feed: str) -> dict:
    if feed not in ExportFeed.values:
        raise NotFound(f"No feed '{feed}': {', '.join(ExportFeed.values)}.")
    raw_limit = request.query_params.get("limit", "100")
    if not raw_limit.isdigit() or len(raw_limit) > 6:
        raise ValidationFailed(
            "Bad limit.", details={"limit": [f"A whole number from 1 to {exports.MAX_LIMIT}."]}
        )
    return exports.export_read(
        api_key=request.auth, feed=feed, after=request.query_params.get("after"), limit=int(raw_limit)
    )


class CsvRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, bytes | str) else json.dumps(data)


def _csv_rows(feed: str, entries: list[dict]) -> tuple[list[str], list[list]]:
    """One row per invoice line, per credit line, per valued SKU: what a spreadsheet or an ERP's
    import reads."""
    if feed == ExportFeed.INVOICES:
        head = [
            "cursor",
            "invoice",
            "order_number",
            "external_id",
            "channel",
            "currency",
            "shipped_at",
            "line_number",
            "sku",
            "quantity",
            "unit_price",
            "discount",
            "net",
            "shipping",
            "tax",
            "total",
        ]
        rows = [
            [
                e["cursor"],
                e["invoice"],
                e["order_number"],
                e["external_id"],
                e["channel"],
                e["currency"],
                e["shipped_at"],
                li["line_number"],
                li["sku"],
                li["quantity"],
                li["unit_price"],
                li["discount"],
                li["net"],
                e["shipping"],
                e["tax"],
                e["total"],
            ]
            for e in entries
            for li in e["lines"]
        ]
    elif feed == ExportFeed.CREDITS:
        head = [
            "cursor",
            "credit_id",
            "return_number",
            "channel",
            "method",
            "currency",
            "amount",
            "order_id",
            "line_number",
            "units",
            "line_amount",
        ]
        rows = [
            [
                e["cursor"],
                e.get("id"),
                e.get("return_number"),
                e.get("channel"),
                e.get("method"),
                e.get("currency"),
                e.get("amount"),
                li.get("order_id"),
                li.get("line_number"),
                li.get("units"),
                li.get("amount"),
            ]
            for e in entries
            for li in e.get("lines", [])
        ]
    else:
        head = ["cursor", "day", "warehouse", "sku", "units", "unit_cost", "currency", "value"]
        rows = [
            [
                e["cursor"],
                e["day"],
                e["warehouse"],
                i["sku"],
                i["units"],
                i["unit_cost"],
                i["currency"],
                i["value"],
            ]
            for e in entries
            for i in e["items"]
        ]
    return head, rows


class ExportFeedCsvView(APIView):
    permission_classes = [IsIntegrationKey]
    renderer_classes = [CsvRenderer, JSONRenderer]

    @extend_schema(
        operation_id="exports_read_csv",
        summary="Read an ERP feed from a cursor, as CSV",
        description="As `GET /api/v1/exports/{feed}/`, one row per invoice line, credit line or valued SKU; "
        "the cursor to ack and to pass as `after` next is in the `X-Next-Cursor` header.",
        parameters=[
            FEED_PARAMETER,
            OpenApiParameter("after", {"type": "string", "pattern": "^[0-9]{1,18}$"}, required=False),
            OpenApiParameter(
                "limit", {"type": "integer", "minimum": 1, "maximum": exports.MAX_LIMIT}, required=False
            ),
        ],
        responses={(200, "text/csv"): OpenApiTypes.STR, **errors(400, 401, 403, 404)},
    )
    def get(self, request: Request, feed: str) -> HttpResponse:
        page = _read(request, feed)
        head, rows = _csv_rows(feed, page["entries"])
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(head)
        writer.writerows(rows)
        response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
        response["X-Next-Cursor"] = page["next_cursor"]
        response["X-Has-More"] = "true" if page["has_more"] else "false"
        return response


class ExportAckView(APIView):
    permission_classes = [IsIntegrationKey]

    @extend_schema(
        operation_id="exports_ack",
        summary="Acknowledge an ERP feed up to a cursor",
        description="Everything up to `cursor` is stored on your side: the next read without `after` starts "
        "after it. Idempotent: an ack never moves back, and the same ack twice is the same.",
        parameters=[FEED_PARAMETER],
        request=ExportAckIn,
        responses={200: ExportAckOut, **errors(400, 401, 403, 404)},
    )
    def post(self, request: Request, feed: str) -> Response:
        if feed not in ExportFeed.values:
            raise NotFound(f"No feed '{feed}': {', '.join(ExportFeed.values)}.")
        data = validated(ExportAckIn, request).validated_data
        return Response({"acked": exports.export_ack(api_key=request.auth, feed=feed, cursor=data["cursor"])})
