"""Every attack the issue lists: each must fail with its documented error code and leave every
account and token balance exactly as it was."""

import pytest
from solders.account import Account
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountParams, create_account
from spl.token.instructions import get_associated_token_address

from .svm import (
    EVENT_AUTHORITY,
    PM_ID,
    PM_IDL_DOC,
    U64_MAX,
    VAULT,
    VAULT_AUTHORITY,
    VAULT_ID,
    Chain,
    caller_pda,
    error_code,
    liquidate_ix,
    new_user,
    vault_ix,
)

ROGUE_ID = Pubkey(bytes([7] * 32))


def assert_rejected(chain: Chain, instructions, signers, error: str, watched, *, doc=None) -> None:
    """Sends, expects custom error `error`, and checks that nothing we watch changed."""
    before = chain.snapshot(*watched)
    outcome = chain.send(instructions, *signers)
    assert not outcome.ok, "\n".join(outcome.logs)
    expected = error_code(error) if doc is None else error_code(error, doc)
    assert outcome.custom_error == expected, (outcome.custom_error, expected, outcome.logs[-3:])
    assert chain.snapshot(*watched) == before


def watched(chain, *users):
    out = [VAULT_AUTHORITY]
    for user in users:
        out += [user.vault, user.vault_token_account, user.token_account, user.margin]
    return out


@pytest.fixture
def funded_alice(chain, alice):
    chain.ok([alice.deposit_ix(1_000_000)], alice.keypair)
    return alice


def test_non_owner_cannot_withdraw(chain, funded_alice):
    mallory = new_user(chain, tokens=0, open_vault=False)
    ix = funded_alice.withdraw_ix(1, owner=mallory.pubkey, user_token_account=mallory.token_account)
    assert_rejected(chain, [ix], [mallory.keypair], "NotVaultOwner", watched(chain, funded_alice, mallory))


def test_owner_signature_is_required(chain, funded_alice):
    ix = funded_alice.withdraw_ix(1)
    meta = list(ix.accounts)
    meta[0] = AccountMeta(funded_alice.pubkey, is_signer=False, is_writable=False)
    unsigned = Instruction(ix.program_id, ix.data, meta)
    assert_rejected(chain, [unsigned], [], "AccountNotSigner", watched(chain, funded_alice))


def test_over_withdrawal_is_rejected(chain, funded_alice):
    assert_rejected(
        chain, [funded_alice.withdraw_ix(1_000_001)], [funded_alice.keypair], "InsufficientAvailableBalance", watched(chain, funded_alice)
    )


def test_locked_collateral_cannot_be_withdrawn(chain, funded_alice):
    chain.ok([funded_alice.open_position_ix(600_000)], funded_alice.keypair)
    assert_rejected(
        chain, [funded_alice.withdraw_ix(400_001)], [funded_alice.keypair], "InsufficientAvailableBalance", watched(chain, funded_alice)
    )


def test_zero_amount_is_rejected(chain, funded_alice):
    assert_rejected(chain, [funded_alice.deposit_ix(0)], [funded_alice.keypair], "ZeroAmount", watched(chain, funded_alice))


def test_lock_by_unauthorized_program_fails():
    # The same position-manager binary deployed at another address is another program: it signs
    # with *its* caller PDA, which is not on the allow-list.
    chain = Chain(extra_programs={ROGUE_ID: "position_manager.so"})
    chain.initialize_authority()
    chain.initialize_manager(keeper=chain.admin.pubkey())
    chain.authorize(PM_ID)
    chain.initialize_manager(keeper=chain.admin.pubkey(), program_id=ROGUE_ID)
    alice = new_user(chain, tokens=1_000_000)
    chain.ok([alice.deposit_ix(1_000_000), alice.create_margin_ix(program_id=ROGUE_ID)], alice.keypair)
    assert_rejected(
        chain, [alice.open_position_ix(10, program_id=ROGUE_ID)], [alice.keypair], "UnauthorizedCaller", watched(chain, alice)
    )


def test_lock_by_direct_call_fails(chain, funded_alice):
    # The position manager's caller PDA passed in, but nobody can sign for it outside that program.
    ix = funded_alice.lock_ix_direct(10, caller=caller_pda(PM_ID), caller_signs=False)
    assert_rejected(chain, [ix], [], "UnauthorizedCaller", watched(chain, funded_alice))


def test_lock_with_forged_signer_fails(chain, funded_alice):
    forger = Keypair()
    ix = funded_alice.lock_ix_direct(10, caller=forger.pubkey())
    assert_rejected(chain, [ix], [forger], "UnauthorizedCaller", watched(chain, funded_alice))


def test_lock_with_program_id_as_caller_fails(chain, funded_alice):
    ix = funded_alice.lock_ix_direct(10, caller=PM_ID, caller_signs=False)
    assert_rejected(chain, [ix], [], "UnauthorizedCaller", watched(chain, funded_alice))


def test_wrong_mint_is_rejected(chain, funded_alice):
    other_mint = chain.create_mint(chain.mint_authority.pubkey())
    ix = funded_alice.deposit_ix(1, collateral_mint=other_mint)
    assert_rejected(chain, [ix], [funded_alice.keypair], "InvalidMint", watched(chain, funded_alice))


def test_vault_with_wrong_mint_cannot_be_created(chain):
    other_mint = chain.create_mint(chain.mint_authority.pubkey())
    user = new_user(chain, open_vault=False)
    ix = user.init_vault_ix()
    accounts = list(ix.accounts)
    accounts[2] = AccountMeta(get_associated_token_address(user.vault, other_mint), False, True)
    accounts[3] = AccountMeta(other_mint, False, False)
    assert_rejected(chain, [Instruction(ix.program_id, ix.data, accounts)], [user.keypair], "InvalidMint", [user.vault])


def test_substituted_token_account_is_rejected(chain, funded_alice, bob):
    # Bob's own token account of the right mint, passed as Alice's vault token account.
    ix = funded_alice.withdraw_ix(1, vault_token_account=bob.token_account)
    assert_rejected(chain, [ix], [funded_alice.keypair], "InvalidTokenAccount", watched(chain, funded_alice, bob))


def test_fake_vault_owned_by_another_program_is_rejected(chain, funded_alice):
    real = chain.account(funded_alice.vault)
    fake = Keypair().pubkey()
    chain.svm.set_account(fake, Account(lamports=real.lamports, data=bytes(real.data), owner=PM_ID, executable=False))
    ix = funded_alice.withdraw_ix(1, vault=fake)
    assert_rejected(chain, [ix], [funded_alice.keypair], "InvalidAccountOwner", watched(chain, funded_alice) + [fake])


def test_account_assigned_to_the_program_from_outside_is_rejected(chain, funded_alice):
    """The vault checks ownership, size and discriminator instead of re-deriving the PDA (that
    saves a sha256 on every instruction). That is sound because the only accounts the program
    owns that it did not create itself are accounts assigned to it from outside, by their own
    key, and those hold zeroes: only the owner program writes data. Here an attacker does just
    that, with a vault-sized account, and passes it as Alice's vault."""
    mallory = chain.funded()
    squatted = Keypair()
    size = len(chain.account(funded_alice.vault).data)
    rent = chain.svm.minimum_balance_for_rent_exemption(size)
    chain.ok(
        [create_account(CreateAccountParams(from_pubkey=mallory.pubkey(), to_pubkey=squatted.pubkey(), lamports=rent, space=size, owner=VAULT_ID))],
        mallory,
        squatted,
    )
    assert chain.account(squatted.pubkey()).owner == VAULT_ID
    ix = funded_alice.withdraw_ix(1, vault=squatted.pubkey())
    assert_rejected(chain, [ix], [funded_alice.keypair], "InvalidDiscriminator", watched(chain, funded_alice) + [squatted.pubkey()])


def test_account_of_another_type_is_rejected(chain, funded_alice):
    # The VaultAuthority is owned by the program too; its discriminator gives it away.
    ix = funded_alice.withdraw_ix(1, vault=VAULT_AUTHORITY)
    assert_rejected(chain, [ix], [funded_alice.keypair], "InvalidDiscriminator", watched(chain, funded_alice))


def test_vault_passed_as_authority_is_rejected(chain, funded_alice):
    ix = funded_alice.withdraw_ix(1, vault_authority=funded_alice.vault)
    assert_rejected(chain, [ix], [funded_alice.keypair], "InvalidAuthorityAddress", watched(chain, funded_alice))


@pytest.mark.parametrize(
    ("action", "error"),
    [("Deposit", "DepositsPaused"), ("Withdraw", "WithdrawalsPaused"), ("Lock", "LocksPaused")],
)
def test_paused_action_is_rejected(chain, funded_alice, action, error):
    chain.set_paused(action, True)
    ix = {
        "Deposit": funded_alice.deposit_ix(1),
        "Withdraw": funded_alice.withdraw_ix(1),
        "Lock": funded_alice.open_position_ix(1),
    }[action]
    assert_rejected(chain, [ix], [funded_alice.keypair], error, watched(chain, funded_alice))


def test_unlock_is_never_paused(chain, funded_alice):
    chain.ok([funded_alice.open_position_ix(10)], funded_alice.keypair)
    chain.set_paused("Lock", True)
    chain.ok([funded_alice.close_position_ix(10)], funded_alice.keypair)
    assert funded_alice.balances() == (1_000_000, 0, 1_000_000)


def _set_vault_fields(chain, user, **fields):
    account = chain.account(user.vault)
    data = bytearray(account.data)
    state = VAULT.coder.accounts.decode(bytes(data))
    offsets = {"total_balance": 72, "locked_balance": 80, "available_balance": 88, "total_deposited": 96}
    for name, value in fields.items():
        data[8 + offsets[name] - 8 : 8 + offsets[name]] = value.to_bytes(8, "little")
    chain.svm.set_account(user.vault, Account(account.lamports, bytes(data), account.owner, account.executable))
    assert state is not None


def _set_token_amount(chain, address, amount):
    account = chain.account(address)
    data = bytearray(account.data)
    data[64:72] = amount.to_bytes(8, "little")
    chain.svm.set_account(address, Account(account.lamports, bytes(data), account.owner, account.executable))


def test_overflow_at_u64_max_is_rejected(chain, alice):
    # A vault already holding u64::MAX (ledger and token account agree), then one more unit.
    _set_vault_fields(chain, alice, total_balance=U64_MAX, available_balance=U64_MAX, total_deposited=U64_MAX)
    _set_token_amount(chain, alice.vault_token_account, U64_MAX)
    assert_rejected(chain, [alice.deposit_ix(1)], [alice.keypair], "MathOverflow", watched(chain, alice))


def test_lock_of_u64_max_then_one_more_is_rejected(chain, funded_alice):
    chain.ok([funded_alice.open_position_ix(1_000_000)], funded_alice.keypair)
    assert_rejected(chain, [funded_alice.open_position_ix(1)], [funded_alice.keypair], "InsufficientAvailableBalance", watched(chain, funded_alice))


def test_vault_cannot_be_initialized_twice(chain, alice):
    assert_rejected(chain, [alice.init_vault_ix()], [alice.keypair], "AlreadyInitialized", watched(chain, alice))


def test_upgradeable_deployment_is_initialized_only_by_its_upgrade_authority():
    deployer = Keypair()
    chain = Chain(upgrade_authority=deployer.pubkey())
    squatter = chain.funded()
    # Anyone else, even pointing at the right ProgramData, is refused: no front-running.
    assert_rejected(chain, [chain.initialize_authority_ix(squatter.pubkey())], [squatter], "NotUpgradeAuthority", [VAULT_AUTHORITY])
    # A forged ProgramData naming the squatter is not the one the program account points at.
    forged = Keypair().pubkey()
    fake = bytes([3, 0, 0, 0]) + bytes(8) + bytes([1]) + bytes(squatter.pubkey())
    chain.svm.set_account(forged, Account(10**9, fake, Pubkey.from_string("BPFLoaderUpgradeab1e11111111111111111111111"), False))
    assert_rejected(
        chain, [chain.initialize_authority_ix(squatter.pubkey(), program_data=forged)], [squatter], "NotUpgradeAuthority", [VAULT_AUTHORITY]
    )
    chain.svm.airdrop(deployer.pubkey(), 10**10)
    chain.ok([chain.initialize_authority_ix(deployer.pubkey())], deployer)
    assert chain.authority_state().admin == deployer.pubkey()


def test_authority_cannot_be_initialized_twice(chain):
    intruder = chain.funded()
    ix = vault_ix(
        "initialize_authority",
        admin=intruder.pubkey(),
        vault_authority=VAULT_AUTHORITY,
        collateral_mint=chain.mint,
        program_data=VAULT_ID,
        system_program=Pubkey.default(),
        event_authority=EVENT_AUTHORITY,
        program=VAULT_ID,
    )
    assert_rejected(chain, [ix], [intruder], "AlreadyInitialized", [VAULT_AUTHORITY])


@pytest.mark.parametrize(
    "name,args",
    [
        ("add_authorized_program", (ROGUE_ID,)),
        ("remove_authorized_program", (PM_ID,)),
        ("set_paused", (VAULT.type["PauseAction"].Deposit(), True)),
        ("propose_admin", (ROGUE_ID,)),
    ],
)
def test_admin_actions_by_non_admin_are_rejected(chain, name, args):
    mallory = chain.funded()
    ix, _ = chain.admin_ix(name, *args, admin=mallory)
    assert_rejected(chain, [ix], [mallory], "NotAdmin", [VAULT_AUTHORITY])


def test_only_the_proposed_admin_can_accept(chain):
    successor, mallory = chain.funded(), chain.funded()
    ix, admin = chain.admin_ix("propose_admin", successor.pubkey())
    chain.ok([ix], admin)
    accept = vault_ix(
        "accept_admin", pending_admin=mallory.pubkey(), vault_authority=VAULT_AUTHORITY, event_authority=EVENT_AUTHORITY, program=VAULT_ID
    )
    assert_rejected(chain, [accept], [mallory], "NotPendingAdmin", [VAULT_AUTHORITY])


def test_forged_event_self_cpi_is_rejected(chain):
    forger = Keypair()
    data = bytes.fromhex("e445a52e51cb9a1d") + bytes(8)
    ix = Instruction(VAULT_ID, data, [AccountMeta(forger.pubkey(), True, False)])
    assert_rejected(chain, [ix], [forger], "InvalidEventAuthority", [VAULT_AUTHORITY])


def test_event_self_cpi_naming_the_real_event_authority_unsigned_is_rejected(chain):
    # The indexer's attribution relies on this: an event-tagged invocation of the vault program
    # only succeeds when the event authority PDA signed it, which only the program itself can do.
    event = bytes.fromhex("e445a52e51cb9a1d") + bytes(8)
    ix = Instruction(VAULT_ID, event, [AccountMeta(EVENT_AUTHORITY, False, False)])
    assert_rejected(chain, [ix], [], "InvalidEventAuthority", [VAULT_AUTHORITY])


def test_close_is_refused_while_collateral_remains(chain, funded_alice):
    assert_rejected(chain, [funded_alice.close_vault_ix()], [funded_alice.keypair], "VaultNotEmpty", watched(chain, funded_alice))


def test_liquidation_pays_only_into_the_keepers_vault(chain, funded_alice, bob):
    chain.ok([funded_alice.open_position_ix(100)], funded_alice.keypair)
    ix = liquidate_ix(chain, chain.admin, funded_alice, bob, 10)
    assert_rejected(chain, [ix], [chain.admin], "InvalidDestination", watched(chain, funded_alice, bob), doc=PM_IDL_DOC)


def test_settlement_into_the_same_vault_is_rejected(chain):
    # The keeper liquidating its own position into its own vault: one account as both sides.
    keeper = new_user(chain, tokens=1_000, margin=True, keypair=chain.admin)
    chain.ok([keeper.deposit_ix(1_000), keeper.open_position_ix(500)], chain.admin)
    ix = liquidate_ix(chain, chain.admin, keeper, keeper, 10)
    assert_rejected(chain, [ix], [chain.admin], "SameVault", watched(chain, keeper))


def test_liquidation_by_non_keeper_is_rejected(chain, funded_alice, bob):
    chain.ok([funded_alice.open_position_ix(100)], funded_alice.keypair)
    ix = liquidate_ix(chain, bob.keypair, funded_alice, bob, 10)
    assert_rejected(chain, [ix], [bob.keypair], "NotKeeper", watched(chain, funded_alice, bob), doc=PM_IDL_DOC)


def test_position_manager_cannot_unlock_more_than_it_locked(chain, funded_alice):
    chain.ok([funded_alice.open_position_ix(100)], funded_alice.keypair)
    ix = funded_alice.close_position_ix(101)
    assert_rejected(chain, [ix], [funded_alice.keypair], "InsufficientMargin", watched(chain, funded_alice), doc=PM_IDL_DOC)
