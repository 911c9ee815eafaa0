"""Thin DRF views: parse, authorize, call a service or selector, render.

Reads (balance, transactions, TVL) are public: they show what anyone can read from the chain.
Every POST needs a wallet login token (for that wallet only), an API key, or a staff session.
"""
import base64
import binascii

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from solders.transaction import VersionedTransaction

from vaults.api import serializers as s
from vaults.api.principals import acting_wallet, ensure_can_act_for
from vaults.api.throttling import enforce_user_rate_limit
from vaults.chain.client import get_chain_client, parse_pubkey
from vaults.errors import InvalidRequest, NotAuthenticated, VaultNotFound
from vaults.selectors import get_transactions, get_tvl_summary, get_vault_by_owner
from vaults.services import wallet_auth
from vaults.services.vault_manager import VaultManager, VaultOperation, chain_errors

ERRORS = {
    400: OpenApiResponse(s.ErrorResponse, description="invalid pubkey, amount or JSON"),
    401: OpenApiResponse(s.ErrorResponse, description="not authenticated"),
    403: OpenApiResponse(s.ErrorResponse, description="the credential may not act for this wallet"),
    404: OpenApiResponse(s.ErrorResponse, description="unknown vault"),
    409: OpenApiResponse(s.ErrorResponse, description="insufficient balance / vault exists"),
    422: OpenApiResponse(s.ErrorResponse, description="the program rejects the transaction"),
    429: OpenApiResponse(s.ErrorResponse, description="rate limited"),
    503: OpenApiResponse(s.ErrorResponse, description="the Solana RPC is unavailable"),
}
OPERATION_RESPONSES = {
    200: OpenApiResponse(
        s.UnsignedTransactionResponse,
        description="A simulated transaction to sign; on localnet with the dev signer, {success, signature}",
    ),
    **ERRORS,
}


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


def path_pubkey(value: str) -> str:
    try:
        return str(parse_pubkey(value))
    except ValueError as exc:
        raise InvalidRequest("user must be a base58-encoded 32-byte public key", code="invalid_pubkey") from exc


class VaultInitializeApi(APIView):
    @extend_schema(request=s.InitializeRequest, responses=OPERATION_RESPONSES, tags=["vault"],
                   summary="Create the user's vault")
    def post(self, request):
        data = s.parse_input(s.InitializeRequest, request_body(request))
        annotate_audit(request, action="vault.initialize", vault_owner=data["user"])
        ensure_can_act_for(request.user, data["user"])
        return operation_response(request, VaultManager().initialize_vault(data["user"]))


class VaultDepositApi(APIView):
    @extend_schema(request=s.AmountRequest, responses=OPERATION_RESPONSES, tags=["vault"],
                   summary="Deposit collateral (base units)")
    def post(self, request):
        data = s.parse_input(s.AmountRequest, request_body(request))
        annotate_audit(request, action="vault.deposit", vault_owner=data["user"], amount=data["amount"])
        ensure_can_act_for(request.user, data["user"])
        enforce_user_rate_limit(data["user"])
        return operation_response(request, VaultManager().deposit(data["user"], data["amount"]))


class VaultWithdrawApi(APIView):
    @extend_schema(request=s.AmountRequest, responses=OPERATION_RESPONSES, tags=["vault"],
                   summary="Withdraw available collateral (base units)")
    def post(self, request):
        data = s.parse_input(s.AmountRequest, request_body(request))
        annotate_audit(request, action="vault.withdraw", vault_owner=data["user"], amount=data["amount"])
        ensure_can_act_for(request.user, data["user"])
        enforce_user_rate_limit(data["user"])
        return operation_response(request, VaultManager().withdraw(data["user"], data["amount"]))


class VaultSubmitApi(APIView):
    @extend_schema(request=s.SubmitRequest, responses={200: s.SignatureResponse, **ERRORS}, tags=["vault"],
                   summary="Relay a transaction the user signed")
    def post(self, request):
        data = s.parse_input(s.SubmitRequest, request_body(request))
        annotate_audit(request, action="vault.submit")
        if not getattr(request.user, "is_authenticated", False):
            raise NotAuthenticated("authentication required: a wallet login token, an API key, or a staff session")
        try:
            signed = VersionedTransaction.from_bytes(base64.b64decode(data["transaction"], validate=True))
        except (binascii.Error, ValueError) as exc:
            raise InvalidRequest("transaction must be a base64-encoded versioned transaction",
                                 code="invalid_transaction") from exc
        fee_payer = str(signed.message.account_keys[0])
        annotate_audit(request, vault_owner=fee_payer)
        ensure_can_act_for(request.user, acting_wallet(request.user) or fee_payer)
        enforce_user_rate_limit(fee_payer)
        signature = VaultManager().submit(signed, acting_wallet=acting_wallet(request.user))
        annotate_audit(request, signature=signature)
        return Response({"success": True, "signature": signature})


class VaultBalanceApi(APIView):
    @extend_schema(responses={200: s.BalanceResponse, **ERRORS}, tags=["vault"], summary="Vault balance (on-chain)")
    def get(self, request, user):
        owner = path_pubkey(user)
        vault = VaultManager().get_vault_info(owner)
        return Response({
            "owner": vault.owner,
            "vault": vault.address,
            "token_account": vault.token_account,
            "total_balance": vault.total_balance,
            "locked_balance": vault.locked_balance,
            "available_balance": vault.available_balance,
            "total_deposited": vault.total_deposited,
            "total_withdrawn": vault.total_withdrawn,
            "created_at": vault.created_at,
            # Extension (vault program v2): what each program holds locked, with the owner's cap.
            "program_locks": [dict(lock) for lock in vault.program_locks],
        })


class VaultTransactionsApi(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("limit", int, description="1..1000, default 100")],
        responses={200: s.TransactionResponse(many=True), **ERRORS}, tags=["vault"], summary="Vault history",
    )
    def get(self, request, user):
        owner = path_pubkey(user)
        limit = self._limit(request.query_params.get("limit"))
        vault = get_vault_by_owner(owner)
        if vault is None:
            # Known on chain but not recorded yet: an empty history, not an unknown vault.
            with chain_errors():
                exists = get_chain_client().get_vault(owner) is not None
            if not exists:
                raise VaultNotFound(f"no vault for {owner}")
            return Response([])
        return Response(s.TransactionResponse(get_transactions(vault, limit), many=True).data)

    @staticmethod
    def _limit(raw):
        if raw is None:
            return settings.TRANSACTIONS_DEFAULT_LIMIT
        if not raw.isdigit() or not 1 <= int(raw) <= settings.TRANSACTIONS_MAX_LIMIT:
            raise InvalidRequest(f"limit must be an integer from 1 to {settings.TRANSACTIONS_MAX_LIMIT}",
                                 code="invalid_limit")
        return int(raw)


class VaultTvlApi(APIView):
    @extend_schema(responses={200: s.TvlResponse}, tags=["vault"], summary="Total value locked")
    def get(self, request):
        return Response(get_tvl_summary())


class AuthNonceApi(APIView):
    @extend_schema(request=s.NonceRequest, responses={200: s.NonceResponse, **ERRORS}, tags=["auth"],
                   summary="Get a one-time message for the wallet to sign")
    def post(self, request):
        data = s.parse_input(s.NonceRequest, request_body(request))
        annotate_audit(request, action="auth.nonce", vault_owner=data["wallet"])
        issued = wallet_auth.issue_login_nonce(data["wallet"])
        return Response(s.NonceResponse(issued).data)


class AuthLoginApi(APIView):
    @extend_schema(request=s.LoginRequest, responses={200: s.LoginResponse, **ERRORS}, tags=["auth"],
                   summary="Exchange the signed nonce for a token acting for this wallet")
    def post(self, request):
        data = s.parse_input(s.LoginRequest, request_body(request))
        annotate_audit(request, action="auth.login", vault_owner=data["wallet"])
        token, session = wallet_auth.login_with_signature(data["wallet"], data["nonce"], data["signature"])
        return Response({"success": True, "token": token, "wallet": session.wallet,
                         "expires_at": session.expires_at.isoformat()})


class AuthLogoutApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: s.SignatureResponse, **ERRORS}, tags=["auth"],
                   summary="Revoke the current wallet token")
    def post(self, request):
        annotate_audit(request, action="auth.logout")
        session = request.auth
        if not hasattr(session, "wallet"):
            raise InvalidRequest("only wallet login tokens can be revoked here", code="not_a_wallet_token")
        wallet_auth.revoke_session(session)
        return Response({"success": True})
