"""The one place where errors become HTTP responses: ``{"error": {"code", "message", "details"}}``."""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
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


def exception_handler(exc: Exception, context: dict) -> Response | None:
    set_rollback()
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
        return error_response(400, "malformed_json", f"The body is not valid JSON: {exc.detail}")
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
