"""``/healthz`` for the container's health check and the reverse proxy: 200 while this process can
reach PostgreSQL, 503 (with ``Retry-After``) while it cannot. Redis is not asked: with Redis down the
OMS still takes orders (ADR 0011), so a Redis outage must not take the web process out of service."""

from django.db import connection
from django.db.utils import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        response = JsonResponse({"status": "unavailable", "database": "down"}, status=503)
        response["Retry-After"] = "5"
        return response
    return JsonResponse({"status": "ok"})
