import pytest
from rest_framework.test import APIClient
from solders.keypair import Keypair

from tests.localnet import fund_wallet


@pytest.fixture(autouse=True)
def _isolated_redis(clean_redis):
    """Rate limits, nonces and cached balances never leak from one test to the next."""


@pytest.fixture
def chain(localnet):
    from vaults.chain.client import get_chain_client

    return get_chain_client()


@pytest.fixture
def funded_wallet(chain, localnet):
    """A fresh wallet with SOL and 100 USDT (base units: 6 decimals)."""
    def make(tokens=100_000_000):
        keypair = Keypair()
        fund_wallet(chain, localnet, keypair.pubkey(), tokens=tokens)
        return keypair
    return make


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def wallet_client(api_client, db):
    """An API client logged in as a wallet, through the real nonce + signature flow."""
    def login(keypair):
        client = APIClient()
        wallet = str(keypair.pubkey())
        nonce = client.post("/auth/nonce", {"wallet": wallet}, format="json").json()
        signature = keypair.sign_message(nonce["message"].encode())
        answer = client.post("/auth/login", {"wallet": wallet, "nonce": nonce["nonce"], "signature": str(signature)},
                             format="json")
        assert answer.status_code == 200, answer.content
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {answer.json()['token']}")
        return client
    return login


@pytest.fixture
def staff_operator(django_user_model, db):
    """A staff account allowed to act for wallets: `vaults.act_for_wallet`, through the
    `operator` group as in production."""
    def make(username="operator", password="pw-for-tests"):
        from django.contrib.auth.models import Group, Permission

        group, _ = Group.objects.get_or_create(name="operator")
        group.permissions.add(Permission.objects.get(content_type__app_label="vaults", codename="act_for_wallet"))
        user = django_user_model.objects.create_user(username, password=password, is_staff=True)
        user.groups.add(group)
        return user
    return make
