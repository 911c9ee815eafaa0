"""Staff session limits and per-route request metrics."""
from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from console import metrics

SIGNED_IN_AT = "console_signed_in_at"


@receiver(user_logged_in, dispatch_uid="console.session_started")
def _remember_sign_in(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        request.session[SIGNED_IN_AT] = int(time.time())


class StaffSessionLimitMiddleware:
    """Ends a signed-in session STAFF_SESSION_MAX_SECONDS after sign-in, however active it is
    (the idle limit is the session cookie's age, renewed by every request)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and SIGNED_IN_AT in session:
            if time.time() - session[SIGNED_IN_AT] > settings.STAFF_SESSION_MAX_SECONDS:
                logout(request)
        return self.get_response(request)


class RequestMetricsMiddleware:
    """Latency per route: the URL pattern (`vault/balance/<str:user>`), never the raw path, so the
    number of series stays bounded whatever clients send."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = (match.route or match.view_name) if match else "unmatched"
        if route.startswith("admin/"):
            route = "admin"  # one series for the whole admin
        metrics.HTTP_REQUEST_SECONDS.labels(route, request.method if request.method in _METHODS else "other",
                                            f"{response.status_code // 100}xx").observe(time.perf_counter() - started)
        return response


_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
