"""What every API view shares: the error body, its OpenAPI description, the Idempotency-Key header,
and request validation that raises into the one error handler."""

import threading
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular import openapi as drf_openapi
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_serializer
from rest_framework import serializers
from rest_framework.fields import SkipField, empty
from rest_framework.request import Request

from oms.errors import ValidationFailed
from oms.idempotency import KEY_PATTERN, MAX_KEY_LENGTH


class StrictBooleanField(serializers.BooleanField):
    """A JSON true or false, as the schema says; DRF's would also read "yes", "0" or 1."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)


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
    {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": KEY_PATTERN},
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "Any unique string of visible ASCII characters (a UUID is fine), up to 255. The same key with the "
        "same body returns "
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
    406: "The Accept header asks for something other than JSON.",
    413: "The body is larger than the limit (8 MiB).",
    415: "The body is not JSON (Content-Type application/json).",
    422: "Idempotency-Key reused with a different body.",
    503: "A carrier, another outside service or the database did not answer; nothing was saved and "
    "retrying is safe (after `Retry-After` seconds when given).",
    429: "The key's rate limit (requests a minute) is used up: wait `Retry-After` seconds.",
}


def errors(*statuses: int, **described: str) -> dict[int, OpenApiResponse]:
    """OpenAPI error responses; ``_409="..."`` overrides the text of one status."""
    texts = ERROR_TEXTS | {int(k[1:]): v for k, v in described.items()}
    return {status: OpenApiResponse(ErrorOut, description=texts[status]) for status in statuses}


_serializers = threading.local()


def _serializer(serializer_class: type[serializers.Serializer], request: Request) -> serializers.Serializer:
    if not hasattr(_serializers, "by_class"):
        _serializers.by_class = {}
    serializer = _serializers.by_class.get(serializer_class)
    if serializer is None:
        serializer = _serializers.by_class[serializer_class] = serializer_class(data=request.data)
    else:
        serializer.initial_data = request.data
        for cached in ("_validated_data", "_errors", "_data"):
            serializer.__dict__.pop(cached, None)
    return serializer


@dataclass(frozen=True)
class Checked:
    """A request body checked field by field: ``data`` holds every valid value (an invalid one is
    replaced by a neutral value of its type), ``errors`` every problem by field path."""

    data: dict
    errors: dict[str, list[str]]


def checked(serializer_class: type[serializers.Serializer], request: Request) -> Checked:
    """For endpoints whose service checks more than the shapes (an SKU exists, an address fits its
    country): the service gets the valid values and the shape problems, checks what it can, and the
    client hears of every problem in one answer, not of the shapes first and the rest on a retry."""
    serializer = _serializer(serializer_class, request)
    type_errors = json_type_errors(serializer, request.data)
    if serializer.is_valid() and not type_errors:
        return Checked(serializer.validated_data, {})
    from oms.api.exceptions import flatten_errors

    details = flatten_errors(serializer.errors) if serializer.errors else {}
    return Checked(_lenient(serializer, request.data), type_errors | details)


def _placeholder(field: serializers.Field) -> object:
    if field.default is not empty and not callable(field.default):
        return field.default
    if isinstance(field, serializers.BooleanField):
        return False
    if isinstance(field, serializers.IntegerField):
        return 0
    if isinstance(field, serializers.DecimalField):
        return Decimal(0)
    if isinstance(field, serializers.FloatField | serializers.DateField | serializers.DateTimeField):
        return None
    if isinstance(field, serializers.EmailField):
        return None
    return ""


def _lenient(field: serializers.Field, value: object) -> object:
    """The valid parts of ``value`` as ``field`` reads them, stand-ins for the rest."""
    if isinstance(field, serializers.ListSerializer):
        items = value if isinstance(value, list) else []
        return [_lenient(field.child, item) for item in items[: field.max_length or None]]
    if isinstance(field, serializers.Serializer):
        source = value if isinstance(value, dict) else {}
        out: dict = {}
        for name, sub in field.fields.items():
            if sub.read_only:
                continue
            if isinstance(sub, serializers.Serializer | serializers.ListSerializer):
                raw = source.get(name)
                if raw is None and not sub.required:
                    out[name] = None if sub.default is empty else sub.default
                else:
                    out[name] = _lenient(sub, raw)
                continue
            try:
                parsed = sub.run_validation(sub.get_value(source))
                check = getattr(field, f"validate_{name}", None)
                out[name] = check(parsed) if check else parsed
            except SkipField:
                continue
            except (serializers.ValidationError, DjangoValidationError, TypeError, ValueError):
                out[name] = _placeholder(sub)
        return out
    return None


def validated(serializer_class: type[serializers.Serializer], request: Request) -> serializers.Serializer:
    """The request body checked by ``serializer_class``; its errors go to the one error handler.

    Building a serializer deep-copies every declared field of it and of its nested serializers, which
    profiling showed to be most of the cost of validating an order. Each thread therefore keeps one
    instance per input serializer and only swaps the data: the instance holds per-request state, so it
    is never shared between threads, and the caller reads the result before the thread's next request.
    """
    serializer = _serializer(serializer_class, request)
    type_errors = json_type_errors(serializer, request.data)
    if not serializer.is_valid() or type_errors:
        from oms.api.exceptions import flatten_errors

        details = flatten_errors(serializer.errors) if serializer.errors else {}
        raise ValidationFailed("The request is invalid; nothing was saved.", details=type_errors | details)
    return serializer


STRING_FIELDS = (
    serializers.CharField,
    serializers.ChoiceField,
    serializers.DecimalField,
    serializers.DateField,
    serializers.DateTimeField,
)


def json_type_errors(field: serializers.Field, value: object, path: str = "") -> dict[str, list[str]]:
    """Values of the wrong JSON type for their field, by path: the schema promises strings, integers
    and booleans, and DRF would quietly read 5 for "5", "5" for 5, or "yes" for true. Also strings that
    are not valid Unicode (an unpaired surrogate from a ``\\ud800`` escape), which no database stores."""
    errors: dict[str, list[str]] = {}
    _check_type(field, value, path, errors)
    return errors


def _check_type(field: serializers.Field, value: object, path: str, errors: dict[str, list[str]]) -> None:
    if value is None:
        return  # allow_null is the field's own business
    if isinstance(field, serializers.ListSerializer | serializers.ListField):
        if isinstance(value, list):
            for index, item in enumerate(value):
                _check_type(field.child, item, f"{path}.{index}" if path else str(index), errors)
    elif isinstance(field, serializers.Serializer):
        if isinstance(value, dict):
            for name, sub in field.fields.items():
                if not sub.read_only and name in value:
                    _check_type(sub, value[name], f"{path}.{name}" if path else name, errors)
    elif isinstance(field, serializers.BooleanField):
        if not isinstance(value, bool):
            errors[path or "body"] = ["Must be true or false."]
    elif isinstance(field, serializers.IntegerField):
        if not isinstance(value, int) or isinstance(value, bool):
            errors[path or "body"] = ["Must be a whole number."]
    elif isinstance(field, serializers.FloatField):
        if not isinstance(value, int | float) or isinstance(value, bool):
            errors[path or "body"] = ["Must be a number."]
    elif isinstance(field, STRING_FIELDS):
        if not isinstance(value, str):
            errors[path or "body"] = ["Must be a string."]
        elif not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                errors[path or "body"] = ["Not valid Unicode (an unpaired surrogate escape)."]


# ------------------------------------------------------------------------------- the schema's truth


class AutoSchema(drf_openapi.AutoSchema):
    """drf-spectacular's, stating the list limits the serializers enforce (``allow_empty``,
    ``min_length``, ``max_length``), which it leaves out."""

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if schema and isinstance(field, serializers.ListSerializer | serializers.ListField):
            minimum = getattr(field, "min_length", None) or (0 if field.allow_empty else 1)
            if minimum:
                schema["minItems"] = minimum
            if getattr(field, "max_length", None):
                schema["maxItems"] = field.max_length
        return schema


NO_NUL = "^[^\\u0000]*$"
# What any operation may answer, whatever its own errors: a NUL character in the address, an empty
# query parameter (oms.middleware), an Accept header asking for something other than JSON, or the
# database gone mid-request (oms.middleware.DatabaseUnavailable); and,
# with a body, one that is too large, not JSON, or nested too deeply.
COMMON_STATUSES = (400, 406, 503)
BODY_STATUSES = (400, 413, 415)


def _no_nul(schema: dict) -> None:
    """Every free-text string the API reads refuses NUL characters (PostgreSQL cannot store them)."""
    if schema.get("type") == "string" and not {"enum", "format", "pattern"} & set(schema):
        schema["pattern"] = NO_NUL


def _walk_request_schema(schema: object) -> None:
    if isinstance(schema, dict):
        _no_nul(schema)
        for value in schema.values():
            _walk_request_schema(value)
    elif isinstance(schema, list):
        for value in schema:
            _walk_request_schema(value)


def postprocess(result: dict, generator, request, public) -> dict:
    """Add to the generated schema what every operation shares: the error statuses any request may
    get, NUL-free strings, and query parameters that may not be empty."""
    error_schema = {"$ref": "#/components/schemas/Error"}
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            statuses = set(COMMON_STATUSES)
            if "requestBody" in operation:
                statuses |= set(BODY_STATUSES)
            responses = operation.setdefault("responses", {})
            for status in sorted(statuses):
                body = {"content": {"application/json": {"schema": error_schema}}}
                responses.setdefault(str(status), body | {"description": ERROR_TEXTS[status]})
            if "401" in responses:  # a keyed call: the key's rate limit applies (oms.api.throttling)
                responses.setdefault(
                    "429",
                    {
                        "content": {"application/json": {"schema": error_schema}},
                        "description": ERROR_TEXTS[429],
                        "headers": {
                            "Retry-After": {
                                "schema": {"type": "integer", "minimum": 1},
                                "description": "Seconds until the key's next window opens.",
                            }
                        },
                    },
                )
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                _no_nul(schema)
                if parameter.get("in") == "query" and schema.get("type") == "string":
                    schema.setdefault("minLength", 1)
                if parameter.get("in") == "query" and schema.get("type") == "array":
                    schema.setdefault("minItems", 1)
                    _no_nul(schema.get("items", {}))
                    schema.get("items", {}).setdefault("minLength", 1)
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request"):
            _walk_request_schema(component)
    return result
