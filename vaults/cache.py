"""Django's Redis cache with its connection pools shared by the whole process.

Django keeps cache objects per context (asgiref Local), and every ASGI request runs in a context
of its own, so the stock backend builds a new `RedisCacheClient`, hence a new connection pool and
a new TCP connection, for every request. This backend keeps one pool per server URL and options
for the process: requests reuse its connections (redis-py's pools are thread-safe), and one
client object per pool (the stock client builds a `redis.Redis`, with its table of ~170 response
callbacks, on every cache call).

It also lets a request read its cache entries in the round trip that charges its rate limits
(`read_ahead`): a cached read is then one Redis round trip in all."""
from __future__ import annotations

import threading

from django.conf import settings
from django.core.cache import caches
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

    def redis_key(self, key: str) -> str:
        """The Redis key that holds this cache entry (prefix and version applied)."""
        return self.make_and_validate_key(key)

    def decode(self, raw: bytes):
        """A value read from `redis_key(key)` by other means, as `get` would return it."""
        return self._cache._serializer.loads(raw)

    def lives_at(self, url: str) -> bool:
        return self._servers == [url]


NOT_READ = object()  # a cache entry the request did not read ahead (None: read, and absent)


def read_ahead_keys(keys: list[str]) -> list[str] | None:
    """The Redis keys of these cache entries, when the cache lives in the rate limiter's Redis
    (one script can then charge and read); otherwise None, and the view reads the cache itself."""
    backend = caches["default"]
    if not isinstance(backend, SharedPoolRedisCache) or not backend.lives_at(settings.REDIS_URL):
        return None
    return [backend.redis_key(key) for key in keys]


def decode(raw: bytes | None):
    return None if raw is None else caches["default"].decode(raw)


def read_ahead(request, key: str):
    """The entry `key` as the request's rate-limit round trip read it, or NOT_READ."""
    return getattr(request, "read_ahead", {}).get(key, NOT_READ)
