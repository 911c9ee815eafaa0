"""Who may read which stream, and the handshake's origin rule."""
from urllib.parse import urlparse

import pytest
from solders.keypair import Keypair

from monitoring import ws_auth
from tests.monitoring.stream_helpers import staff_cookie, wallet_token


def test_a_wallet_reads_its_wallet_and_its_vault_pda_only(settings):
    from vaults.chain.client import ChainClient

    me, other = str(Keypair().pubkey()), str(Keypair().pubkey())
    chain = ChainClient(rpc_url="http://127.0.0.1:1", program_id=settings.PROGRAM_ID, usdt_mint=settings.USDT_MINT)
    assert ws_auth.vault_address_of(me) == str(chain.vault_address(me))
    principal = ws_auth.StreamPrincipal(ws_auth.WALLET, wallet=me, session_id=1)
    assert principal.can_read_user(me) and principal.can_read_vault(ws_auth.vault_address_of(me))
    assert not principal.can_read_user(other) and not principal.can_read_vault(ws_auth.vault_address_of(other))
    assert not principal.can_read_vault(me)  # the wallet is not its vault
    assert not principal.can_read_all()
    service = ws_auth.StreamPrincipal(ws_auth.SERVICE, api_key_id=1, name="svc")
    assert service.can_read_user(other) and service.can_read_vault(ws_auth.vault_address_of(other))
    assert not service.can_read_all()
    assert ws_auth.StreamPrincipal(ws_auth.STAFF, user_id=1).can_read_all()
    assert not ws_auth.ANONYMOUS_PRINCIPAL.can_read_user(me)


@pytest.mark.django_db(transaction=True)
def test_credentials_resolve_and_are_rechecked(clean_redis):
    from vaults.models import WalletSession

    keypair = Keypair()
    principal = ws_auth.principal_for_token(wallet_token(keypair))
    assert (principal.kind, principal.wallet) == (ws_auth.WALLET, str(keypair.pubkey()))
    assert ws_auth.still_valid(principal)
    WalletSession.objects.update(revoked=True)
    assert not ws_auth.still_valid(principal)
    assert ws_auth.principal_for_token("forged") is None
    assert ws_auth.principal_for_api_key("a.b") is None
    staff_cookie()
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get()
    assert ws_auth.principal_for_user(user).kind == ws_auth.STAFF
    user.is_staff = False
    user.save()
    assert ws_auth.principal_for_user(user) == ws_auth.ANONYMOUS_PRINCIPAL


def test_origins(settings):
    validator = ws_auth.origin_validated(None)
    assert validator.valid_origin(None)  # not a browser
    assert validator.valid_origin(urlparse("http://localhost:3000"))
    assert not validator.valid_origin(urlparse("https://evil.example"))
    settings.WS_ALLOWED_ORIGINS = ["https://app.example.com"]
    validator = ws_auth.origin_validated(None)
    assert validator.valid_origin(urlparse("https://app.example.com"))
    assert not validator.valid_origin(urlparse("http://localhost:3000"))


@pytest.mark.django_db
def test_a_staff_session_without_the_second_factor_reads_nothing_private(django_user_model):
    from django.contrib.sessions.backends.db import SessionStore

    from tests.console.staff import make_staff

    staff = make_staff("ops", "viewer")
    user = django_user_model.objects.get(username=staff.username)
    assert ws_auth.principal_for_user(user, SessionStore()) == ws_auth.ANONYMOUS_PRINCIPAL
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    session = SessionStore()
    session[DEVICE_ID_SESSION_KEY] = TOTPDevice.objects.get(user=user).persistent_id
    assert ws_auth.principal_for_user(user, session).kind == ws_auth.STAFF
