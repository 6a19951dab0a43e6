"""Bearer API keys: who is calling, and what they may do."""

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission

from orders.models import ApiKey, ApiScope
from orders.selectors import api_key_by_secret
from orders.services import api_key_touch

LAST_USED_RESOLUTION = timedelta(minutes=5)


class ApiClient:
    """``request.user`` for API calls: the key's holder, never a dashboard user."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, key: ApiKey):
        self.key = key
        self.channel = key.channel

    def __str__(self) -> str:
        return self.key.name


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header:
            return None
        if header[0].lower() != b"bearer" or len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the key as 'Authorization: Bearer <key>'.")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("The API key is not valid.") from exc
        key = api_key_by_secret(raw)
        if key is None or key.revoked_at is not None:
            raise exceptions.AuthenticationFailed("The API key is not valid or has been revoked.")
        if key.channel_id and not key.channel.is_active:
            raise exceptions.AuthenticationFailed(f"Channel '{key.channel.code}' is disabled.")
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
            # Coarse on purpose: one write per key every few minutes, not one per request.
            api_key_touch(key)
        return ApiClient(key), key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class IsApiClient(BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, ApiKey)


class IsChannelKey(BasePermission):
    message = "This endpoint needs a channel's API key."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, ApiKey) and request.auth.channel_id is not None


def scope_required(scope: ApiScope) -> type[BasePermission]:
    class HasScope(BasePermission):
        message = f"This endpoint needs an API key with the '{scope}' scope."

        def has_permission(self, request, view) -> bool:
            return isinstance(request.auth, ApiKey) and scope in request.auth.scopes

    HasScope.__name__ = f"HasScope_{scope}"
    return HasScope


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "orders.api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A channel key (scope orders) or an integration key "
            "(scopes catalog, inventory, credits).",
        }
