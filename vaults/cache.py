"""Django's Redis cache with its connection pools shared by the whole process.

Django keeps cache objects per context (asgiref Local), and every ASGI request runs in a context
of its own, so the stock backend builds a new `RedisCacheClient`, hence a new connection pool and
a new TCP connection, for every request. This backend keeps one pool per server URL and options
for the process: requests reuse its connections (redis-py's pools are thread-safe), and one
client object per pool (the stock client builds a `redis.Redis`, with its table of ~170 response
callbacks, on every cache call)."""
from __future__ import annotations

import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_pools: dict = {}
_clients: dict = {}
_pools_lock = threading.Lock()


class SharedPoolRedisCacheClient(RedisCacheClient):
    def _get_connection_pool(self, write):
        index = self._get_connection_pool_index(write)
        key = (self._pool_class, self._servers[index], tuple(sorted(self._pool_options.items(), key=str)))
        pool = _pools.get(key)
        if pool is None:
            with _pools_lock:
                pool = _pools.get(key)
                if pool is None:
                    pool = _pools[key] = self._pool_class.from_url(self._servers[index], **self._pool_options)
        return pool

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = _clients.get(id(pool))
        if client is None:
            with _pools_lock:
                client = _clients.get(id(pool))
                if client is None:
                    client = _clients[id(pool)] = self._client(connection_pool=pool)
        return client


class SharedPoolRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SharedPoolRedisCacheClient
