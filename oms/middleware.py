"""Requests refused before any view sees them, the headers every response carries, and the answer
when the database goes away mid-request."""

import logging

from django.shortcuts import render

from oms.api.exceptions import rendered_error

log = logging.getLogger(__name__)

NUL = "\x00"


class RefuseNulCharacters:
    """A NUL character is never part of an address, a code or a search: PostgreSQL cannot even store it
    in text. Refused here, once, for every page and endpoint, naming where it was found. The API's
    empty query parameters are refused here too (the OpenAPI schema says both for every operation)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        where = []
        if NUL in request.path:
            where.append("path")
        if "%00" in request.META.get("QUERY_STRING", "") or NUL in request.META.get("QUERY_STRING", ""):
            where += sorted({key for key, values in request.GET.lists() if any(NUL in v for v in values)})
            where += sorted({key for key in request.GET if NUL in key} - set(where))
        if not where:
            return self._refuse_empty_api_parameters(request) or self.get_response(request)
        message = "A NUL character (%00) is not allowed in the address."
        if request.path.startswith("/api/"):
            details = {name.replace(NUL, "\\u0000"): ["Contains a NUL character (%00)."] for name in where}
            return rendered_error(400, "invalid_characters", message, details)
        return render(request, "400.html", {"message": message}, status=400)

    def _refuse_empty_api_parameters(self, request):
        """An API query parameter given without a value (``updated_since=``) is a mistake, not a wish
        to leave it out: refused, so that a channel's bug does not quietly return everything."""
        if not request.path.startswith("/api/v1/") or not request.META.get("QUERY_STRING"):
            return None  # the docs page asks for its own script with "?script="
        empty = sorted({key for key, values in request.GET.lists() if any(v.strip() == "" for v in values)})
        if not empty:
            return None
        return rendered_error(
            400,
            "validation_error",
            "Empty query parameter.",
            {key: ["Give a value or leave the parameter out."] for key in empty},
        )


class ContentSecurityPolicy:
    """Every response says where its page may load things from (``CONTENT_SECURITY_POLICY``): scripts
    only from the OMS's own static files, no inline script, nothing framing the page. Inline styles
    stay allowed (a few templates size elements with them, and a CSS attribute cannot run code)."""

    def __init__(self, get_response):
        from django.conf import settings

        self.get_response = get_response
        self.policy = settings.CONTENT_SECURITY_POLICY

    def __call__(self, request):
        response = self.get_response(request)
        if self.policy:
            response.headers.setdefault("Content-Security-Policy", self.policy)
        return response


class DatabaseUnavailable:
    """PostgreSQL restarted or unreachable in the middle of a request: the transaction is gone with
    its connection, so nothing was saved; the caller hears 503 with ``Retry-After`` (a channel
    retries with its Idempotency-Key and gets its order exactly once), not a server error. The
    connection is dropped here, so the process's next request opens a new one: it recovers without a
    restart."""

    RETRY_AFTER_SECONDS = 5

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from django.db import InterfaceError, OperationalError, connections

        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        log.warning("database unavailable during %s %s: %s", request.method, request.path, exception)
        for connection in connections.all(initialized_only=True):
            connection.close_if_unusable_or_obsolete()
            if connection.errors_occurred:
                connection.close()
        message = "The database did not answer; nothing was saved. Retry in a few seconds."
        if request.path.startswith("/api/"):
            response = rendered_error(503, "database_unavailable", message)
        else:
            response = render(request, "503.html", {"message": message}, status=503)
        response["Retry-After"] = str(self.RETRY_AFTER_SECONDS)
        return response
