"""OpenAPI: the security schemes of our credentials, and the schema class that declares per
operation which credentials it needs (imported by the settings' DEFAULT_SCHEMA_CLASS)."""
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from vaults.api import serializers as s
from vaults.services.idempotency import HEADER as IDEMPOTENCY_HEADER
from vaults.services.idempotency import KEY_PATTERN_TEXT


class WalletTokenScheme(OpenApiAuthenticationExtension):
    target_class = "vaults.api.authentication.WalletTokenAuthentication"
    name = "walletToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "A wallet login token (POST /auth/nonce, then /auth/login): acts for that wallet only"}


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "vaults.api.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "X-API-Key",
                "description": "A service API key `<prefix>.<secret>`: acts for any wallet"}


class VaultAutoSchema(AutoSchema):
    """Operations of views with `credentials_required = True` do not offer anonymous access (the
    default AllowAny permission would add `{}` to their security)."""

    def get_auth(self):
        auths = super().get_auth()
        if getattr(self.view, "credentials_required", False):
            auths = [a for a in auths if a]
        return auths


def _error(description):
    return OpenApiResponse(s.ErrorResponse, description=description)


ERROR_DESCRIPTIONS = {
    400: "invalid input (pubkey, amount, transaction, query parameter, JSON, Idempotency-Key)",
    401: "not authenticated, or the credential is invalid",
    403: "the credential may not act for this wallet (or a staff session without CSRF token or permission)",
    404: "unknown vault",
    409: "insufficient balance, vault exists, duplicate transaction, or the Idempotency-Key is in use",
    413: "request body too large",
    415: "the body is not application/json",
    422: "the program rejects the transaction, or the Idempotency-Key was used with another body",
    429: "rate limited: see Retry-After",
    431: "request headers too large",
    500: "internal error (logged, with the request id)",
    503: "the Solana RPC or a service is unavailable",
}
READ_ERRORS = (400, 404, 429, 431, 500, 503)
WRITE_ERRORS = (400, 401, 403, 404, 409, 413, 415, 422, 429, 431, 500, 503)


def errors(*codes):
    return {code: _error(ERROR_DESCRIPTIONS[code]) for code in codes}


RETRY_AFTER = OpenApiParameter("Retry-After", int, OpenApiParameter.HEADER, response=[429],
                               description="seconds until the client's budget allows a request")
REQUEST_ID = OpenApiParameter("X-Request-ID", str, OpenApiParameter.HEADER, response=True,
                              description="the request's id (the client's, when it sent a short token)")
IDEMPOTENCY_KEY = OpenApiParameter(
    IDEMPOTENCY_HEADER, {"type": "string", "pattern": KEY_PATTERN_TEXT, "minLength": 1, "maxLength": 255},
    OpenApiParameter.HEADER, required=False,
    description="Repeat the same request safely: the same key and body return the first answer "
                "(for 24 h); the same key with another body is refused with 422.",
)
COMMON_HEADERS = [RETRY_AFTER, REQUEST_ID]


# OpenAPI links: how one answer feeds the next call (clients and stateful testers follow them).
LINKS = {
    ("/vault/initialize", "post", "200"): {
        "DepositIntoTheVault": {"operationId": "vault_deposit",
                                "requestBody": {"user": "$request.body#/user", "amount": 1000}},
        "ReadTheBalance": {"operationId": "vault_balance", "parameters": {"user": "$request.body#/user"}},
    },
    ("/vault/deposit", "post", "200"): {
        "ReadTheBalance": {"operationId": "vault_balance", "parameters": {"user": "$request.body#/user"}},
        "ReadTheHistory": {"operationId": "vault_transactions", "parameters": {"user": "$request.body#/user"}},
        "WithdrawIt": {"operationId": "vault_withdraw",
                       "requestBody": {"user": "$request.body#/user", "amount": "$request.body#/amount"}},
    },
    ("/vault/withdraw", "post", "200"): {
        "ReadTheBalance": {"operationId": "vault_balance", "parameters": {"user": "$request.body#/user"}},
    },
    ("/vault/deposit", "post", "404"): {
        "InitializeTheVault": {"operationId": "vault_initialize", "requestBody": {"user": "$request.body#/user"}},
    },
    ("/auth/nonce", "post", "200"): {
        "LogIn": {"operationId": "auth_login",
                  "requestBody": {"wallet": "$response.body#/wallet", "nonce": "$response.body#/nonce"}},
    },
}


def add_links(result, generator, request, public):
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    for (path, method, status), links in LINKS.items():
        response = result.get("paths", {}).get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is not None:
            response["links"] = links
    return result
