"""Thin DRF views: parse, authorize, call a service or selector, render.

Reads (balance, transactions, TVL) are public: they show what anyone can read from the chain.
Every POST needs a wallet login token (for that wallet only), an API key, or a staff session
(with the `vaults.act_for_wallet` permission). Every view charges the caller's own rate-limit
bucket; the writes accept an Idempotency-Key.
"""
import base64
import binascii
import re
from dataclasses import dataclass

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework.exceptions import APIException
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from vaults.api import serializers as s
from vaults.api.authentication import WalletTokenAuthentication
from vaults.api.principals import acting_wallet, ensure_can_act_for
from vaults.api.schema import COMMON_HEADERS, IDEMPOTENCY_KEY, READ_ERRORS, WRITE_ERRORS, errors
from vaults.api.throttling import charge_client, charge_write, principal_key
from vaults.cache import read_ahead
from vaults.cache_keys import TVL_KEY, balance_key
from vaults.chain.client import decode_transaction, get_chain_client, parse_pubkey
from vaults.errors import InvalidRequest, NotAuthenticated, VaultNotFound, VaultServiceError
from vaults.selectors import HistoryCursor, get_transaction_page, get_tvl_summary, vault_exists_for_owner
from vaults.services import idempotency, wallet_auth
from vaults.services.vault_manager import VaultManager, VaultOperation, chain_errors

PUBKEY_PATH = OpenApiParameter("user", s.BASE58_PUBKEY, OpenApiParameter.PATH, required=True,
                               description="the vault owner's wallet")
OPERATION_RESPONSES = {
    200: OpenApiResponse(
        PolymorphicProxySerializer(
            component_name="OperationResponse",
            serializers=[s.UnsignedTransactionResponse, s.SignatureResponse],
            resource_type_field_name=None,
        ),
        description="A simulated transaction for the user to sign; on localnet with the dev signer, the "
                    "server signs, sends and confirms it and answers {success, signature}",
    ),
    **errors(*WRITE_ERRORS),
}


class IdempotentReplay(Exception):
    def __init__(self, answer: idempotency.StoredAnswer):
        self.answer = answer


class VaultApiView(APIView):
    # Charges the client's bucket even when its credential is refused (a 401 costs a request
    # too), and, for `idempotent` views, honours the Idempotency-Key header.

    idempotent = False
    credentials_required = False

    def read_ahead_keys(self) -> list[str]:
        """The cache entries this request will read: fetched in the round trip that charges the
        client's rate limit (vaults.api.throttling)."""
        return []

    def perform_authentication(self, request):
        try:
            request.user
        except (APIException, VaultServiceError):
            charge_client(request, None)  # 429 instead of 401 once this IP's budget is spent
            request._client_charged = True
            raise

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self._idempotency_claim = None
        raw_key = request.headers.get(idempotency.HEADER)
        if not self.idempotent or raw_key is None or not getattr(request.user, "is_authenticated", False):
            return
        key = idempotency.validate_key(raw_key)
        raw_body = request._request.body  # first: Django caches it, and the parser reads the cache
        try:
            parsed = request.data
        except APIException:
            parsed = None
        scope = f"{describe_client(request.user)}|{request.method}|{request.path}"
        fingerprint = idempotency.fingerprint(request.method, request.path, raw_body, parsed)
        claimed = idempotency.claim(scope, key, fingerprint)
        if isinstance(claimed, idempotency.StoredAnswer):
            raise IdempotentReplay(claimed)
        self._idempotency_claim = claimed

    def handle_exception(self, exc):
        if isinstance(exc, IdempotentReplay):
            response = Response(exc.answer.body, status=exc.answer.status)
            response["Idempotent-Replayed"] = "true"
            return response
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        claim = getattr(self, "_idempotency_claim", None)
        if claim is not None:
            self._idempotency_claim = None
            idempotency.complete(claim, response.status_code, getattr(response, "data", None))
        return super().finalize_response(request, response, *args, **kwargs)


def describe_client(user) -> str:
    return principal_key(user) or "anonymous"


def request_body(request):
    """The parsed JSON body; an absent body is an empty object, so the fields report missing."""
    return request.data


def annotate_audit(request, **fields):
    audit = getattr(request._request, "audit", {})
    audit.update(fields)
    request._request.audit = audit


def operation_response(request, operation: VaultOperation) -> Response:
    if operation.signature:
        annotate_audit(request, signature=operation.signature)
        return Response({"success": True, "signature": operation.signature})
    built = operation.built
    return Response({
        "success": True,
        "transaction": built.to_base64(),
        "vault": operation.vault,
        "signers": list(built.signers),
        "blockhash": built.blockhash,
        "last_valid_block_height": built.last_valid_block_height,
        "compute_unit_limit": built.compute_unit_limit,
        "compute_unit_price_micro_lamports": built.compute_unit_price,
        "simulated_units": built.simulated_units,
    })


ASCII_DIGITS = re.compile(r"[0-9]{1,20}")


def ascii_int(raw: str | None, *, name: str, default: int, minimum: int, maximum: int) -> int:
    """A query parameter that must be plain ASCII digits (str.isdigit() also accepts '²', '①', '٣'
    and '５', which int() either refuses or silently converts)."""
    if raw is None:
        return default
    if not ASCII_DIGITS.fullmatch(raw) or not minimum <= int(raw) <= maximum:
        raise InvalidRequest(f"{name} must be an integer from {minimum} to {maximum} (ASCII digits)",
                             code=f"invalid_{name}")
    return int(raw)


def parse_signed_transaction(encoded: str):
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest("transaction must be a base64-encoded versioned transaction",
                             code="invalid_transaction") from exc
    try:
        return decode_transaction(raw)
    except ValueError as exc:
        raise InvalidRequest(f"transaction: {exc}", code="invalid_transaction") from exc


def path_pubkey(value: str) -> str:
    try:
        return str(parse_pubkey(value))
    except ValueError as exc:
        raise InvalidRequest("user must be a base58-encoded 32-byte public key", code="invalid_pubkey") from exc


WRITE_SCHEMA = dict(tags=["vault"], parameters=[IDEMPOTENCY_KEY, *COMMON_HEADERS])


class VaultWriteApi(VaultApiView):
    idempotent = True
    credentials_required = True


class VaultInitializeApi(VaultWriteApi):
    @extend_schema(request=s.InitializeRequest, responses=OPERATION_RESPONSES, summary="Create the user's vault",
                   operation_id="vault_initialize", **WRITE_SCHEMA)
    def post(self, request):
        data = s.parse_input(s.InitializeRequest, request_body(request))
        annotate_audit(request, action="vault.initialize", vault_owner=data["user"])
        ensure_can_act_for(request.user, data["user"])
        return operation_response(request, VaultManager().initialize_vault(data["user"]))


class VaultDepositApi(VaultWriteApi):
    @extend_schema(request=s.AmountRequest, responses=OPERATION_RESPONSES, summary="Deposit collateral (base units)",
                   operation_id="vault_deposit", **WRITE_SCHEMA)
    def post(self, request):
        data = s.parse_input(s.AmountRequest, request_body(request))
        annotate_audit(request, action="vault.deposit", vault_owner=data["user"], amount=data["amount"])
        ensure_can_act_for(request.user, data["user"])
        charge_write(request.user)
        return operation_response(request, VaultManager().deposit(data["user"], data["amount"]))


class VaultWithdrawApi(VaultWriteApi):
    @extend_schema(request=s.AmountRequest, responses=OPERATION_RESPONSES,
                   summary="Withdraw available collateral (base units)", operation_id="vault_withdraw", **WRITE_SCHEMA)
    def post(self, request):
        data = s.parse_input(s.AmountRequest, request_body(request))
        annotate_audit(request, action="vault.withdraw", vault_owner=data["user"], amount=data["amount"])
        ensure_can_act_for(request.user, data["user"])
        charge_write(request.user)
        return operation_response(request, VaultManager().withdraw(data["user"], data["amount"]))


class VaultSubmitApi(VaultWriteApi):
    @extend_schema(request=s.SubmitRequest, responses={200: s.SignatureResponse, **errors(*WRITE_ERRORS)},
                   summary="Relay a transaction the user signed", operation_id="vault_submit", **WRITE_SCHEMA)
    def post(self, request):
        data = s.parse_input(s.SubmitRequest, request_body(request))
        annotate_audit(request, action="vault.submit")
        if not getattr(request.user, "is_authenticated", False):
            raise NotAuthenticated("authentication required: a wallet login token, an API key, or a staff session")
        signed = parse_signed_transaction(data["transaction"])
        fee_payer = str(signed.message.account_keys[0])
        ensure_can_act_for(request.user, acting_wallet(request.user) or fee_payer)
        manager = VaultManager()
        manager.validate_relayable(signed, acting_wallet(request.user))
        annotate_audit(request, vault_owner=fee_payer)
        # Charged only now, once the transaction is well-formed, ours and validly signed, and to
        # the caller's own budget: never to an account the transaction merely names.
        charge_write(request.user)
        signature = manager.submit(signed, acting_wallet=acting_wallet(request.user))
        annotate_audit(request, signature=signature)
        return Response({"success": True, "signature": signature})


class VaultBalanceApi(VaultApiView):
    def read_ahead_keys(self) -> list[str]:
        try:
            return [balance_key(path_pubkey(self.kwargs.get("user", "")))]
        except InvalidRequest:
            return []  # refused by `get`

    @extend_schema(parameters=[PUBKEY_PATH, *COMMON_HEADERS], responses={200: s.BalanceResponse, **errors(*READ_ERRORS)},
                   tags=["vault"], summary="Vault balance (on-chain)", operation_id="vault_balance")
    def get(self, request, user):
        owner = path_pubkey(user)
        vault = VaultManager().get_vault_info(owner, cached=read_ahead(request, balance_key(owner)))
        return Response(s.balance_body(vault))


class VaultTransactionsApi(VaultApiView):
    @extend_schema(
        parameters=[
            PUBKEY_PATH,
            OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": settings.TRANSACTIONS_MAX_LIMIT},
                             description=f"1..{settings.TRANSACTIONS_MAX_LIMIT} (ASCII digits), "
                                         f"default {settings.TRANSACTIONS_DEFAULT_LIMIT}"),
            OpenApiParameter("cursor", str, description="the `X-Next-Cursor` of the previous page"),
            *COMMON_HEADERS,
        ],
        responses={200: s.TransactionResponse(many=True), **errors(*READ_ERRORS)}, tags=["vault"],
        summary="Vault history (newest first; the next page's cursor is in `X-Next-Cursor` and `Link`)",
        operation_id="vault_transactions",
    )
    def get(self, request, user):
        page = history_page(user, request.query_params.get("limit"), request.query_params.get("cursor"))
        response = Response(page.rows)
        for name, value in page.headers(request.path).items():
            response[name] = value
        return response


@dataclass(frozen=True)
class HistoryPage:
    rows: list[dict]
    limit: int
    next_cursor: str | None

    def headers(self, path: str) -> dict[str, str]:
        """The next page's cursor, in `X-Next-Cursor` and a `Link` to it."""
        if self.next_cursor is None:
            return {}
        return {"X-Next-Cursor": self.next_cursor,
                "Link": f'<{path}?limit={self.limit}&cursor={self.next_cursor}>; rel="next"'}


def history_page(user: str, raw_limit: str | None, raw_cursor: str | None) -> HistoryPage:
    """GET /vault/transactions/<user>: also served before Django (vaults.api.fast_reads)."""
    owner = path_pubkey(user)
    limit = ascii_int(raw_limit, name="limit", default=settings.TRANSACTIONS_DEFAULT_LIMIT,
                      minimum=1, maximum=settings.TRANSACTIONS_MAX_LIMIT)
    after = _history_cursor(raw_cursor)
    # The vault is looked up in the page's own query: one round trip for a page with rows.
    rows, next_cursor = get_transaction_page(owner, limit, after)
    if not rows and not vault_exists_for_owner(owner):
        # Known on chain but not recorded yet: an empty history, not an unknown vault.
        with chain_errors():
            exists = get_chain_client().get_vault(owner) is not None
        if not exists:
            raise VaultNotFound(f"no vault for {owner}")
        return HistoryPage([], limit, None)
    return HistoryPage(s.transaction_rows(rows), limit, None if next_cursor is None else next_cursor.encode())


def _history_cursor(raw: str | None) -> HistoryCursor | None:
    if raw is None:
        return None
    try:
        return HistoryCursor.decode(raw)
    except ValueError:
        raise InvalidRequest("cursor must be the X-Next-Cursor value of a previous page",
                             code="invalid_cursor") from None


class VaultTvlApi(VaultApiView):
    def read_ahead_keys(self) -> list[str]:
        return [TVL_KEY]

    @extend_schema(parameters=COMMON_HEADERS, responses={200: s.TvlResponse, **errors(429, 431, 500, 503)},
                   tags=["vault"], summary="Total value locked", operation_id="vault_tvl")
    def get(self, request):
        return Response(get_tvl_summary(cached=read_ahead(request, TVL_KEY)))


AUTH_ERRORS = (400, 401, 413, 415, 429, 431, 500, 503)


class AuthNonceApi(VaultApiView):
    @extend_schema(request=s.NonceRequest, responses={200: s.NonceResponse, **errors(*AUTH_ERRORS)}, tags=["auth"],
                   parameters=COMMON_HEADERS, summary="Get a one-time message for the wallet to sign",
                   operation_id="auth_nonce")
    def post(self, request):
        data = s.parse_input(s.NonceRequest, request_body(request))
        annotate_audit(request, action="auth.nonce", vault_owner=data["wallet"])
        issued = wallet_auth.issue_login_nonce(data["wallet"])
        return Response(s.NonceResponse(issued).data)


class AuthLoginApi(VaultApiView):
    @extend_schema(request=s.LoginRequest, responses={200: s.LoginResponse, **errors(*AUTH_ERRORS)}, tags=["auth"],
                   parameters=COMMON_HEADERS, summary="Exchange the signed nonce for a token acting for this wallet",
                   operation_id="auth_login")
    def post(self, request):
        data = s.parse_input(s.LoginRequest, request_body(request))
        annotate_audit(request, action="auth.login", vault_owner=data["wallet"])
        token, session = wallet_auth.login_with_signature(data["wallet"], data["nonce"], data["signature"])
        return Response({"success": True, "token": token, "wallet": session.wallet,
                         "expires_at": session.expires_at.isoformat()})


class AuthLogoutApi(VaultApiView):
    authentication_classes = [WalletTokenAuthentication]  # only wallet login tokens are revoked here
    permission_classes = [IsAuthenticated]
    credentials_required = True

    @extend_schema(request=None, responses={200: s.SuccessResponse, **errors(*AUTH_ERRORS, 403)}, tags=["auth"],
                   parameters=COMMON_HEADERS, summary="Revoke the current wallet token", operation_id="auth_logout")
    def post(self, request):
        annotate_audit(request, action="auth.logout")
        session = request.auth
        if not hasattr(session, "wallet"):
            raise InvalidRequest("only wallet login tokens can be revoked here", code="not_a_wallet_token")
        wallet_auth.revoke_session(session)
        return Response({"success": True})
