"""ASGI entry point: HTTP (API + admin) and the /ws streams (monitoring/routing.py)."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vaultsite.settings.dev")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from monitoring.routing import websocket_urlpatterns  # noqa: E402
from monitoring.ws_auth import origin_validated  # noqa: E402
from vaultsite.http_guard import JsonErrorGuard  # noqa: E402
from vaults.api.fast_reads import CachedReadFastPath  # noqa: E402
from vaults.services.chain_identity import verify_at_startup  # noqa: E402


def _verify_chain_at_startup() -> None:
    """One chain per ledger: never serve a ledger against another chain. Some ASGI servers
    (uvicorn's workers) import this module inside their running event loop, where Django refuses
    database queries: the check then runs on a thread of its own (its SystemExit still stops it)."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        verify_at_startup("web")
        return
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    def check():
        try:
            verify_at_startup("web")
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1, thread_name_prefix="chain-check") as pool:
        pool.submit(check).result()


_verify_chain_at_startup()

if settings.SERVE_STATIC:
    # Local runs have no web server in front: serve the admin's static files like runserver.
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    django_asgi_app = ASGIStaticFilesHandler(django_asgi_app)

application = ProtocolTypeRouter({
    # Outermost: whatever fails below (static files included) still answers in JSON.
    # Then anonymous cached reads, answered before Django when the answer is certain to be the same.
    "http": JsonErrorGuard(CachedReadFastPath(django_asgi_app)),
    # Browsers: Origin checked against ALLOWED_HOSTS. Staff sessions come from the cookie, read
    # once by the consumer at connect (monitoring.ws_auth.principal_for_session): no session
    # middleware wraps every frame the streams send.
    "websocket": origin_validated(URLRouter(websocket_urlpatterns)),
})
