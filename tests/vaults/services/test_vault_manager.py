import pytest
from solders.keypair import Keypair

from vaults.cache_keys import balance_key
from vaults.errors import InsufficientBalance, VaultAlreadyExists, VaultNotFound
from vaults.services.vault_manager import VaultManager

pytestmark = [pytest.mark.localnet, pytest.mark.django_db(transaction=True)]


def test_non_custodial_by_default(chain, funded_wallet, settings):
    settings.DEV_SIGNER_ENABLED = False
    user = funded_wallet()
    operation = VaultManager(chain).initialize_vault(str(user.pubkey()))
    assert operation.signature is None and operation.built is not None and not operation.built.is_signed
    assert chain.get_vault(str(user.pubkey())) is None  # nothing was sent


def test_dev_signer_signs_submits_and_records(chain, funded_wallet, settings):
    from vaults.models import BalanceSnapshot, Vault

    user = funded_wallet(tokens=3_000_000)
    owner = str(user.pubkey())
    settings.DEV_SIGNER_ENABLED = True
    settings.DEV_SIGNER_SECRET_KEYS = [list(bytes(user))]
    manager = VaultManager(chain)
    assert manager.initialize_vault(owner).signature
    with pytest.raises(VaultAlreadyExists):
        manager.initialize_vault(owner)
    assert manager.deposit(owner, 3_000_000).signature
    with pytest.raises(InsufficientBalance):
        manager.deposit(owner, 1)  # the wallet's token account is empty now
    stored = Vault.objects.get(owner=owner)
    assert (stored.total_balance, stored.available_balance, stored.event_seq) == (3_000_000, 3_000_000, chain.get_vault(owner).event_seq)
    latest = BalanceSnapshot.objects.filter(vault=stored).order_by("-id").first()
    assert latest.total_balance == 3_000_000


def test_vault_info_is_cached_for_five_seconds(chain, funded_wallet, settings):
    from django.core.cache import cache

    user = funded_wallet()
    owner = str(user.pubkey())
    settings.DEV_SIGNER_ENABLED = True
    settings.DEV_SIGNER_SECRET_KEYS = [list(bytes(user))]
    manager = VaultManager(chain)
    manager.initialize_vault(owner)
    info = manager.get_vault_info(owner)
    assert cache.get(balance_key(owner))["total_balance"] == info.total_balance
    redis_key = cache.make_and_validate_key(balance_key(owner))
    assert 0 < cache._cache.get_client(redis_key).ttl(redis_key) <= 5
    cache.set(balance_key(owner), {**info.__dict__, "total_balance": 42}, timeout=5)
    assert manager.get_vault_info(owner).total_balance == 42  # served from the cache, not the chain


def test_unknown_vault(chain):
    with pytest.raises(VaultNotFound):
        VaultManager(chain).get_vault_info(str(Keypair().pubkey()))
