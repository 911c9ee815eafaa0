"""Anonymous public reads answered before Django: GET /vault/balance/<user>, /vault/tvl and
/vault/transactions/<user>.

Most traffic of an exchange's back office is the same public balances, TVL and histories asked
again and again. Through Django each costs eleven middlewares and DRF's dispatch, and Django
runs every synchronous view on one thread per process, so a read's Redis and PostgreSQL waits
hold up every other request of the process. This ASGI layer answers such a read on the event
loop: the caller's rate limits are charged, and a cached entry read, in one Redis round trip
(`rate_limits.charge_all_async`: the same buckets, in the same order, as Django's throttle), and
what needs the chain or the database runs the view's own code on a small thread pool
(API_FAST_READ_THREADS), where the waits of several reads overlap.

It answers only when it is sure Django would answer the same bytes:
- GET, Accept absent or JSON (DRF would pick the JSON renderer without options), and a query
  string of ASCII with only the parameters the view reads (none for balance and TVL; `limit`
  and `cursor` for the history);
- no credential (Authorization, X-API-Key, the session cookie): the caller is anonymous, so its
  buckets are its IP's and the anonymous pool;
- a Host that ALLOWED_HOSTS accepts, and no HTTPS redirect pending;
- the URL resolves (Django's own resolver) to one of these views;
- every bucket allowed the request, and the answer is a 200: from the cache entry the view reads
  (`read_ahead_keys`), or from the view's own function on a miss (`VaultManager.get_vault_info`,
  `views.history_page`); a TVL miss, an unknown vault, a bad `limit` or `cursor`, the chain
  away: Django answers;
- the headers are known: they are the ones Django itself answered the same kind of request with
  on this route (learned from a 200 that went through Django, and only when every header is one
  that cannot depend on the answer: no cookie, no ETag), plus the page's own `X-Next-Cursor` and
  `Link`.

Everything else goes on to Django unchanged, except that a request whose buckets were charged
carries that charge (`PrepaidCharge` in its scope): Django's throttle settles it instead of
charging again, so a refused charge is answered 429 by Django (exact Retry-After, the usual
body). No request is charged twice, and no read is made twice: an error the fast path's read met
(no vault, a bad cursor, the chain away) travels with the charge, and Django answers it. At most
8 reads per pool thread run or wait there; beyond that, Django reads (the queue stays bounded).
"""
from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.db import close_old_connections
from django.http import QueryDict
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host
from django.urls import Resolver404, resolve
from rest_framework.renderers import JSONRenderer

from console import metrics
from vaults import cache as shared_cache
from vaults.api import serializers as s
from vaults.api import views
from vaults.api.throttling import PREPAID_SCOPE_KEY, PrepaidCharge, client_charges, client_ip_from
from vaults.chain.client import VaultAccount
from vaults.errors import VaultServiceError
from vaults.services import rate_limits
from vaults.services.vault_manager import VaultManager

logger = logging.getLogger(__name__)

# Headers a DRF answer carries whatever its content: only these are learned and replayed.
REPLAYABLE_HEADERS = frozenset({
    b"content-type", b"vary", b"allow", b"x-frame-options", b"x-content-type-options", b"referrer-policy",
    b"cross-origin-opener-policy", b"strict-transport-security", b"content-length",
})
PER_ANSWER_HEADERS = frozenset({b"x-next-cursor", b"link"})  # the history page's own: computed per answer
JSON_ACCEPTS = frozenset({b"*/*", b"application/json"})
CREDENTIAL_HEADERS = frozenset({b"authorization", b"x-api-key"})
READS_WAITING_PER_THREAD = 8  # beyond this many reads per pool thread (running or waiting), Django reads


@dataclass(frozen=True)
class Answer:
    body: object
    headers: dict[str, str]

    def rendered(self) -> "Rendered":
        return Rendered(_renderer.render(self.body), self.headers)


@dataclass(frozen=True)
class Rendered:
    content: bytes
    headers: dict[str, str]


_renderer = JSONRenderer()


class BalanceRead:
    query_parameters: frozenset = frozenset()

    @staticmethod
    def from_cache(cached: dict, request) -> Answer:
        return Answer(s.balance_body(VaultAccount(**cached)), {})

    @staticmethod
    def read(request) -> Answer:
        """The view's own read on a miss: the chain, then the cache."""
        vault = VaultManager().get_vault_info(views.path_pubkey(request.kwargs["user"]), None)
        return Answer(s.balance_body(vault), {})


class TvlRead:
    query_parameters: frozenset = frozenset()

    @staticmethod
    def from_cache(cached: dict, request) -> Answer:
        return Answer(cached, {})

    read = None  # a miss is computed from the database by the view, rarely (TVL_CACHE_SECONDS)


class HistoryRead:
    query_parameters = frozenset({"limit", "cursor"})
    from_cache = None

    @staticmethod
    def read(request) -> Answer:
        page = views.history_page(request.kwargs["user"], request.query.get("limit"), request.query.get("cursor"))
        return Answer(page.rows, page.headers(request.path))


# url_name -> how its answer is read.
READERS = {"vault-balance": BalanceRead, "vault-tvl": TvlRead, "vault-transactions": HistoryRead}


@lru_cache(maxsize=1)
def _readers() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(settings.API_FAST_READ_THREADS, thread_name_prefix="fast-read")


def _as_request_thread(read, request) -> Rendered:
    """`read`, rendered (a page of up to TRANSACTIONS_MAX_LIMIT rows is not rendered on the event
    loop), with the database connections handled as Django handles them around a request (given
    back to the pool afterwards)."""
    close_old_connections()
    try:
        return read(request).rendered()
    finally:
        close_old_connections()


class CachedReadFastPath:
    """ASGI middleware around Django's HTTP application."""

    def __init__(self, app):
        self.app = app
        self._headers: dict[tuple[str, bool], list[tuple[bytes, bytes]]] = {}
        self._reading = 0  # reads on or waiting for the thread pool (the event loop's own count: no lock)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "GET" or not settings.API_FAST_READS:
            return await self.app(scope, receive, send)
        request = _eligible(scope)
        if request is None:
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        try:
            answer = await self._read(scope, request)
        except Exception as exc:  # noqa: BLE001 - Django answers it (and charges it: nothing was)
            logger.warning("read of %s left to Django: %s: %s", scope["path"], exc.__class__.__name__, exc)
            return await self.app(scope, receive, send)
        if isinstance(answer, Rendered):
            headers = [*self._headers[request.template],
                       *((name.encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers.items()),
                       (b"content-length", str(len(answer.content)).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": answer.content})
            metrics.HTTP_REQUEST_SECONDS.labels(request.route, "GET", "2xx").observe(time.perf_counter() - started)
            return None
        scope = {**scope, PREPAID_SCOPE_KEY: answer} if answer is not None else scope
        return await self.app(scope, receive, self._learning(send, request.template))

    async def _read(self, scope, request) -> Rendered | PrepaidCharge | None:
        """The answer, or the charge made for a request Django must answer (None when none was
        made)."""
        redis_keys = shared_cache.read_ahead_keys(request.read_ahead) if request.read_ahead else []
        if redis_keys is None:
            return None  # the cache lives elsewhere: Django's throttle charges and reads
        headers = request.headers
        charges = client_charges(None, client_ip_from((scope.get("client") or ("",))[0] or "",
                                                      headers.get(b"x-forwarded-for", b"").decode("latin-1")))
        charged = await rate_limits.charge_all_async(charges, read=redis_keys)
        prepaid = PrepaidCharge(charges[0][1], tuple(request.read_ahead), charged)
        if charged.refused or request.template not in self._headers:
            return prepaid
        reader = READERS[request.url_name]
        try:
            cached = [shared_cache.decode(raw) for raw in charged.values]
            if cached and cached[0] is not None:
                return reader.from_cache(cached[0], request).rendered()
            if reader.read is None or self._reading >= settings.API_FAST_READ_THREADS * READS_WAITING_PER_THREAD:
                return prepaid  # a TVL miss, or the readers' queue full: Django reads it
            self._reading += 1
            try:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(_readers(), _as_request_thread, reader.read, request)
            finally:
                self._reading -= 1
        except VaultServiceError as exc:
            # An error answer (no vault, a bad cursor, the chain away): Django renders it as
            # usual, from this very error, without reading again.
            return replace(prepaid, error=exc)
        except Exception:  # noqa: BLE001 - Django answers it, with the error it meets itself
            logger.warning("read of %s left to Django", request.path, exc_info=True)
            return prepaid

    def _learning(self, send, template: tuple[str, bool]):
        """`send`, remembering the headers of Django's 200 for this route."""
        if template in self._headers:
            return send

        async def learning_send(message):
            if message["type"] == "http.response.start" and message.get("status") == 200:
                headers = list(message.get("headers") or [])
                if all(name.lower() in REPLAYABLE_HEADERS | PER_ANSWER_HEADERS for name, _ in headers):
                    self._headers[template] = [(n, v) for n, v in headers
                                               if n.lower() not in PER_ANSWER_HEADERS and n.lower() != b"content-length"]
            await send(message)

        return learning_send


class _Eligible:
    __slots__ = ("url_name", "route", "path", "kwargs", "query", "read_ahead", "template", "headers")

    def __init__(self, match, path, query, read_ahead, secure, headers):
        self.url_name, self.route, self.kwargs = match.url_name, match.route, match.kwargs
        self.path, self.query, self.read_ahead, self.headers = path, query, read_ahead, headers
        self.template = (match.url_name, secure)


def _eligible(scope) -> _Eligible | None:
    """What the fast path needs of an anonymous JSON read of one of its routes; None for any
    other request."""
    headers: dict[bytes, bytes] = {}
    for name, value in scope.get("headers") or ():
        name = name.lower()
        if name in headers or name in CREDENTIAL_HEADERS:
            return None  # a repeated header or a credential: Django decides
        headers[name] = value
    accept = headers.get(b"accept")
    if accept is not None and accept.strip() not in JSON_ACCEPTS:
        return None  # an empty Accept too: DRF refuses it (406)
    if b"cookie" in headers and settings.SESSION_COOKIE_NAME in parse_cookie(headers[b"cookie"].decode("latin-1")):
        return None
    secure = _is_secure(scope, headers)
    if settings.SECURE_SSL_REDIRECT and not secure:
        return None
    if not _host_allowed(headers):
        return None
    root, path = scope.get("root_path", ""), scope["path"]
    if root and not path.startswith(root):
        return None
    try:
        match = resolve(path[len(root):] or "/")
    except Resolver404:
        return None
    reader = READERS.get(match.url_name)
    if reader is None:
        return None
    query = _query(scope.get("query_string") or b"", reader.query_parameters)
    if query is None:
        return None
    view = match.func.view_class()
    view.kwargs = match.kwargs
    read_ahead = view.read_ahead_keys()
    if len(read_ahead) > 1 or (reader.from_cache is not None) != bool(read_ahead):
        return None
    return _Eligible(match, path, query, read_ahead, secure, headers)


def _query(raw: bytes, parameters: frozenset) -> QueryDict | None:
    """The query string as Django parses it, when it is ASCII and names only `parameters`."""
    if not raw:
        return QueryDict()
    if not raw.isascii() or not parameters:
        return None
    try:
        query = QueryDict(raw.decode("ascii"))
    except SuspiciousOperation:  # too many fields: Django's 400
        return None
    return query if set(query) <= parameters else None


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
