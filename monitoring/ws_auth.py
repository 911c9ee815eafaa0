"""Who is on a `/ws` connection, and what they may read.

- A wallet login token (`POST /auth/login`) reads its own wallet's streams: `user` = the wallet,
  `vault` = the wallet's vault PDA (derived, so it works before the indexer has seen the vault).
- An API key (a service) reads any vault or user stream, like it may act for any wallet in the API.
- A staff session (the admin's cookie) reads everything, including `all` and `alerts`.
- Anyone reads `tvl`.

Browsers always send `Origin` on a websocket handshake; `StreamOriginValidator` refuses origins
outside ALLOWED_HOSTS / WS_ALLOWED_ORIGINS, so another site cannot ride a staff cookie
(cross-site websocket hijacking). Clients without an `Origin` header are not browsers and are
let through: they authenticate with a token or an API key.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache

from channels.security.websocket import OriginValidator
from django.conf import settings
from solders.pubkey import Pubkey

from vaults.chain.client import VAULT_SEED, parse_pubkey
from vaults.models import ApiKey, WalletSession
from vaults.services.api_keys import api_key_for
from vaults.services.wallet_auth import session_for_token

ANONYMOUS = "anonymous"
WALLET = "wallet"
SERVICE = "service"
STAFF = "staff"


@dataclass(frozen=True)
class StreamPrincipal:
    kind: str = ANONYMOUS
    wallet: str | None = None  # WALLET
    session_id: int | None = None  # WALLET
    api_key_id: int | None = None  # SERVICE
    name: str | None = None  # SERVICE (key name) or STAFF (username)
    user_id: int | None = None  # STAFF

    @property
    def is_authenticated(self) -> bool:
        return self.kind != ANONYMOUS

    def can_read_all(self) -> bool:
        return self.kind == STAFF

    def can_read_user(self, owner: str) -> bool:
        if self.kind in (STAFF, SERVICE):
            return True
        return self.kind == WALLET and self.wallet == owner

    def can_read_vault(self, vault_address: str) -> bool:
        if self.kind in (STAFF, SERVICE):
            return True
        return self.kind == WALLET and vault_address_of(self.wallet) == vault_address

    def describe(self) -> dict:
        described = {"kind": self.kind}
        if self.kind == WALLET:
            described["wallet"] = self.wallet
        elif self.name:
            described["name"] = self.name
        return described


ANONYMOUS_PRINCIPAL = StreamPrincipal()


@lru_cache(maxsize=4096)
def _vault_pda(program_id: str, owner: str) -> str:
    return str(Pubkey.find_program_address([VAULT_SEED, bytes(parse_pubkey(owner))], parse_pubkey(program_id))[0])


def vault_address_of(owner: str) -> str:
    return _vault_pda(settings.PROGRAM_ID, owner)


# ---- credentials -> principal (sync: call through database_sync_to_async) ---------------------


def principal_for_token(token: str) -> StreamPrincipal | None:
    session = session_for_token(token)
    if session is None:
        return None
    return StreamPrincipal(WALLET, wallet=session.wallet, session_id=session.pk)


def principal_for_api_key(raw: str) -> StreamPrincipal | None:
    api_key = api_key_for(raw.strip())
    if api_key is None:
        return None
    return StreamPrincipal(SERVICE, api_key_id=api_key.pk, name=api_key.name)


def principal_for_user(user, session=None) -> StreamPrincipal:
    """A Django user from the session cookie: staff or nobody (non-staff logins read only tvl).
    With the session at hand, staff must have signed in with their second factor (the session
    names the verified TOTP device, as the admin's sign-in leaves it)."""
    if user is not None and getattr(user, "is_authenticated", False) and user.is_active and user.is_staff:
        if session is not None and not _second_factor_verified(user, session):
            return ANONYMOUS_PRINCIPAL
        return StreamPrincipal(STAFF, user_id=user.pk, name=user.get_username())
    return ANONYMOUS_PRINCIPAL


def _second_factor_verified(user, session) -> bool:
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.models import Device

    persistent_id = session.get(DEVICE_ID_SESSION_KEY)
    device = Device.from_persistent_id(persistent_id) if persistent_id else None
    return device is not None and device.user_id == user.pk and device.confirmed


def still_valid(principal: StreamPrincipal) -> bool:
    """Rechecked on every heartbeat: a revoked or expired login, a deactivated key or a staff
    account that lost its flag ends the connection."""
    if principal.kind == WALLET:
        return WalletSession.objects.filter(
            pk=principal.session_id, revoked=False, expires_at__gt=datetime.now(tz=timezone.utc)
        ).exists()
    if principal.kind == SERVICE:
        return ApiKey.objects.filter(pk=principal.api_key_id, is_active=True).exists()
    if principal.kind == STAFF:
        from django.contrib.auth import get_user_model

        return get_user_model().objects.filter(pk=principal.user_id, is_active=True, is_staff=True).exists()
    return True


# ---- handshake --------------------------------------------------------------------------------


class StreamOriginValidator(OriginValidator):
    """Channels' origin check, except that a handshake without `Origin` (not a browser) passes."""

    def valid_origin(self, parsed_origin):
        if parsed_origin is None:
            return True
        return self.validate_origin(parsed_origin)


def origin_validated(application):
    allowed = list(getattr(settings, "WS_ALLOWED_ORIGINS", None) or settings.ALLOWED_HOSTS)
    return StreamOriginValidator(application, allowed)
