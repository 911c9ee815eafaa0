"""DRF authentication: `Authorization: Bearer <wallet token>` and `X-API-Key: <key>`."""
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from vaults.api.principals import ServicePrincipal, WalletPrincipal
from vaults.errors import NotAuthenticated
from vaults.services.api_keys import api_key_for
from vaults.services.wallet_auth import session_for_token


class WalletTokenAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts:
            return None
        if parts[0].lower() != self.keyword:
            # A credential the API does not understand is refused, never ignored: a request
            # carrying a bad credential must not pass on the strength of another one.
            raise NotAuthenticated("unsupported Authorization scheme: use Bearer <wallet login token>",
                                   code="invalid_token")
        if len(parts) != 2:
            raise NotAuthenticated("malformed Authorization header", code="invalid_token")
        session = session_for_token(parts[1].decode(errors="replace"))
        if session is None:
            raise NotAuthenticated("invalid or expired login token", code="invalid_token")
        return WalletPrincipal(wallet=session.wallet, session_id=session.pk), session

    def authenticate_header(self, request):
        return 'Bearer realm="wallet"'


class ApiKeyAuthentication(BaseAuthentication):
    header = "HTTP_X_API_KEY"

    def authenticate(self, request):
        raw = request.META.get(self.header)
        if not raw:
            return None
        api_key = api_key_for(raw.strip())
        if api_key is None:
            raise NotAuthenticated("invalid or inactive API key", code="invalid_api_key")
        return ServicePrincipal(name=api_key.name, api_key_id=api_key.pk), api_key
