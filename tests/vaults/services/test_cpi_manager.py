"""CPIManager: locks and unlocks through the position manager, and the on-chain allow-list."""
import pytest
from solders.keypair import Keypair

from vaults.chain.client import TransactionFailed
from vaults.errors import InsufficientBalance, VaultNotFound
from vaults.models import Transaction
from vaults.services.cpi_manager import CPIManager
from vaults.services.transaction_builder import TransactionBuilder
from vaults.services.vault_manager import VaultManager

pytestmark = [pytest.mark.localnet, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def dev_user_with_deposit(localnet, settings, funded_wallet, chain):
    user = funded_wallet(tokens=20_000_000)
    settings.DEV_SIGNER_ENABLED = True
    settings.DEV_SIGNER_SECRET_KEYS = [list(bytes(user))]
    manager = VaultManager(chain)
    manager.initialize_vault(str(user.pubkey()))
    manager.deposit(str(user.pubkey()), 10_000_000)
    return user


def test_is_authorized_reads_the_allow_list(chain, settings):
    cpi = CPIManager(chain)
    assert cpi.is_authorized(settings.POSITION_MANAGER_PROGRAM_ID) is True
    assert cpi.is_authorized(str(Keypair().pubkey())) is False
    authority = chain.get_authority()
    assert authority.collateral_mint == str(chain.usdt_mint)
    assert [p.program_id for p in authority.authorized_programs] == [settings.POSITION_MANAGER_PROGRAM_ID]
    assert authority.authorized_programs[0].caller_authority == str(chain.caller_authority_address(settings.POSITION_MANAGER_PROGRAM_ID))


def test_lock_and_unlock_through_the_position_manager(dev_user_with_deposit, chain, settings):
    owner = str(dev_user_with_deposit.pubkey())
    cpi = CPIManager(chain)
    locked = cpi.lock_collateral(owner, 4_000_000)
    vault = chain.get_vault(owner)
    assert (vault.total_balance, vault.locked_balance, vault.available_balance) == (10_000_000, 4_000_000, 6_000_000)
    row = Transaction.objects.get(signature=locked.signature)
    assert row.transaction_type == "lock" and row.amount == 4_000_000
    assert row.caller_program == settings.POSITION_MANAGER_PROGRAM_ID

    # Locked collateral cannot be withdrawn: refused before building.
    with pytest.raises(InsufficientBalance):
        VaultManager(chain).withdraw(owner, 6_000_001)

    cpi.unlock_collateral(owner, 1_500_000)
    vault = chain.get_vault(owner)
    assert (vault.locked_balance, vault.available_balance) == (2_500_000, 7_500_000)
    with pytest.raises(InsufficientBalance):
        cpi.unlock_collateral(owner, 2_500_001)
    with pytest.raises(InsufficientBalance):
        cpi.lock_collateral(owner, 7_500_001)


def test_lock_needs_a_vault(localnet, chain):
    with pytest.raises(VaultNotFound):
        CPIManager(chain).lock_collateral(str(Keypair().pubkey()), 1)


def test_a_direct_lock_by_an_unlisted_signer_is_refused_on_chain(dev_user_with_deposit, chain):
    """The security model: only the allow-listed program's caller PDA may lock."""
    impostor = Keypair()
    chain.rpc.request_airdrop(impostor.pubkey(), 10**9)
    ix = chain.lock_collateral_instruction(dev_user_with_deposit.pubkey(), 1, impostor.pubkey())
    with pytest.raises(TransactionFailed) as failure:
        TransactionBuilder(chain).build([ix], dev_user_with_deposit.pubkey(), [dev_user_with_deposit, impostor])
    assert failure.value.code == 6019 and failure.value.name == "UnauthorizedCaller"
