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


def test_the_first_lock_carries_the_owners_approval_and_a_revocation_is_respected(dev_user_with_deposit, chain, settings):
    """Vault program v2: a program locks only what the owner approved. The first lock's
    transaction, which the owner signs, includes the approval of the position manager (no cap);
    a revoked approval is never renewed by the back office."""
    from vaults.errors import TransactionRejected

    owner = str(dev_user_with_deposit.pubkey())
    vault_address = chain.vault_address(owner)
    assert chain.get_caller_lock(vault_address, settings.POSITION_MANAGER_PROGRAM_ID) is None
    cpi = CPIManager(chain)
    cpi.lock_collateral(owner, 1_000_000)
    approval = chain.get_caller_lock(vault_address, settings.POSITION_MANAGER_PROGRAM_ID)
    assert (approval.locked, approval.cap) == (1_000_000, None)

    # Per-program locks, as GET /vault/balance shows them.
    with_locks = chain.get_vault_with_locks(owner)
    assert with_locks.program_locks == (
        {"program_id": settings.POSITION_MANAGER_PROGRAM_ID, "locked": 1_000_000, "cap": None, "approved": True},)
    assert sum(lock["locked"] for lock in with_locks.program_locks) == with_locks.locked_balance
    from django.test import Client

    body = Client().get(f"/vault/balance/{owner}").json()
    assert body["locked_balance"] == 1_000_000
    assert body["program_locks"] == [
        {"program_id": settings.POSITION_MANAGER_PROGRAM_ID, "locked": 1_000_000, "cap": None, "approved": True}]

    # Unlock only what the position manager itself locked.
    with pytest.raises(InsufficientBalance) as too_much:
        cpi.unlock_collateral(owner, 1_000_001)
    assert too_much.value.code == "insufficient_locked_balance"

    # The owner revokes: no more locks, and the back office does not re-approve.
    revoke = chain._vault_ix("revoke_caller", [chain.position_manager_id], {
        "owner": dev_user_with_deposit.pubkey(), "vault": vault_address,
        "caller_lock": chain.caller_lock_address(vault_address, chain.position_manager_id)})
    _send(chain, revoke, dev_user_with_deposit)
    assert chain.get_caller_lock(vault_address, settings.POSITION_MANAGER_PROGRAM_ID).cap == 0
    with pytest.raises(TransactionRejected) as refused:
        cpi.lock_collateral(owner, 1)
    assert refused.value.code == "caller_not_approved"
    # Unlocking still works after a revocation.
    cpi.unlock_collateral(owner, 1_000_000)
    assert chain.get_vault(owner).locked_balance == 0


def test_a_lock_beyond_the_owners_cap_is_refused_before_building(dev_user_with_deposit, chain, settings):
    owner = str(dev_user_with_deposit.pubkey())
    approve = chain.approve_caller_instruction(owner, settings.POSITION_MANAGER_PROGRAM_ID, 2_000_000)
    _send(chain, approve, dev_user_with_deposit)
    cpi = CPIManager(chain)
    cpi.lock_collateral(owner, 1_500_000)
    with pytest.raises(InsufficientBalance) as refused:
        cpi.lock_collateral(owner, 500_001)
    assert refused.value.code == "approval_cap_exceeded"
    assert chain.get_vault(owner).locked_balance == 1_500_000


def _send(chain, instruction, signer):
    from solders.message import MessageV0
    from solders.transaction import VersionedTransaction

    blockhash, last_valid = chain.get_latest_blockhash()
    message = MessageV0.try_compile(signer.pubkey(), [instruction], [], blockhash)
    signature = chain.send(VersionedTransaction(message, [signer]))
    chain.confirm(signature, last_valid)
