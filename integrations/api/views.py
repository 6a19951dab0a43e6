"""Webhook subscriptions for integrations: a key with the ``webhooks`` scope registers, changes and
removes its own endpoints, reads their delivery log and has a time range sent again. Another key's
endpoint is a 404. Each view parses, calls one service and shapes the answer."""

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations import services, signing
from integrations.api.serializers import (
    DeliveryOut,
    EndpointCreateIn,
    EndpointOut,
    EndpointUpdateIn,
    EndpointWithSecretOut,
    ReplayIn,
    ReplayOut,
    ShopWebhookAckOut,
    endpoint_json,
)
from integrations.models import WebhookDelivery, WebhookEndpoint, WebhookStatus
from integrations.shops import services as shop_services
from integrations.tasks import process_shop_webhook
from oms.api.idempotent import idempotent_post
from oms.api.lists import CheckedCursorPagination
from oms.api.schema import IDEMPOTENCY_HEADER, errors, validated
from oms.errors import NotFound, ValidationFailed
from orders.api.auth import scope_required
from orders.models import ApiScope

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
            transaction.on_commit(lambda: process_shop_webhook.delay(stored.pk))
        return Response(
            {"received": True, "duplicate": stored is not None and not new, "ignored": stored is None}
        )
