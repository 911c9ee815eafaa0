"""The project's routes plus the baseline view."""
from django.http import JsonResponse
from django.urls import path

from vaultsite.urls import handler400, handler404, handler500, urlpatterns as project_urlpatterns  # noqa: F401


def bare(request):
    """What every request costs before the application does anything: routing, middleware,
    JSON rendering. Sync, like the DRF views."""
    return JsonResponse({"ok": True, "timestamp": 1699123456})


urlpatterns = [path("bench/bare", bare), *project_urlpatterns]
