"""Rate limits in Redis, shared by every server process: a moving window per bucket.

The `limits` library's moving window is one atomic Lua script per hit: a request is counted only
when it is allowed, so a client that keeps knocking after its budget is spent does not extend its
own lock-out, and `Retry-After` is exact (when the oldest counted request leaves the window).

`charge_all` is the API's hot path: the same moving windows, kept in the library's own layout
(so its window statistics and `test` read them), for several buckets at once plus the cache
entries the view will read, in one round trip instead of one per bucket and one per read.
"""
from __future__ import annotations

import math
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from limits import RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from vaults.errors import RateLimited


class _Item(RateLimitItemPerSecond):
    """The bucket's key is its scope and identity only (the library adds the limit and window),
    so resizing a budget keeps the requests already counted."""

    def key_for(self, *identifiers: str) -> str:
        return "/".join(["cvms-ratelimit", self.namespace, *identifiers])


@dataclass(frozen=True)
class Budget:
    """`limit` requests per `window_seconds` in the bucket `scope`/identity."""

    scope: str
    limit: int
    window_seconds: int

    @property
    def item(self) -> RateLimitItemPerSecond:
        return _Item(self.limit, self.window_seconds, namespace=self.scope)


@lru_cache(maxsize=4)
def _limiter_for(redis_url: str) -> MovingWindowRateLimiter:
    # `limits` spells redis-py's unix:// scheme redis+unix:// (make run's embedded Redis).
    uri = "redis+unix://" + redis_url[len("unix://"):] if redis_url.startswith("unix://") else redis_url
    return MovingWindowRateLimiter(RedisStorage(uri, socket_timeout=5))


def limiter() -> MovingWindowRateLimiter:
    return _limiter_for(settings.REDIS_URL)


def retry_after(budget: Budget, identity: str) -> int:
    reset_at, _remaining = limiter().get_window_stats(budget.item, identity)
    return max(1, math.ceil(reset_at - time.time()))


def _refuse(budget: Budget, identity: str, what: str):
    return RateLimited(
        f"rate limit exceeded: {budget.limit} requests per {budget.window_seconds} s ({what})",
        retry_after=retry_after(budget, identity),
    )


def charge(budget: Budget, identity: str, *, what: str | None = None) -> None:
    """Counts one request against the bucket, or raises RateLimited (with Retry-After)."""
    if not limiter().hit(budget.item, identity):
        raise _refuse(budget, identity, what or budget.scope)


# The library's acquire_moving_window for each bucket in order (a refused bucket stops the run, as
# a refused `hit` would: the buckets before it stay charged, the ones after it are not touched),
# then a GET of each remaining key. Returns {0, value...}, or {i} when bucket i refused.
_CHARGE_ALL_THEN_READ = """
local now = tonumber(ARGV[1])
local buckets = tonumber(ARGV[2])
for i = 1, buckets do
    local limit = tonumber(ARGV[1 + 2 * i])
    local window = tonumber(ARGV[2 + 2 * i])
    local oldest = redis.call('lindex', KEYS[i], limit - 1)
    if oldest and tonumber(oldest) >= now - window then
        return {i}
    end
    redis.call('lpush', KEYS[i], ARGV[1])
    redis.call('ltrim', KEYS[i], 0, limit - 1)
    redis.call('expire', KEYS[i], window)
end
local found = {0}
for i = buckets + 1, #KEYS do
    found[#found + 1] = redis.call('get', KEYS[i])
end
return found
"""


@lru_cache(maxsize=4)
def _charge_all_script(redis_url: str):
    return limiter().storage.get_connection().register_script(_CHARGE_ALL_THEN_READ)


_async_scripts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # asyncio client -> script


def _async_charge_all_script():
    """The script on an asyncio Redis client of the running event loop (an asyncio connection
    belongs to the loop that opened it)."""
    from vaults.redis_client import get_async_redis

    client = get_async_redis()
    script = _async_scripts.get(client)
    if script is None:
        script = _async_scripts[client] = client.register_script(_CHARGE_ALL_THEN_READ)
    return script


@dataclass(frozen=True)
class Charged:
    """What one `charge_all` round trip did: `refused` is 0 when every bucket was charged, else
    the 1-based index of the bucket that refused (the ones before it were charged); `values`
    are the raw values of the keys read (only when nothing refused)."""

    refused: int
    values: tuple


def _script_call(charges: Sequence[tuple[Budget, str, str]], read: Sequence[str]) -> tuple[list, list]:
    storage = limiter().storage
    keys = [storage.prefixed_key(budget.item.key_for(identity)) for budget, identity, _what in charges]
    arguments: list = [time.time(), len(charges)]
    for budget, _identity, _what in charges:
        arguments += [budget.limit, budget.window_seconds]
    return [*keys, *read], arguments


def _charged(answer) -> Charged:
    return Charged(int(answer[0]), tuple(answer[1:]))


def settle(charges: Sequence[tuple[Budget, str, str]], charged: Charged) -> list[bytes | None]:
    """The values read, or RateLimited (with its exact Retry-After) for the bucket that refused."""
    if charged.refused:
        budget, identity, what = charges[charged.refused - 1]
        raise _refuse(budget, identity, what)
    return list(charged.values)


def charge_all(charges: Sequence[tuple[Budget, str, str]], *, read: Sequence[str] = ()) -> list[bytes | None]:
    """`charge` for each (budget, identity, what) in order, then the raw values of the Redis keys
    `read` (None where absent), in one round trip. Raises RateLimited like the first refusing
    `charge` would, after the buckets before it were charged."""
    keys, arguments = _script_call(charges, read)
    return settle(charges, _charged(_charge_all_script(settings.REDIS_URL)(keys=keys, args=arguments)))


async def charge_all_async(charges: Sequence[tuple[Budget, str, str]], *, read: Sequence[str] = ()) -> Charged:
    """The same round trip from an event loop. It does not raise: `settle` (synchronous, it may
    read the refused window's age) turns a refusal into RateLimited."""
    keys, arguments = _script_call(charges, read)
    return _charged(await _async_charge_all_script()(keys=keys, args=arguments))


def ensure_available(budget: Budget, identity: str, *, what: str | None = None) -> None:
    """Raises RateLimited when the bucket is spent, without counting a request."""
    if not limiter().test(budget.item, identity):
        raise _refuse(budget, identity, what or budget.scope)


def enforce_rate_limit(scope: str, identity: str, *, limit: int, window_seconds: int) -> None:
    """One-off form of `charge` for callers that size the budget themselves."""
    charge(Budget(scope, limit, window_seconds), identity)


# ---- the API's budgets (sizes from the settings, read at call time) ----

def client_budget() -> Budget:
    """Every API request of one authenticated client (API key, wallet login, staff user)."""
    return Budget("client", settings.RATE_LIMIT_CLIENT_REQUESTS, settings.RATE_LIMIT_WINDOW_SECONDS)


def anonymous_budget() -> Budget:
    """Every API request of one anonymous client IP."""
    return Budget("anonymous", settings.RATE_LIMIT_ANONYMOUS_REQUESTS, settings.RATE_LIMIT_WINDOW_SECONDS)


def anonymous_pool_budget() -> Budget:
    """All anonymous requests together: a safety valve for the server. Sized well above one
    client's budget, so no single client can trip it, and never charged to authenticated
    clients, so an anonymous flood cannot lock them out."""
    return Budget("anonymous-pool", settings.RATE_LIMIT_GLOBAL_REQUESTS, settings.RATE_LIMIT_WINDOW_SECONDS)


def write_budget(is_service: bool) -> Budget:
    """deposit / withdraw / submit of one principal."""
    limit = settings.RATE_LIMIT_API_KEY_WRITE_REQUESTS if is_service else settings.RATE_LIMIT_USER_REQUESTS
    return Budget("write", limit, settings.RATE_LIMIT_WINDOW_SECONDS)


def health_budget() -> Budget:
    return Budget("health", settings.RATE_LIMIT_HEALTH_REQUESTS, settings.RATE_LIMIT_WINDOW_SECONDS)


def admin_login_budgets() -> tuple[Budget, Budget]:
    """Failed admin logins per account and per client IP (password guessing)."""
    window = settings.RATE_LIMIT_ADMIN_LOGIN_WINDOW_SECONDS
    return (Budget("admin-login-account", settings.RATE_LIMIT_ADMIN_LOGIN_ACCOUNT_FAILURES, window),
            Budget("admin-login-ip", settings.RATE_LIMIT_ADMIN_LOGIN_IP_FAILURES, window))
