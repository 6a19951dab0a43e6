"""Channels and their API keys: stored hashed, cached for the API, forgotten on revoke."""

import hashlib
import secrets
from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from oms.errors import Conflict, NotFound, ValidationFailed
from oms.localcache import AnnouncedCache
from orders.models import (
    ApiKey,
    ApiScope,
    Channel,
    ChannelKind,
)

# ------------------------------------------------------------------------------- channels and API keys

KEY_PREFIX = "oms_"


def api_key_hash(raw_key: str) -> str:
    # Keys are 256 random bits, so a fast hash is safe: nobody can brute-force the pre-image.
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def channel_create(*, code: str, name: str, kind: str) -> Channel:
    code = code.strip().lower()
    if kind not in ChannelKind.values:
        raise ValidationFailed(
            "Unknown channel kind.", details={"kind": [f"Choose one of {', '.join(ChannelKind.values)}."]}
        )
    if Channel.objects.filter(code=code).exists():
        raise Conflict(f"A channel with code '{code}' already exists.", details={"code": code})
    return Channel.objects.create(code=code, name=name or code, kind=kind)


@transaction.atomic
def api_key_create(
    *,
    name: str,
    channel: Channel | None = None,
    scopes: Iterable[str] = (),
    rate_limit_per_minute: int | None = None,
) -> tuple[ApiKey, str]:
    """Create a key and return it with its secret, which is never stored and cannot be shown again."""
    scopes = sorted(set(scopes) | ({ApiScope.ORDERS.value} if channel else set()))
    unknown = [s for s in scopes if s not in ApiScope.values]
    if unknown:
        raise ValidationFailed(
            "Unknown scope.",
            details={
                "scopes": [f"Unknown scope '{s}'; choose from {', '.join(ApiScope.values)}." for s in unknown]
            },
        )
    if not channel and not scopes:
        raise ValidationFailed(
            "An integration key needs at least one scope.", details={"scopes": ["Give at least one scope."]}
        )
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        name=name,
        prefix=raw[:10],
        key_hash=api_key_hash(raw),
        channel=channel,
        scopes=scopes,
        rate_limit_per_minute=rate_limit_per_minute,
    )
    return key, raw


@transaction.atomic
def api_key_update(*, key_id: int, name: str, rate_limit_per_minute: int | None) -> ApiKey:
    """Rename a key or change its rate limit; every process sees the new limit on its next call."""
    key = ApiKey.objects.select_for_update().filter(pk=key_id).first()
    if key is None:
        raise NotFound("No such API key.")
    key.name = name
    key.rate_limit_per_minute = rate_limit_per_minute
    key.save(update_fields=["name", "rate_limit_per_minute"])
    api_keys_forget(key_hashes=[key.key_hash])
    return key


@transaction.atomic
def api_key_revoke(*, key_id: int) -> ApiKey:
    key = ApiKey.objects.select_for_update().filter(pk=key_id).first()
    if key is None:
        raise NotFound("No such API key.")
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    api_keys_forget(key_hashes=[key.key_hash])
    return key


def api_key_cache_key(key_hash: str) -> str:
    return f"apikey:{key_hash}"


# Each process's own copies of the keys it saw, by key hash, in front of the shared cache.
API_KEYS = AnnouncedCache("apikeys")


def api_keys_forget(*, key_hashes: Iterable[str] = (), channel: Channel | None = None) -> None:
    """Drop cached API keys once the surrounding transaction commits (after a revoke, or a change of
    the channel they act for), so that every process sees the change on the next call."""
    hashes = list(key_hashes)
    if channel is not None:
        hashes += list(ApiKey.objects.filter(channel=channel).values_list("key_hash", flat=True))
    if hashes:
        names = [api_key_cache_key(h) for h in hashes]
        # Now, so this transaction's own reads miss the cache; and after commit, because another
        # process may have cached the old row in between. The announcement comes after the shared
        # cache is cleared, so a process that drops its copy cannot read the old one back.
        cache.delete_many(names)
        API_KEYS.forget(hashes)

        def after_commit() -> None:
            cache.delete_many(names)
            API_KEYS.announce(hashes)

        transaction.on_commit(after_commit)


def api_key_touch(key: ApiKey) -> None:
    """Record that the key was used (coarse-grained: the caller decides how often)."""
    now = timezone.now()
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    key.last_used_at = now
    if settings.API_KEY_CACHE_SECONDS:
        cache.set(api_key_cache_key(key.key_hash), key, settings.API_KEY_CACHE_SECONDS)
