"""Issue 8's audit, replayed against the v2 binaries. The attacker is the audit's own tool: a
malicious SBF program (programs/caller-proxy) that the admin authorized, which forwards anything
to the vault program and signs with its own `[b"vault_caller"]` PDA. Every attack must fail with
its named error and leave every watched account (ledgers, records, token balances) unchanged.
Then the owner's consent, per-caller accounting, the health rule and the way out of stranded
locks are exercised for what they allow."""

import re

import pytest
from anchorpy.error import ProgramError
from solders.account import Account
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair

from .svm import (
    EVENT_AUTHORITY,
    LOADER_V3,
    PM_ID,
    PM_IDL_DOC,
    PROXY_ID,
    VAULT_AUTHORITY,
    VAULT_ID,
    VAULT_IDL_DOC,
    Chain,
    ProxyCall,
    error_code,
    liquidate_ix,
    new_user,
)

DEPOSIT = 1_000_000
GRACE = 3_600


def assert_rejected(chain, instructions, signers, error, watched, *, doc=None):
    before = chain.snapshot(*watched)
    outcome = chain.send(instructions, *signers)
    assert not outcome.ok, "\n".join(outcome.logs)
    expected = error_code(error, doc or VAULT_IDL_DOC)
    assert outcome.custom_error == expected, (outcome.custom_error, expected, outcome.logs[-4:])
    assert chain.snapshot(*watched) == before
    return outcome


def watched(*users, programs=(PM_ID, PROXY_ID)):
    out = [VAULT_AUTHORITY]
    for user in users:
        out += [user.vault, user.vault_token_account, user.token_account, user.margin]
        out += [user.caller_lock(program) for program in programs]
    return out


@pytest.fixture
def world():
    """Alice deposited and opened a position through the position manager (she approved it);
    Mallory controls the proxy, which the admin put on the allow-list too."""
    chain = Chain(proxy=True)
    chain.initialize_authority()
    chain.initialize_manager(keeper=chain.admin.pubkey())
    chain.authorize(PM_ID)
    chain.authorize(PROXY_ID)
    alice = new_user(chain, tokens=DEPOSIT, margin=True)
    chain.ok([alice.deposit_ix(DEPOSIT)], alice.keypair)
    mallory = new_user(chain)
    return chain, alice, mallory, ProxyCall(chain)


# ---- the audit's attacks ---------------------------------------------------------------------


def test_lock_without_the_owners_consent_fails(world):
    chain, alice, mallory, proxy = world
    # Alice never approved the proxy: it has no record in her vault.
    assert_rejected(chain, [proxy.lock(alice, DEPOSIT)], [], "CallerNotApproved", watched(alice, mallory))
    # Nor can it lock under the position manager's approval.
    assert_rejected(
        chain, [proxy.lock(alice, DEPOSIT, caller_lock=alice.caller_lock(PM_ID))], [], "InvalidCallerLock", watched(alice, mallory)
    )
    # Alice's withdraw still works: nothing was locked.
    chain.ok([alice.withdraw_ix(DEPOSIT)], alice.keypair)


def test_lock_and_transfer_seizure_fails(world):
    chain, alice, mallory, proxy = world
    chain.ok([alice.open_position_ix(600_000)], alice.keypair)
    everything = watched(alice, mallory)
    # The audit's transaction: lock Alice's balance, then settle it into Mallory's vault.
    seizure = [proxy.lock(alice, 400_000), proxy.transfer(alice, mallory, DEPOSIT)]
    assert_rejected(chain, seizure, [], "CallerNotApproved", everything)
    # Settling what the position manager locked, with the manager's record: not the proxy's.
    steal = proxy.transfer(alice, mallory, 600_000, caller_lock=alice.caller_lock(PM_ID))
    assert_rejected(chain, [steal], [], "InvalidCallerLock", everything)
    assert alice.balances() == (DEPOSIT, 600_000, 400_000)
    assert mallory.balances() == (0, 0, 0)


def test_seizure_is_bounded_by_the_cap_the_owner_approved(world):
    """Had Alice trusted the proxy with a cap, the proxy could take at most that, and never what
    another program locked."""
    chain, alice, mallory, proxy = world
    chain.ok([alice.open_position_ix(600_000), alice.approve_ix(PROXY_ID, cap=50_000)], alice.keypair)
    assert_rejected(chain, [proxy.lock(alice, 50_001)], [], "ApprovalCapExceeded", watched(alice, mallory))
    chain.ok([proxy.lock(alice, 50_000)])
    assert_rejected(chain, [proxy.transfer(alice, mallory, 50_001)], [], "InsufficientLockedBalance", watched(alice, mallory))
    chain.ok([proxy.transfer(alice, mallory, 50_000)])
    assert alice.balances() == (950_000, 600_000, 350_000)
    assert alice.caller_lock_state(PM_ID).locked == 600_000
    assert alice.caller_lock_state(PROXY_ID).locked == 0


def test_a_foreign_programs_unlock_fails(world):
    chain, alice, mallory, proxy = world
    chain.ok([alice.open_position_ix(600_000)], alice.keypair)
    # The audit: program B unlocks the position manager's 600k. With the manager's record:
    assert_rejected(
        chain, [proxy.unlock(alice, 600_000, caller_lock=alice.caller_lock(PM_ID))], [], "InvalidCallerLock", watched(alice, mallory)
    )
    # With no record of its own, it has nothing to unlock.
    assert_rejected(chain, [proxy.unlock(alice, 600_000)], [], "CallerNotApproved", watched(alice, mallory))
    # Even approved by Alice, it can only release what it locked itself: nothing.
    chain.ok([alice.approve_ix(PROXY_ID)], alice.keypair)
    assert_rejected(chain, [proxy.unlock(alice, 1)], [], "InsufficientLockedBalance", watched(alice, mallory))
    # So the position manager's margin and the vault agree, and its liquidation still works.
    assert alice.margin_state().locked == alice.caller_lock_state(PM_ID).locked == 600_000
    assert_rejected(chain, [alice.withdraw_ix(400_001)], [alice.keypair], "InsufficientAvailableBalance", watched(alice, mallory))
    keeper = new_user(chain, keypair=chain.admin)
    chain.ok([liquidate_ix(chain, chain.admin, alice, keeper, 600_000)], chain.admin)
    assert keeper.balances() == (600_000, 0, 600_000)


def test_position_manager_initialize_cannot_be_front_run():
    deployer = Keypair()
    chain = Chain(pm_upgrade_authority=deployer.pubkey())
    chain.initialize_authority()
    chain.authorize(PM_ID)
    attacker = chain.funded()
    front_run = chain.initialize_manager_ix(keeper=attacker.pubkey(), admin=attacker.pubkey())
    outcome = assert_rejected(chain, [front_run], [attacker], "NotUpgradeAuthority", [front_run.accounts[1].pubkey], doc=PM_IDL_DOC)
    assert chain.account(front_run.accounts[1].pubkey) is None
    assert any("Error Code: NotUpgradeAuthority" in line for line in outcome.logs)
    # A forged ProgramData naming the attacker is not the one the program account points at.
    fake = Keypair().pubkey()
    data = bytes([3, 0, 0, 0]) + bytes(8) + bytes([1]) + bytes(attacker.pubkey())
    chain.svm.set_account(fake, Account(10**9, data, LOADER_V3, False))
    forged = chain.initialize_manager_ix(keeper=attacker.pubkey(), admin=attacker.pubkey(), program_data=fake)
    assert_rejected(chain, [forged], [attacker], "NotUpgradeAuthority", [front_run.accounts[1].pubkey], doc=PM_IDL_DOC)
    # The deployer initializes, then the attacker cannot liquidate anyone into their own vault.
    chain.svm.airdrop(deployer.pubkey(), 10**10)
    chain.ok([chain.initialize_manager_ix(keeper=deployer.pubkey(), admin=deployer.pubkey())], deployer)
    alice = new_user(chain, tokens=900_000, margin=True)
    chain.ok([alice.deposit_ix(900_000), alice.open_position_ix(900_000)], alice.keypair)
    attacker_vault = new_user(chain, keypair=attacker)
    steal = liquidate_ix(chain, attacker, alice, attacker_vault, 900_000)
    assert_rejected(chain, [steal], [attacker], "NotKeeper", watched(alice, attacker_vault, programs=(PM_ID,)), doc=PM_IDL_DOC)


def test_unlocking_collateral_that_backs_an_open_position_fails(world):
    chain, alice, mallory, _ = world
    # A 900,000 position needs 90,000 behind it (10x); 100,000 is locked.
    chain.ok([alice.open_position_ix(100_000, 900_000)], alice.keypair)
    assert_rejected(
        chain, [alice.close_position_ix(10_001)], [alice.keypair], "MarginBacksOpenPosition", watched(alice, mallory), doc=PM_IDL_DOC
    )
    chain.ok([alice.close_position_ix(10_000)], alice.keypair)
    # Opening beyond the margin fails the same way; closing the position frees the rest.
    assert_rejected(
        chain, [alice.open_position_ix(0, 1)], [alice.keypair], "MarginBacksOpenPosition", watched(alice, mallory), doc=PM_IDL_DOC
    )
    chain.ok([alice.close_position_ix(90_000, 900_000)], alice.keypair)
    assert alice.balances() == (DEPOSIT, 0, DEPOSIT)
    assert (alice.margin_state().locked, alice.margin_state().position_size) == (0, 0)


def test_forged_event_self_cpi_through_another_program_fails(world):
    """Only the vault itself can sign for its event authority, so no other program can make a
    vault-program inner instruction that carries an event."""
    chain, alice, mallory, proxy = world
    forged_event = bytes.fromhex("e445a52e51cb9a1d") + bytes(120)
    for accounts in ([], [AccountMeta(EVENT_AUTHORITY, False, False)]):
        ix = Instruction(
            PROXY_ID,
            bytes([proxy.bump]) + forged_event,
            [AccountMeta(proxy.caller, False, False), AccountMeta(VAULT_ID, False, False), *accounts],
        )
        assert_rejected(chain, [ix], [], "InvalidEventAuthority", watched(alice, mallory))


# ---- consent: approve, cap, revoke ------------------------------------------------------------


def test_owner_approves_with_a_cap_changes_it_and_revokes(world):
    chain, alice, mallory, proxy = world
    rent_before = chain.account(alice.pubkey).lamports
    approved = chain.ok([alice.approve_ix(PROXY_ID, cap=100)], alice.keypair).event("CallerApprovedEvent")
    assert (approved["caller_program"], approved["cap"]) == (PROXY_ID, 100)
    record = alice.caller_lock_state(PROXY_ID)
    assert (record.vault, record.caller_program, record.locked, record.cap) == (alice.vault, PROXY_ID, 0, 100)
    chain.ok([proxy.lock(alice, 60)])
    # The cap can be raised (or lowered) by approving again.
    chain.ok([alice.approve_ix(PROXY_ID, cap=1_000)], alice.keypair)
    chain.ok([proxy.lock(alice, 500)])
    # Revoked with 560 locked: no more locks, but the program can still release and settle.
    revoked = chain.ok([alice.revoke_ix(PROXY_ID)], alice.keypair).event("CallerRevokedEvent")
    assert (revoked["locked"], revoked["closed"]) == (560, False)
    assert_rejected(chain, [proxy.lock(alice, 1)], [], "CallerNotApproved", watched(alice, mallory))
    chain.ok([proxy.unlock(alice, 560)])
    # Nothing locked any more: revoking closes the record and returns its rent.
    revoked = chain.ok([alice.revoke_ix(PROXY_ID)], alice.keypair).event("CallerRevokedEvent")
    assert revoked["closed"] is True
    assert alice.caller_lock_state(PROXY_ID) is None
    assert chain.account(alice.pubkey).lamports == rent_before


def test_only_the_owner_approves_and_only_allow_listed_programs(world):
    chain, alice, mallory, _ = world
    # Mallory signs an approval of the proxy for Alice's vault.
    ix = alice.approve_ix(PROXY_ID)
    accounts = list(ix.accounts)
    accounts[0] = AccountMeta(mallory.pubkey, True, True)
    forged = Instruction(ix.program_id, ix.data, accounts)
    assert_rejected(chain, [forged], [mallory.keypair], "NotVaultOwner", watched(alice, mallory))
    assert_rejected(chain, [mallory.revoke_ix(PM_ID)], [mallory.keypair], "CallerNotApproved", watched(alice, mallory))
    stranger = Keypair().pubkey()
    assert_rejected(chain, [alice.approve_ix(stranger)], [alice.keypair], "ProgramNotAuthorized", watched(alice, mallory))
    assert_rejected(chain, [alice.approve_ix(PROXY_ID, cap=0)], [alice.keypair], "ZeroAmount", watched(alice, mallory))


# ---- stranded locks ---------------------------------------------------------------------------


def test_owner_releases_a_removed_programs_locks_after_the_grace_period(world):
    """End to end: the position manager holds 600k of Alice's collateral locked when the admin
    removes it. Nobody can touch the lock during the grace period; afterwards Alice releases it
    herself and withdraws everything."""
    chain, alice, mallory, proxy = world
    chain.set_grace(GRACE)
    chain.ok([alice.open_position_ix(600_000, 1_000_000)], alice.keypair)
    chain.advance_clock(seconds=10_000)
    removed = chain.remove(PM_ID).event("ProgramDeauthorizedEvent")
    assert removed["releasable_at"] == 10_000 + GRACE
    # The removed program cannot release or settle any more; nor can anyone else.
    assert_rejected(chain, [alice.close_position_ix(600_000, 1_000_000)], [alice.keypair], "UnauthorizedCaller", watched(alice, mallory))
    assert_rejected(chain, [proxy.unlock(alice, 600_000, caller_lock=alice.caller_lock(PM_ID))], [], "InvalidCallerLock", watched(alice, mallory))
    # Within the grace period the owner must wait.
    chain.advance_clock(seconds=GRACE - 1)
    assert_rejected(chain, [alice.release_stranded_ix(PM_ID)], [alice.keypair], "GracePeriodActive", watched(alice, mallory))
    # Only the owner may release; Mallory signing for Alice's vault is refused.
    chain.advance_clock(seconds=1)
    ix = alice.release_stranded_ix(PM_ID)
    accounts = list(ix.accounts)
    accounts[0] = AccountMeta(mallory.pubkey, True, True)
    assert_rejected(chain, [Instruction(ix.program_id, ix.data, accounts)], [mallory.keypair], "NotVaultOwner", watched(alice, mallory))

    rent = chain.account(alice.caller_lock(PM_ID)).lamports
    before = chain.account(alice.pubkey).lamports
    outcome = chain.ok([alice.release_stranded_ix(PM_ID)], alice.keypair)
    released = outcome.event("StrandedLockReleasedEvent")
    assert (released["caller_program"], released["amount"], released["caller_locked"]) == (PM_ID, 600_000, 0)
    assert (released["locked_balance"], released["available_balance"], released["seq"]) == (0, DEPOSIT, 4)
    assert alice.caller_lock_state(PM_ID) is None
    assert chain.account(alice.pubkey).lamports == before + rent
    chain.ok([alice.withdraw_ix(DEPOSIT)], alice.keypair)
    assert alice.balances() == (0, 0, 0)
    assert chain.token_amount(alice.token_account) == DEPOSIT


def test_no_escape_while_the_program_is_authorized_or_readded(world):
    chain, alice, mallory, _ = world
    chain.set_grace(0)
    chain.ok([alice.open_position_ix(10)], alice.keypair)
    assert_rejected(chain, [alice.release_stranded_ix(PM_ID)], [alice.keypair], "ProgramStillAuthorized", watched(alice, mallory))
    chain.remove(PM_ID)
    chain.authorize(PM_ID)  # back on the list: its locks are live again
    assert_rejected(chain, [alice.release_stranded_ix(PM_ID)], [alice.keypair], "ProgramStillAuthorized", watched(alice, mallory))
    chain.ok([alice.close_position_ix(10)], alice.keypair)


def test_a_removal_never_fails_for_lack_of_room_and_the_earliest_grace_makes_room(world):
    """The admin must always be able to revoke a compromised program. With 8 removals in their
    grace period, a 9th still succeeds; the entry whose grace ends first (the position manager's)
    is dropped, so Alice may release its lock at once, while every later removal keeps its grace."""
    chain, alice, mallory, _ = world
    chain.set_grace(GRACE)
    chain.ok([alice.open_position_ix(600_000, 1_000_000)], alice.keypair)
    chain.remove(PM_ID)
    others = [Keypair().pubkey() for _ in range(7)]
    for program in others:
        chain.authorize(program)
    removals = [PROXY_ID, *others]
    for program in removals[:-1]:
        chain.advance_clock(seconds=1)
        chain.remove(program)
    state = chain.authority_state()
    assert state.removed_program_count == 8  # full, every grace still running
    assert_rejected(chain, [alice.release_stranded_ix(PM_ID)], [alice.keypair], "GracePeriodActive", watched(alice, mallory))

    chain.advance_clock(seconds=1)
    assert chain.remove(removals[-1]).event("ProgramDeauthorizedEvent")["releasable_at"] == chain.svm.get_clock().unix_timestamp + GRACE
    state = chain.authority_state()
    recorded = {entry.program_id for entry in state.removed_programs[: state.removed_program_count]}
    assert recorded == set(removals)  # PM_ID, the earliest, made room
    released = chain.ok([alice.release_stranded_ix(PM_ID)], alice.keypair).event("StrandedLockReleasedEvent")
    assert (released["amount"], released["available_balance"]) == (600_000, DEPOSIT)


# ---- frozen token accounts --------------------------------------------------------------------


def test_frozen_token_accounts_fail_with_a_named_error():
    chain = Chain(freezable_mint=True)
    chain.initialize_authority()
    chain.initialize_manager(keeper=chain.admin.pubkey())
    chain.authorize(PM_ID)
    alice = new_user(chain, tokens=DEPOSIT, margin=True)
    keeper = new_user(chain, keypair=chain.admin)
    chain.ok([alice.deposit_ix(500_000), alice.open_position_ix(100_000)], alice.keypair)
    chain.freeze(alice.token_account)
    outcome = assert_rejected(chain, [alice.deposit_ix(1)], [alice.keypair], "TokenAccountFrozen", watched(alice, programs=(PM_ID,)))
    assert any("Error Code: TokenAccountFrozen. Error Number: 6044." in line for line in outcome.logs)
    chain.freeze(alice.vault_token_account)
    assert_rejected(chain, [alice.withdraw_ix(1)], [alice.keypair], "TokenAccountFrozen", watched(alice, programs=(PM_ID,)))
    liquidation = liquidate_ix(chain, chain.admin, alice, keeper, 1)
    assert_rejected(chain, [liquidation], [chain.admin], "TokenAccountFrozen", watched(alice, keeper, programs=(PM_ID,)))


# ---- Anchor-compatible errors -----------------------------------------------------------------

ANCHOR_NO_INFO = re.compile(r"^Program log: AnchorError occurred\. Error Code: (.*)\. Error Number: (\d*)\. Error Message: (.*)\.$")


def test_failures_log_anchors_error_line_and_anchorpy_parses_the_code(world):
    chain, alice, _, _ = world
    outcome = chain.send([alice.withdraw_ix(DEPOSIT + 1)], alice.keypair)
    lines = [m for m in map(ANCHOR_NO_INFO.match, outcome.logs) if m]
    assert [m.groups() for m in lines] == [("InsufficientAvailableBalance", "6021", "The amount exceeds the vault's available balance")]
    idl_errors = {e["code"]: e["msg"] for e in VAULT_IDL_DOC["errors"]}
    parsed = ProgramError.parse_tx_error(outcome.meta.err(), idl_errors, VAULT_ID, outcome.logs)
    assert (parsed.code, parsed.msg) == (6021, "The amount exceeds the vault's available balance")
    # Successes log no such line (the line costs compute only on the error path).
    assert not any("AnchorError" in line for line in chain.ok([alice.withdraw_ix(1)], alice.keypair).logs)
