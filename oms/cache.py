"""The shared cache on Redis: one client per server, and a cache that degrades to misses while Redis is
down.

Django's Redis backend builds a new ``redis.Redis`` for every cache operation, and building one
fills a table of some two hundred response callbacks: profiling order intake showed that costing
more than the Redis round trip itself. A ``redis.Redis`` is safe to share between threads (each
command borrows a connection from the pool, and the pool notices a fork), so one per server is kept.

Nothing the cache holds is the truth (API keys, carrier quotes, the tracking poll's lock): the
database is. So a Redis outage must not fail requests: reads miss, writes are dropped, and after a
failure Redis is left alone for a moment, so that requests do not each wait for a dead server.
"""

import logging
import time

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

# After Redis fails, cache calls skip it for this long (then the next call tries again).
RETRY_AFTER_SECONDS = 2.0
UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError)


class ReusedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = self._client(connection_pool=self._get_connection_pool(write))
        return client


def _tolerant(name: str, fallback):
    def call(self, *args, **kwargs):
        if time.monotonic() < self._down_until:
            return fallback(*args, **kwargs)
        try:
            return getattr(DjangoRedisCache, name)(self, *args, **kwargs)
        except UNAVAILABLE as exc:
            self._down_until = time.monotonic() + RETRY_AFTER_SECONDS
            log.warning(
                "cache: Redis unavailable (%s); %s skipped for %.0f s", exc, name, RETRY_AFTER_SECONDS
            )
            return fallback(*args, **kwargs)

    call.__name__ = name
    return call


def _default(key, default=None, version=None):
    return default


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        params = dict(params)
        # A server that does not answer must cost a request half a second at most, not a TCP timeout.
        params["OPTIONS"] = {
            "socket_connect_timeout": 0.5,
            "socket_timeout": 0.5,
            **params.get("OPTIONS", {}),
        }
        super().__init__(server, params)
        self._class = ReusedClientRedisCacheClient
        self._down_until = 0.0

    get = _tolerant("get", _default)
    get_many = _tolerant("get_many", lambda keys, version=None: {})
    has_key = _tolerant("has_key", lambda key, version=None: False)
    # A lock taken with add() is not granted while Redis is down: whoever needed it skips its turn.
    add = _tolerant("add", lambda *args, **kwargs: False)
    set = _tolerant("set", lambda *args, **kwargs: None)
    set_many = _tolerant("set_many", lambda *args, **kwargs: [])
    touch = _tolerant("touch", lambda *args, **kwargs: False)
    delete = _tolerant("delete", lambda *args, **kwargs: False)
    delete_many = _tolerant("delete_many", lambda *args, **kwargs: None)
    clear = _tolerant("clear", lambda *args, **kwargs: False)
