"""The shared Redis connections for rate limits and login nonces (the cache has its own)."""
import asyncio
import weakref
from functools import lru_cache

import redis
import redis.asyncio
from django.conf import settings


@lru_cache(maxsize=4)
def _client_for(url):
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=5)


def get_redis() -> redis.Redis:
    return _client_for(settings.REDIS_URL)


_async_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict]" = weakref.WeakKeyDictionary()


def get_async_redis() -> redis.asyncio.Redis:
    """A pooled asyncio client for the running event loop (its connections belong to that loop).
    Replies are raw bytes, as the synchronous rate-limit script gets them."""
    per_loop = _async_clients.setdefault(asyncio.get_running_loop(), {})
    client = per_loop.get(settings.REDIS_URL)
    if client is None:
        client = per_loop[settings.REDIS_URL] = redis.asyncio.Redis.from_url(settings.REDIS_URL, socket_timeout=5)
    return client
