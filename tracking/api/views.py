"""Carrier webhooks in, and the public tracking JSON out. Both are open endpoints: a webhook proves
itself with the provider's signature over the raw body, a tracking link with its unguessable token."""

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from oms.api.schema import errors
from oms.errors import NotFound
from oms.tasks import enqueue_or_leave_for_sweep
from tracking import selectors, services
from tracking.api.serializers import TrackOut, WebhookAckOut
from tracking.tasks import process_webhook


class CarrierWebhookView(APIView):
    authentication_classes = []
    permission_classes = []

    @extend_schema(
        operation_id="tracking_webhook",
        summary="Receive a carrier's tracking webhook",
        description=(
            "For carriers only. The body is verified with the carrier's documented signature over the raw "
            "bytes (EasyPost: `X-Hmac-Signature`; the sandbox carrier: `X-Sandbox-Signature: t=...,v1=...`); "
            "unsigned, badly signed and stale calls are refused with 401 and nothing is stored. A verified "
            "call is stored, acknowledged at once and processed in the background; the same event sent "
            "again is acknowledged with `duplicate: true`."
        ),
        request={"application/json": {"type": "object"}},
        responses={200: WebhookAckOut, **errors(400, 401, 404, 413)},
    )
    def post(self, request: Request, carrier: str) -> Response:
        delivery, new = services.webhook_receive(
            carrier_code=carrier, headers=request.headers, body=request.body
        )
        if new:
            transaction.on_commit(
                lambda: enqueue_or_leave_for_sweep(process_webhook, delivery.pk, what="a carrier webhook")
            )
        return Response({"received": True, "duplicate": not new})


class TrackView(APIView):
    authentication_classes = []
    permission_classes = []

    @extend_schema(
        operation_id="track",
        summary="Where is my order? (public, for the customer's tracking link)",
        description="No login: the token in the link is the key. Shows the first name and city only.",
        parameters=[OpenApiParameter("token", str, OpenApiParameter.PATH)],
        responses={200: TrackOut, **errors(404)},
    )
    def get(self, request: Request, token: str) -> Response:
        data = selectors.public_tracking(token)
        if data is None:
            raise NotFound("No such tracking link.")
        return Response(TrackOut(data).data)
