"""Per-key rate limits on the API: a fixed one-minute window per key, counted in Redis so that every
web process shares it. A key's own limit (admin) or ``API_RATE_LIMIT_PER_MINUTE``; 0 is no limit.

The limit protects the OMS from one client's loop, it is not what keeps data right: with Redis down,
calls go through (fail open) with a log line, and Redis is left alone for a moment after a failure
so that requests do not each wait for a dead server. Without Redis (the embedded mode) there is no
shared counter and no limit."""

import logging
import math
import time

import redis
from django.conf import settings
from rest_framework.throttling import BaseThrottle

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60
RETRY_AFTER_FAILURE_SECONDS = 2.0
_clients: dict[str, redis.Redis] = {}
_down_until = 0.0


def _client(url: str) -> redis.Redis:
    client = _clients.get(url)
    if client is None:
        client = _clients[url] = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    return client


def limit_of(key) -> int:
    own = getattr(key, "rate_limit_per_minute", None)
    return settings.API_RATE_LIMIT_PER_MINUTE if own is None else own


def calls_counted(key_id: int, now: float) -> int | None:
    """This call counted in the key's current window: the window's count so far, or None when Redis
    cannot say (the call goes through)."""
    global _down_until
    if not settings.REDIS_URL or now < _down_until:
        return None
    name = f"oms:ratelimit:{key_id}:{int(now // WINDOW_SECONDS)}"
    try:
        pipe = _client(settings.REDIS_URL).pipeline(transaction=False)
        pipe.incr(name)
        pipe.expire(name, WINDOW_SECONDS + 5, nx=True)
        count, _ = pipe.execute()
    except Exception:  # Redis down, slow, or its client confused: the call goes through
        # Besides RedisError and OSError, redis-py's reader can raise ValueError ("I/O operation on
        # closed file") when a handshake times out under load; a limit must never fail an order.
        _down_until = now + RETRY_AFTER_FAILURE_SECONDS
        log.warning("API rate limits not enforced: Redis does not answer", exc_info=True)
        return None
    return int(count)


class ApiKeyRateThrottle(BaseThrottle):
    def allow_request(self, request, view) -> bool:
        key = request.auth
        if key is None or not hasattr(key, "pk"):
            return True  # unauthenticated: refused by the permission check, not counted
        limit = limit_of(key)
        if not limit:
            return True
        now = time.time()
        count = calls_counted(key.pk, now)
        if count is None or count <= limit:
            return True
        self.retry_after = max(math.ceil(WINDOW_SECONDS - now % WINDOW_SECONDS), 1)
        return False

    def wait(self) -> float:
        return self.retry_after
