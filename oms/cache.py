"""The shared cache on Redis, with one client per server instead of one per call.

Django's Redis backend builds a new ``redis.Redis`` for every cache operation, and building one
fills a table of some two hundred response callbacks: profiling order intake showed that costing
more than the Redis round trip itself. A ``redis.Redis`` is safe to share between threads (each
command borrows a connection from the pool, and the pool notices a fork), so one per server is kept.
"""

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


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


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusedClientRedisCacheClient
