"""Wallet-signature login: the wallet signs a one-time server nonce with its ed25519 key.

The nonce lives in Redis for WALLET_LOGIN_NONCE_SECONDS and is consumed atomically (GETDEL), so a
signed message cannot be replayed. The resulting token acts for that wallet only; the database
keeps a SHA-256 of it, never the token.
"""
import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from django.conf import settings
from solders.pubkey import Pubkey
from solders.signature import Signature

from vaults.errors import InvalidRequest, NotAuthenticated
from vaults.models import WalletSession
from vaults.redis_client import get_redis

LOGIN_DOMAIN = "Collateral Vault back office"


def _nonce_key(wallet: str, nonce: str) -> str:
    return f"auth:nonce:{wallet}:{nonce}"


def login_message(wallet: str, nonce: str) -> str:
    return f"{LOGIN_DOMAIN} login\nwallet: {wallet}\nnonce: {nonce}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_login_nonce(wallet: str) -> dict:
    nonce = secrets.token_urlsafe(24)
    ttl = settings.WALLET_LOGIN_NONCE_SECONDS
    get_redis().set(_nonce_key(wallet, nonce), "1", ex=ttl)
    expires_at = datetime.now(tz=timezone.utc) + timedelta(seconds=ttl)
    return {"wallet": wallet, "nonce": nonce, "message": login_message(wallet, nonce), "expires_at": expires_at}


def login_with_signature(wallet: str, nonce: str, signature: str) -> tuple[str, WalletSession]:
    try:
        parsed_signature = Signature.from_string(signature)
    except ValueError as exc:
        raise InvalidRequest("signature must be a base58 ed25519 signature", code="invalid_signature") from exc
    if not get_redis().getdel(_nonce_key(wallet, nonce)):
        raise NotAuthenticated("unknown or expired nonce; request a new one", code="invalid_nonce")
    message = login_message(wallet, nonce).encode()
    if not parsed_signature.verify(Pubkey.from_string(wallet), message):
        raise NotAuthenticated("the signature does not match the wallet and nonce", code="invalid_signature")
    token = secrets.token_urlsafe(32)
    session = WalletSession.objects.create(
        wallet=wallet,
        token_hash=hash_token(token),
        expires_at=datetime.now(tz=timezone.utc) + timedelta(seconds=settings.WALLET_SESSION_SECONDS),
    )
    return token, session


def session_for_token(token: str) -> WalletSession | None:
    return (
        WalletSession.objects.filter(
            token_hash=hash_token(token), revoked=False, expires_at__gt=datetime.now(tz=timezone.utc)
        ).first()
    )


def revoke_session(session: WalletSession) -> None:
    WalletSession.objects.filter(pk=session.pk).update(revoked=True)
