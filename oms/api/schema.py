"""What every API view shares: the error body, its OpenAPI description, the Idempotency-Key header,
and request validation that raises into the one error handler."""

import threading

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request


@extend_schema_serializer(component_name="ErrorBody")
class ErrorBody(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. validation_error.")
    message = serializers.CharField(help_text="What went wrong, for a person.")
    details = serializers.JSONField(
        allow_null=True,
        help_text=(
            "For validation errors, every problem per field path, e.g. "
            '{"lines.0.sku": ["Unknown SKU \'X\'."]} or {"rows.3.quantity": [...]}.'
        ),
    )


@extend_schema_serializer(component_name="Error")
class ErrorOut(serializers.Serializer):
    error = ErrorBody()


IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "Any unique string (a UUID is fine), up to 255 characters. The same key with the same body returns "
        "the first response again with header `Idempotent-Replayed: true`; the same key with another body "
        "is refused with 422; the same key while the first request still runs gets 409."
    ),
)

ERROR_TEXTS = {
    400: "Invalid input: `details` lists every problem by field path; nothing was saved.",
    401: "Missing, unknown or revoked API key.",
    403: "The key may not use this endpoint (wrong kind of key or missing scope).",
    404: "Not found (or not yours).",
    409: "Conflicts with the current state.",
    413: "The body is larger than the limit (8 MiB).",
    422: "Idempotency-Key reused with a different body.",
    503: "A carrier or another outside service did not answer; retrying is safe.",
}


def errors(*statuses: int, **described: str) -> dict[int, OpenApiResponse]:
    """OpenAPI error responses; ``_409="..."`` overrides the text of one status."""
    texts = ERROR_TEXTS | {int(k[1:]): v for k, v in described.items()}
    return {status: OpenApiResponse(ErrorOut, description=texts[status]) for status in statuses}


_serializers = threading.local()


def validated(serializer_class: type[serializers.Serializer], request: Request) -> serializers.Serializer:
    """The request body checked by ``serializer_class``; its errors go to the one error handler.

    Building a serializer deep-copies every declared field of it and of its nested serializers, which
    profiling showed to be most of the cost of validating an order. Each thread therefore keeps one
    instance per input serializer and only swaps the data: the instance holds per-request state, so it
    is never shared between threads, and the caller reads the result before the thread's next request.
    """
    if not hasattr(_serializers, "by_class"):
        _serializers.by_class = {}
    serializer = _serializers.by_class.get(serializer_class)
    if serializer is None:
        serializer = _serializers.by_class[serializer_class] = serializer_class(data=request.data)
    else:
        serializer.initial_data = request.data
        for cached in ("_validated_data", "_errors", "_data"):
            serializer.__dict__.pop(cached, None)
    if not serializer.is_valid():
        raise serializers.ValidationError(serializer.errors)
    return serializer
