"""The shared Redis connection for rate limits and login nonces (the cache has its own)."""
from functools import lru_cache

import redis
from django.conf import settings


@lru_cache(maxsize=4)
def _client_for(url):
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=5)


def get_redis() -> redis.Redis:
    return _client_for(settings.REDIS_URL)
