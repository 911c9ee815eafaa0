"""Anonymous cached reads answered before Django: GET /vault/balance/<user> and GET /vault/tvl.

Most traffic of an exchange's back office is the same public balances and TVL asked again and
again, and the answer is one Redis GET away. Through Django a cached read costs a thread hop,
eleven middlewares and DRF's dispatch around that GET; this ASGI layer answers it on the event
loop, in the same single Redis round trip that charges the caller's rate limits
(`rate_limits.charge_all_async`: the same buckets, in the same order, as Django's throttle).

It answers only when it is sure Django would answer the same bytes:
- GET, no query string, Accept absent or JSON: DRF would pick the JSON renderer without options;
- no credential (Authorization, X-API-Key, the session cookie): the caller is anonymous, so its
  buckets are its IP's and the anonymous pool;
- a Host that ALLOWED_HOSTS accepts, and no HTTPS redirect pending;
- the URL resolves (Django's own resolver) to the balance or TVL view, whose `read_ahead_keys`
  name the cache entries;
- every bucket allowed the request, and the cache holds the entry or (balance) the view's own
  read on a miss, `VaultManager.get_vault_info`, finds the vault: that read runs on a small
  thread pool (the blocking RPC client costs a fraction of an asyncio HTTP client's CPU);
- the headers are known: they are the ones Django itself answered the same kind of request with
  on this route (learned from a 200 that went through Django, and only when every header is one
  that cannot depend on the answer: no cookie, no ETag).

Everything else goes on to Django unchanged, except that a request whose buckets were charged
carries that charge (`PrepaidCharge` in its scope): Django's throttle settles it instead of
charging again, so a refused charge is answered 429 by Django (exact Retry-After, the usual
body), an unknown vault is Django's 404, and a TVL miss is computed by the view from the
database. No request is charged twice.
"""
from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

from django.conf import settings
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host
from django.urls import Resolver404, resolve
from rest_framework.renderers import JSONRenderer

from console import metrics
from vaults import cache as shared_cache
from vaults.api import serializers as s
from vaults.api.throttling import PREPAID_SCOPE_KEY, PrepaidCharge, client_charges, client_ip_from
from vaults.chain.client import VaultAccount, parse_pubkey
from vaults.errors import VaultServiceError
from vaults.services import rate_limits
from vaults.services.vault_manager import VaultManager

logger = logging.getLogger(__name__)

# Headers a DRF answer carries whatever its content: only these are learned and replayed.
REPLAYABLE_HEADERS = frozenset({
    b"content-type", b"vary", b"allow", b"x-frame-options", b"x-content-type-options", b"referrer-policy",
    b"cross-origin-opener-policy", b"strict-transport-security", b"content-length",
})
JSON_ACCEPTS = frozenset({b"", b"*/*", b"application/json"})
CREDENTIAL_HEADERS = frozenset({b"authorization", b"x-api-key"})


class BalanceRead:
    @staticmethod
    def body(cached: dict) -> dict:
        return s.balance_body(VaultAccount(**cached))

    @staticmethod
    async def on_miss(kwargs: dict) -> dict:
        """The view's own read on a miss (the chain, then the cache), on a worker thread: the
        RPC client blocks, and costs a fraction of an asyncio HTTP client's CPU per call."""
        loop = asyncio.get_running_loop()
        vault = await loop.run_in_executor(_chain_readers(), VaultManager().get_vault_info,
                                           str(parse_pubkey(kwargs["user"])), None)
        return s.balance_body(vault)


class TvlRead:
    @staticmethod
    def body(cached: dict) -> dict:
        return cached

    on_miss = None  # the summary is computed from the database: the view does it


# url_name -> how the answer's body comes from the cache entry the view reads, or on a miss.
READERS = {"vault-balance": BalanceRead, "vault-tvl": TvlRead}


@lru_cache(maxsize=1)
def _chain_readers() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(settings.API_FAST_READ_THREADS, thread_name_prefix="fast-read")


class CachedReadFastPath:
    """ASGI middleware around Django's HTTP application."""

    def __init__(self, app):
        self.app = app
        self._renderer = JSONRenderer()
        self._headers: dict[tuple[str, bool], list[tuple[bytes, bytes]]] = {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "GET" or scope.get("query_string") \
                or not settings.API_FAST_READS:
            return await self.app(scope, receive, send)
        request = _eligible(scope)
        if request is None:
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        try:
            answer = await self._read(scope, request)
        except Exception:  # noqa: BLE001 - Django answers it, with the error it meets itself
            logger.warning("cached read of %s left to Django", scope["path"], exc_info=True)
            return await self.app(scope, receive, send)
        if isinstance(answer, bytes):
            await send({"type": "http.response.start", "status": 200,
                        "headers": [*self._headers[request.template], (b"content-length", str(len(answer)).encode())]})
            await send({"type": "http.response.body", "body": answer})
            metrics.HTTP_REQUEST_SECONDS.labels(request.route, "GET", "2xx").observe(time.perf_counter() - started)
            return None
        scope = {**scope, PREPAID_SCOPE_KEY: answer} if answer is not None else scope
        return await self.app(scope, receive, self._learning(send, request.template))

    async def _read(self, scope, request) -> bytes | PrepaidCharge | None:
        """The answer's body, or the charge made for a request Django must answer (None when
        none was made)."""
        redis_keys = shared_cache.read_ahead_keys(request.read_ahead)
        if redis_keys is None:
            return None
        headers = request.headers
        charges = client_charges(None, client_ip_from((scope.get("client") or ("",))[0] or "",
                                                      headers.get(b"x-forwarded-for", b"").decode("latin-1")))
        charged = await rate_limits.charge_all_async(charges, read=redis_keys)
        prepaid = PrepaidCharge(charges[0][1], tuple(request.read_ahead), charged)
        if charged.refused or request.template not in self._headers:
            return prepaid
        reader = READERS[request.url_name]
        try:
            (cached,) = [shared_cache.decode(raw) for raw in charged.values]
            if cached is not None:
                return self._renderer.render(reader.body(cached))
            if reader.on_miss is None:
                return prepaid
            return self._renderer.render(await reader.on_miss(request.kwargs))
        except VaultServiceError:  # no vault, the chain unavailable: Django answers it as usual
            return prepaid
        except Exception:  # noqa: BLE001 - Django answers it, with the error it meets itself
            logger.warning("read of %s left to Django", request.read_ahead, exc_info=True)
            return prepaid

    def _learning(self, send, template: tuple[str, bool]):
        """`send`, remembering the headers of Django's 200 for this route."""
        if template in self._headers:
            return send

        async def learning_send(message):
            if message["type"] == "http.response.start" and message.get("status") == 200:
                headers = list(message.get("headers") or [])
                if all(name.lower() in REPLAYABLE_HEADERS for name, _ in headers):
                    self._headers[template] = [(n, v) for n, v in headers if n.lower() != b"content-length"]
            await send(message)

        return learning_send


class _Eligible:
    __slots__ = ("url_name", "route", "kwargs", "read_ahead", "template", "headers")

    def __init__(self, match, read_ahead, secure, headers):
        self.url_name, self.route, self.kwargs = match.url_name, match.route, match.kwargs
        self.read_ahead, self.headers = read_ahead, headers
        self.template = (match.url_name, secure)


def _eligible(scope) -> _Eligible | None:
    """What the fast path needs of an anonymous JSON read of a cached route; None for any other
    request."""
    headers: dict[bytes, bytes] = {}
    for name, value in scope.get("headers") or ():
        name = name.lower()
        if name in headers or name in CREDENTIAL_HEADERS:
            return None  # a repeated header or a credential: Django decides
        headers[name] = value
    if headers.get(b"accept", b"").strip() not in JSON_ACCEPTS:
        return None
    if b"cookie" in headers and settings.SESSION_COOKIE_NAME in parse_cookie(headers[b"cookie"].decode("latin-1")):
        return None
    secure = _is_secure(scope, headers)
    if settings.SECURE_SSL_REDIRECT and not secure:
        return None
    if not _host_allowed(headers):
        return None
    root = scope.get("root_path", "")
    path = scope["path"]
    if root and not path.startswith(root):
        return None
    try:
        match = resolve(path[len(root):] or "/")
    except Resolver404:
        return None
    if match.url_name not in READERS:
        return None
    view = match.func.view_class()
    view.kwargs = match.kwargs
    read_ahead = view.read_ahead_keys()
    if len(read_ahead) != 1:
        return None
    return _Eligible(match, read_ahead, secure, headers)


def _is_secure(scope, headers) -> bool:
    """Django's request.is_secure() for this scope."""
    if settings.SECURE_PROXY_SSL_HEADER:
        meta_name, expected = settings.SECURE_PROXY_SSL_HEADER
        header = meta_name.removeprefix("HTTP_").replace("_", "-").lower().encode()
        if header in headers:
            return headers[header].decode("latin-1").split(",", 1)[0].strip() == expected
    return scope.get("scheme") == "https"


def _host_allowed(headers) -> bool:
    """Django's request.get_host() would accept this request's host."""
    host = headers.get(b"host", b"").decode("latin-1")
    if settings.USE_X_FORWARDED_HOST and b"x-forwarded-host" in headers:
        host = headers[b"x-forwarded-host"].decode("latin-1")
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, allowed)
