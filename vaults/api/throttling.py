"""Who a request is for rate limiting, and the throttles that charge each client's own bucket.

A client is its credential when it has one (API key, wallet login, staff user), else its IP.
`X-Forwarded-For` is believed only when the TCP peer is one of TRUSTED_PROXIES, and then only
up to the first address that is not a trusted proxy (the rightmost one a client could not forge).
"""
from __future__ import annotations

import hashlib
import ipaddress
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.http import JsonResponse
from rest_framework.throttling import BaseThrottle

from vaults import cache as shared_cache
from vaults.api.errors import error_body
from vaults.api.principals import ServicePrincipal, WalletPrincipal
from vaults.errors import RateLimited
from vaults.services import rate_limits

logger = logging.getLogger(__name__)


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]):
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in proxies if p.strip())


def _is_trusted_proxy(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(tuple(settings.TRUSTED_PROXIES)))


def client_ip(request) -> str:
    """The client's IP for a Django or DRF request."""
    meta = request.META
    return client_ip_from(meta.get("REMOTE_ADDR") or "", meta.get("HTTP_X_FORWARDED_FOR", ""))


def client_ip_from(peer: str, forwarded_for: str) -> str:
    """The client's IP from the TCP peer's address and the X-Forwarded-For header."""
    peer = peer or "unknown"
    if not _is_trusted_proxy(peer):
        return peer
    forwarded = [part.strip() for part in forwarded_for.split(",") if part.strip()]
    for address in reversed(forwarded):
        try:
            ipaddress.ip_address(address)
        except ValueError:
            return peer  # a malformed chain: believe only the proxy itself
        if not _is_trusted_proxy(address):
            return address
    return forwarded[0] if forwarded else peer


def principal_key(user) -> str | None:
    """The bucket identity of an authenticated caller; None for anonymous callers."""
    if isinstance(user, WalletPrincipal):
        return f"wallet:{user.wallet}"
    if isinstance(user, ServicePrincipal):
        return f"api-key:{user.api_key_id}"
    if user is not None and getattr(user, "is_authenticated", False):
        return f"user:{user.pk}"
    return None


def client_charges(user, ip: str) -> list[tuple[rate_limits.Budget, str, str]]:
    """The buckets one request of this client is charged to, in order: its own bucket, and the
    anonymous pool for anonymous ones."""
    key = principal_key(user)
    if key is not None:
        return [(rate_limits.client_budget(), key, "per client")]
    return [(rate_limits.anonymous_budget(), f"ip:{ip}", "per client"),
            (rate_limits.anonymous_pool_budget(), "all", "all anonymous clients")]


PREPAID_SCOPE_KEY = "cvms.prepaid_charge"


@dataclass(frozen=True)
class PrepaidCharge:
    """The rate-limit round trip a request already made before Django (vaults.api.fast_reads),
    carried in its ASGI scope (which only the server writes): Django's throttle settles it
    instead of charging the request a second time."""

    identity: str
    read_ahead: tuple[str, ...]
    charged: rate_limits.Charged
    error: Exception | None = None  # what the fast path's read of this request met: Django answers it


def _take_prepaid(request) -> PrepaidCharge | None:
    scope = getattr(getattr(request, "_request", request), "scope", None)
    return scope.pop(PREPAID_SCOPE_KEY, None) if isinstance(scope, dict) else None


def charge_client(request, user, *, read_ahead: Sequence[str] = ()) -> dict:
    """One request of this client (`client_charges`). Returns the cache entries named in
    `read_ahead` ({key: value or None}), read in the same Redis round trip; {} when the cache
    lives elsewhere (the view then reads it itself)."""
    charges = client_charges(user, client_ip(request))
    prepaid = _take_prepaid(request)
    if prepaid is not None and prepaid.identity == charges[0][1] and prepaid.read_ahead == tuple(read_ahead):
        values = rate_limits.settle(charges, prepaid.charged)
        if prepaid.error is not None:
            raise prepaid.error  # the view would meet it again: answered as the view's own error
        return {name: shared_cache.decode(raw) for name, raw in zip(read_ahead, values)}
    redis_keys = shared_cache.read_ahead_keys(list(read_ahead)) if read_ahead else None
    values = rate_limits.charge_all(charges, read=redis_keys or ())
    if redis_keys is None:
        return {}
    return {name: shared_cache.decode(raw) for name, raw in zip(read_ahead, values)}


def charge_write(user) -> None:
    """A write (deposit, withdraw, submit) of an authenticated principal."""
    key = principal_key(user)
    if key is None:  # callers authenticate first; never charge a wallet named in a request
        return
    rate_limits.charge(rate_limits.write_budget(isinstance(user, ServicePrincipal)), key, what="writes per client")


class ClientRateThrottle(BaseThrottle):
    """The default throttle of every API view: each client its own bucket."""

    def allow_request(self, request, view):
        if getattr(request, "_client_charged", False):  # charged already when authentication failed
            return True
        keys = view.read_ahead_keys() if hasattr(view, "read_ahead_keys") else ()
        request.read_ahead = charge_client(request, request.user, read_ahead=keys)
        return True


class HealthRateThrottle(BaseThrottle):
    """/health: per client IP (monitoring probes come from a few fixed addresses)."""

    def allow_request(self, request, view):
        rate_limits.charge(rate_limits.health_budget(), f"ip:{client_ip(request)}", what="health per client")
        return True


def _account_identity(username: str) -> str:
    return hashlib.sha256(username.strip().lower()[:150].encode()).hexdigest()


class AdminLoginThrottleMiddleware:
    """Password guessing on the admin login: failed attempts are counted per account and per
    client IP; once either budget is spent, the login answers 429 (JSON, Retry-After) without
    checking the password. Keyed by path (ADMIN_LOGIN_THROTTLE_PATHS), so it wraps whatever
    view serves the login, second factors included."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method != "POST" or request.path not in settings.ADMIN_LOGIN_THROTTLE_PATHS:
            return self.get_response(request)
        account_budget, ip_budget = rate_limits.admin_login_budgets()
        username = request.POST.get("username", "") if request.content_type in (
            "application/x-www-form-urlencoded", "multipart/form-data") else ""
        buckets = [(ip_budget, f"ip:{client_ip(request)}")]
        if username:
            buckets.append((account_budget, f"account:{_account_identity(username)}"))
        try:
            for budget, identity in buckets:
                rate_limits.ensure_available(budget, identity, what=budget.scope)
        except RateLimited as exc:
            logger.warning("admin login refused (rate limited) for %s", buckets[0][1])
            response = JsonResponse(error_body(exc.code, exc.message, request=request), status=429)
            response["Retry-After"] = str(exc.retry_after)
            return response
        response = self.get_response(request)
        if response.status_code != 302:  # Django's login redirects on success only
            for budget, identity in buckets:
                rate_limits.limiter().hit(budget.item, identity)
        return response
