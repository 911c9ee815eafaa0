"""Fixed-window rate limits in Redis, shared by every server process."""
import time

from vaults.errors import RateLimited
from vaults.redis_client import get_redis


def enforce_rate_limit(scope: str, identity: str, *, limit: int, window_seconds: int) -> None:
    now = time.time()
    window = int(now // window_seconds)
    key = f"ratelimit:{scope}:{identity}:{window}"
    pipe = get_redis().pipeline()  # MULTI/EXEC: the count and its expiry are set together
    pipe.incr(key)
    pipe.expire(key, window_seconds + 1)
    count, _ = pipe.execute()
    if count > limit:
        retry_after = max(1, int((window + 1) * window_seconds - now))
        raise RateLimited(
            f"rate limit exceeded: {limit} requests per {window_seconds} s ({scope})",
            retry_after=retry_after,
        )
