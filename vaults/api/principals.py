"""Who is calling: a wallet (after wallet-signature login), a service (API key), or staff."""
from dataclasses import dataclass

from vaults.errors import Forbidden, NotAuthenticated

ACT_FOR_WALLET = "vaults.act_for_wallet"


@dataclass(frozen=True)
class WalletPrincipal:
    wallet: str
    session_id: int
    is_authenticated = True
    is_staff = False
    actor_type = "wallet"

    @property
    def identity(self):
        return self.wallet


@dataclass(frozen=True)
class ServicePrincipal:
    name: str
    api_key_id: int
    is_authenticated = True
    is_staff = False
    actor_type = "api_key"

    @property
    def identity(self):
        return self.name


def describe_actor(user) -> tuple[str, str]:
    if user is None or not getattr(user, "is_authenticated", False):
        return "anonymous", ""
    if isinstance(user, (WalletPrincipal, ServicePrincipal)):
        return user.actor_type, user.identity
    return ("staff" if user.is_staff else "user"), user.get_username()


def acting_wallet(user) -> str | None:
    """The one wallet a wallet login is limited to; None for services and staff (any wallet)."""
    return user.wallet if isinstance(user, WalletPrincipal) else None


def ensure_can_act_for(user, wallet: str) -> None:
    """A wallet token acts only for its wallet; API keys for any; staff for any only with the
    explicit `vaults.act_for_wallet` permission (the `operator` and `admin` groups), never by
    merely being staff. Outside localnet's dev signer they only ever get unsigned transactions."""
    if user is None or not getattr(user, "is_authenticated", False):
        raise NotAuthenticated("authentication required: a wallet login token, an API key, or a staff session")
    if isinstance(user, WalletPrincipal):
        if user.wallet != wallet:
            raise Forbidden("this login token may only act for its own wallet")
        return
    if isinstance(user, ServicePrincipal):
        return
    if not user.is_staff:
        raise Forbidden("only staff accounts may act for a wallet")
    if not user.has_perm(ACT_FOR_WALLET):
        raise Forbidden("this staff account lacks the permission to act for wallets (vaults.act_for_wallet)")
