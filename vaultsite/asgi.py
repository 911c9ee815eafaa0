"""ASGI entry point: HTTP (API + admin) and the /ws streams (monitoring/routing.py)."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vaultsite.settings.dev")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from monitoring.routing import websocket_urlpatterns  # noqa: E402
from monitoring.ws_auth import origin_validated  # noqa: E402
from vaultsite.http_guard import JsonErrorGuard  # noqa: E402
from vaults.services.chain_identity import verify_at_startup  # noqa: E402

verify_at_startup("web")  # one chain per ledger: never serve a ledger against another chain

if settings.SERVE_STATIC:
    # Local runs have no web server in front: serve the admin's static files like runserver.
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    django_asgi_app = ASGIStaticFilesHandler(django_asgi_app)

application = ProtocolTypeRouter({
    # Outermost: whatever fails below (static files included) still answers in JSON.
    "http": JsonErrorGuard(django_asgi_app),
    # Browsers: Origin checked against ALLOWED_HOSTS; staff sessions come from the cookie.
    "websocket": origin_validated(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
})
