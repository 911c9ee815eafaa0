"""The global API rate limit (Redis); per-user limits are applied in the deposit/withdraw views."""
from django.conf import settings
from rest_framework.throttling import BaseThrottle

from vaults.services.rate_limits import enforce_rate_limit


class GlobalRateThrottle(BaseThrottle):
    def allow_request(self, request, view):
        enforce_rate_limit(
            "global", "api",
            limit=settings.RATE_LIMIT_GLOBAL_REQUESTS, window_seconds=settings.RATE_LIMIT_WINDOW_SECONDS,
        )
        return True


def enforce_user_rate_limit(wallet: str) -> None:
    enforce_rate_limit(
        "user", wallet, limit=settings.RATE_LIMIT_USER_REQUESTS, window_seconds=settings.RATE_LIMIT_WINDOW_SECONDS,
    )
