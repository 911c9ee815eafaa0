"""The shared Redis connections for rate limits and login nonces (the cache has its own)."""
import asyncio
import weakref
from functools import lru_cache

import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from django.conf import settings


@lru_cache(maxsize=4)
def _client_for(url):
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=5)


def get_redis() -> redis.Redis:
    return _client_for(settings.REDIS_URL)


_async_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict]" = weakref.WeakKeyDictionary()


ASYNC_MAX_CONNECTIONS = 64  # per event loop; more callers wait for one (up to the socket timeout)


def get_async_redis() -> redis.asyncio.Redis:
    """A pooled asyncio client for the running event loop (its connections belong to that loop).
    Replies are raw bytes, as the synchronous rate-limit script gets them. No retries: the
    rate-limit script is not idempotent, and a request whose round trip failed is charged by
    Django instead."""
    per_loop = _async_clients.setdefault(asyncio.get_running_loop(), {})
    client = per_loop.get(settings.REDIS_URL)
    if client is None:
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            settings.REDIS_URL, max_connections=ASYNC_MAX_CONNECTIONS, timeout=5, socket_timeout=5,
            retry=AsyncRetry(NoBackoff(), 0))
        client = per_loop[settings.REDIS_URL] = redis.asyncio.Redis(connection_pool=pool)
    return client
