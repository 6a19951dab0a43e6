"""The one place where errors become HTTP responses: ``{"error": {"code", "message", "details"}}``."""

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import set_rollback

from oms.errors import DomainError

log = logging.getLogger(__name__)


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error structure as ``{"lines.1.sku": ["..."]}``: one path per field."""
    flat: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = prefix.rstrip(".") or "body" if key == "non_field_errors" else f"{prefix}{key}"
            for path, messages in flatten_errors(value, f"{name}.").items():
                flat.setdefault(path, []).extend(messages)
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            flat[prefix.rstrip(".") or "body"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                if item:
                    for path, messages in flatten_errors(item, f"{prefix}{index}.").items():
                        flat.setdefault(path, []).extend(messages)
    else:
        flat[prefix.rstrip(".") or "body"] = [str(detail)]
    return flat


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict | None = None
) -> Response:
    return Response(
        {"error": {"code": code, "message": message, "details": details}}, status=status, headers=headers
    )


def rendered_error(status: int, code: str, message: str, details: Any = None) -> Response:
    """An error answered outside DRF's views (middleware, the 404 handler), rendered as they would."""
    from rest_framework.renderers import JSONRenderer

    response = error_response(status, code, message, details)
    response.accepted_renderer = JSONRenderer()
    response.accepted_media_type = "application/json"
    response.renderer_context = {}
    return response.render()


def body_too_large_message() -> str:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // (1024 * 1024)
    return f"The body is larger than {limit} MiB; send it in parts."


def exception_handler(exc: Exception, context: dict) -> Response | None:
    set_rollback()
    if isinstance(exc, RequestDataTooBig):
        return error_response(413, "body_too_large", body_too_large_message())
    if isinstance(exc, DomainError):
        return error_response(exc.http_status, exc.code, exc.message, exc.details)
    if isinstance(exc, Http404):
        return error_response(404, "not_found", "Not found.")
    if isinstance(exc, DjangoPermissionDenied):
        return error_response(403, "permission_denied", "You may not do this.")
    if isinstance(exc, drf.ValidationError):
        return error_response(
            400, "validation_error", "The request is invalid; nothing was saved.", flatten_errors(exc.detail)
        )
    if isinstance(exc, drf.ParseError):
        detail = str(exc.detail)
        message = detail if detail.startswith("The body") else f"The body is not valid JSON: {detail}"
        return error_response(400, "malformed_json", message)
    if isinstance(exc, drf.APIException):
        headers = {}
        if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
            headers["WWW-Authenticate"] = 'Bearer realm="api"'
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        detail = exc.detail
        message = str(detail) if not isinstance(detail, dict | list) else "The request failed."
        return error_response(
            exc.status_code,
            exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code,
            message,
            None,
            headers,
        )
    return None
