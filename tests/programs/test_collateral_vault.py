"""Happy paths of every collateral-vault instruction, run on the real SBF binary in LiteSVM with
the real SPL Token program. State is read back through the IDL's account coder."""

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from .svm import (
    DECIMALS,
    EVENT_AUTHORITY,
    PM_ID,
    VAULT,
    VAULT_AUTHORITY,
    VAULT_ID,
    Chain,
    error_code,
    liquidate_ix,
    new_user,
    vault_ix,
)


def test_initialize_authority_records_admin_mint_and_emits_event():
    chain = Chain()
    outcome = chain.initialize_authority()
    state = chain.authority_state()
    assert state.admin == chain.admin.pubkey()
    assert state.collateral_mint == chain.mint
    assert state.collateral_decimals == DECIMALS
    assert (state.deposit_paused, state.withdraw_paused, state.lock_paused) == (False, False, False)
    assert state.authorized_program_count == 0
    assert state.stranded_lock_grace_seconds == 7 * 24 * 3600
    # v2 emits events as self-CPIs only: no `Program data:` log line.
    names = [(name, source) for name, _, source in outcome.events()]
    assert names == [("AuthorityInitializedEvent", "cpi")]
    assert not any(line.startswith("Program data: ") for line in outcome.logs)


def test_initialize_vault_creates_pda_and_associated_token_account(chain):
    user = new_user(chain, tokens=0, open_vault=False)
    outcome = chain.ok([user.init_vault_ix()], user.keypair)
    state = chain.vault_state(user.pubkey)
    assert state.owner == user.pubkey
    assert state.token_account == user.vault_token_account
    assert (state.total_balance, state.locked_balance, state.available_balance) == (0, 0, 0)
    assert (state.generation, state.event_seq) == (0, 1)
    token = bytes(chain.account(user.vault_token_account).data)
    assert Pubkey.from_bytes(token[:32]) == chain.mint and Pubkey.from_bytes(token[32:64]) == user.vault
    (name, fields, _), *_ = outcome.events()
    assert name == "VaultInitializedEvent" and fields["vault"] == user.vault and fields["seq"] == 1


def test_deposit_moves_tokens_and_updates_ledger(chain, alice):
    outcome = chain.ok([alice.deposit_ix(1_500_000)], alice.keypair)
    assert alice.balances() == (1_500_000, 0, 1_500_000)
    assert chain.token_amount(alice.vault_token_account) == 1_500_000
    assert chain.token_amount(alice.token_account) == 10_000_000 - 1_500_000
    state = chain.vault_state(alice.pubkey)
    assert state.total_deposited == 1_500_000 and state.total_withdrawn == 0
    events = outcome.events()
    assert [(name, source) for name, _, source in events] == [("DepositEvent", "cpi")]
    fields = events[0][1]
    assert fields["amount"] == 1_500_000 and fields["available_balance"] == 1_500_000
    assert fields["seq"] == 2 and fields["owner"] == alice.pubkey and fields["generation"] == 0


def test_withdraw_returns_tokens_with_pda_signature(chain, alice):
    chain.ok([alice.deposit_ix(2_000_000)], alice.keypair)
    destination = chain.token_account(Keypair().pubkey())
    outcome = chain.ok([alice.withdraw_ix(750_000, user_token_account=destination)], alice.keypair)
    assert alice.balances() == (1_250_000, 0, 1_250_000)
    assert chain.token_amount(destination) == 750_000
    assert chain.token_amount(alice.vault_token_account) == 1_250_000
    assert chain.vault_state(alice.pubkey).total_withdrawn == 750_000
    assert [name for name, _, _ in outcome.events()] == ["WithdrawEvent"]


def test_close_vault_returns_all_rent_to_owner(chain, alice):
    chain.ok([alice.deposit_ix(1_000)], alice.keypair)
    chain.ok([alice.withdraw_ix(1_000)], alice.keypair)
    rent = chain.account(alice.vault).lamports + chain.account(alice.vault_token_account).lamports
    before = chain.account(alice.pubkey).lamports
    chain.advance_clock(slots=1)  # not in the vault's creation slot (see the next test)
    outcome = chain.ok([alice.close_vault_ix()], alice.keypair)
    assert chain.account(alice.vault) is None or chain.account(alice.vault).lamports == 0
    assert chain.account(alice.vault_token_account) is None or chain.account(alice.vault_token_account).lamports == 0
    assert chain.account(alice.pubkey).lamports == before + rent
    assert [name for name, _, _ in outcome.events()][0] == "VaultClosedEvent"
    # The address is free again: the same owner can open a new vault.
    chain.ok([alice.init_vault_ix()], alice.keypair)
    assert chain.vault_state(alice.pubkey).generation == 1


def test_sequence_numbers_never_repeat_for_one_vault_address(chain, alice):
    """A vault closed and created again at the same address numbers its events above every
    number the earlier vault used: `seq` grows for an address across generations."""
    chain.advance_clock(slots=41)
    first = [chain.ok([alice.deposit_ix(10)], alice.keypair).event("DepositEvent")["seq"]]
    first.append(chain.ok([alice.withdraw_ix(10)], alice.keypair).event("WithdrawEvent")["seq"])
    # Closing in the creation slot of a vault would let a new vault reuse the numbers: refused.
    fresh = new_user(chain, tokens=0)
    refused = chain.send([fresh.close_vault_ix()], fresh.keypair)
    assert refused.custom_error == error_code("VaultTooNewToClose")
    chain.advance_clock(slots=1)
    closed = chain.ok([alice.close_vault_ix()], alice.keypair).event("VaultClosedEvent")
    opened = chain.ok([alice.init_vault_ix()], alice.keypair).event("VaultInitializedEvent")
    assert opened["generation"] == 42 and opened["seq"] == (42 << 20) + 1
    assert closed["generation"] == 0 and opened["seq"] > closed["seq"] > max(first)
    deposit = chain.ok([alice.deposit_ix(5)], alice.keypair).event("DepositEvent")
    assert (deposit["generation"], deposit["seq"]) == (42, (42 << 20) + 2)


def test_tokens_sent_around_the_program_are_credited_not_blocking(chain, alice, bob):
    chain.ok([alice.deposit_ix(1_000)], alice.keypair)
    chain.transfer_tokens(bob.token_account, alice.vault_token_account, bob.keypair, 250)
    outcome = chain.ok([alice.deposit_ix(10)], alice.keypair)
    assert alice.balances() == (1_260, 0, 1_260)
    assert chain.token_amount(alice.vault_token_account) == 1_260
    names = [name for name, _, _ in outcome.events()]
    assert names == ["SurplusCreditedEvent", "DepositEvent"]
    surplus = outcome.events()[0][1]
    assert surplus["amount"] == 250 and surplus["seq"] == 3


def test_surplus_waits_uncredited_while_deposits_are_paused(chain, alice, bob):
    """Policy: a deposit pause stops every inflow to the ledger. Tokens sent to a vault from
    outside stay in its token account, uncredited, and withdrawals and settlements keep working;
    the first operation after deposits resume credits them."""
    chain.ok([alice.deposit_ix(1_000)], alice.keypair)
    chain.set_paused("Deposit", True)
    chain.transfer_tokens(bob.token_account, alice.vault_token_account, bob.keypair, 250)
    outcome = chain.ok([alice.withdraw_ix(400)], alice.keypair)
    assert [name for name, _, _ in outcome.events()] == ["WithdrawEvent"]
    state = chain.vault_state(alice.pubkey)
    assert (state.total_balance, state.total_deposited) == (600, 1_000)
    assert chain.token_amount(alice.vault_token_account) == 600 + 250
    # Settlement too: the position manager's liquidation into the keeper's vault.
    keeper = new_user(chain, keypair=chain.admin)
    chain.ok([alice.open_position_ix(100)], alice.keypair)
    chain.ok([liquidate_ix(chain, chain.admin, alice, keeper, 100)], chain.admin)
    assert chain.vault_state(alice.pubkey).total_balance == 500
    assert chain.token_amount(alice.vault_token_account) == 500 + 250
    chain.set_paused("Deposit", False)
    outcome = chain.ok([alice.withdraw_ix(1)], alice.keypair)
    assert [name for name, _, _ in outcome.events()] == ["SurplusCreditedEvent", "WithdrawEvent"]
    state = chain.vault_state(alice.pubkey)
    assert (state.total_balance, state.total_deposited) == (749, 1_250)
    assert chain.token_amount(alice.vault_token_account) == 749


def test_admin_manages_allow_list(chain):
    other = Keypair().pubkey()
    outcome = chain.authorize(other)
    state = chain.authority_state()
    assert state.authorized_program_count == 2
    entries = state.authorized_programs[: state.authorized_program_count]
    assert {entry.program_id for entry in entries} == {PM_ID, other}
    caller = Pubkey.find_program_address([b"vault_caller"], other)[0]
    assert any(entry.caller_authority == caller for entry in entries)
    assert outcome.events()[0][1]["caller_authority"] == caller

    chain.advance_clock(seconds=1_000)
    removed = chain.remove(PM_ID).event("ProgramDeauthorizedEvent")
    state = chain.authority_state()
    assert state.authorized_program_count == 1
    assert state.authorized_programs[0].program_id == other
    # The removal is recorded with the time its locks become releasable by the owners.
    assert removed["releasable_at"] == 1_000 + 7 * 24 * 3600
    assert state.removed_program_count == 1 and state.removed_programs[0].program_id == PM_ID
    # Authorized again: its locks are live again, the record is dropped.
    chain.authorize(PM_ID)
    assert chain.authority_state().removed_program_count == 0


def test_admin_sets_a_bounded_grace_period(chain):
    assert chain.set_grace(3_600).event("StrandedLockGraceChangedEvent")["stranded_lock_grace_seconds"] == 3_600
    assert chain.authority_state().stranded_lock_grace_seconds == 3_600
    for seconds in (-1, 30 * 24 * 3600 + 1):
        ix, admin = chain.admin_ix("set_stranded_lock_grace", seconds)
        assert chain.send([ix], admin).custom_error == error_code("InvalidGracePeriod")
    assert chain.authority_state().stranded_lock_grace_seconds == 3_600


def test_pause_flags_switch_independently(chain):
    outcome = chain.set_paused("Withdraw", True)
    state = chain.authority_state()
    assert (state.deposit_paused, state.withdraw_paused, state.lock_paused) == (False, True, False)
    fields = outcome.events()[0][1]
    assert fields["paused"] is True and fields["admin"] == chain.admin.pubkey()
    chain.set_paused("Withdraw", False)
    chain.set_paused("Lock", True)
    state = chain.authority_state()
    assert (state.deposit_paused, state.withdraw_paused, state.lock_paused) == (False, False, True)


def test_admin_hand_over_takes_two_steps(chain):
    successor = chain.funded()
    ix, admin = chain.admin_ix("propose_admin", successor.pubkey())
    chain.ok([ix], admin)
    assert chain.authority_state().admin == chain.admin.pubkey()
    assert chain.authority_state().pending_admin == successor.pubkey()

    accept = vault_ix(
        "accept_admin",
        pending_admin=successor.pubkey(),
        vault_authority=VAULT_AUTHORITY,
        event_authority=EVENT_AUTHORITY,
        program=VAULT_ID,
    )
    outcome = chain.ok([accept], successor)
    state = chain.authority_state()
    assert state.admin == successor.pubkey() and state.pending_admin == Pubkey.default()
    assert outcome.events()[0][1]["previous_admin"] == chain.admin.pubkey()
    # The new admin acts; the old one no longer can.
    ix, _ = chain.admin_ix("set_paused", VAULT.type["PauseAction"].Deposit(), True, admin=successor)
    chain.ok([ix], successor)
    assert chain.authority_state().deposit_paused is True


def test_event_sequence_numbers_have_no_gaps(chain):
    alice = new_user(chain, tokens=1_000, margin=True)
    seqs = [1]
    for ix in (alice.deposit_ix(100), alice.withdraw_ix(40), alice.deposit_ix(5)):
        outcome = chain.ok([ix], alice.keypair)
        seqs += [fields["seq"] for _, fields, _ in outcome.events() if "seq" in fields]
    outcome = chain.ok([alice.open_position_ix(10)], alice.keypair)
    seqs += [fields["seq"] for _, fields, _ in outcome.events() if "seq" in fields]
    assert seqs == [1, 2, 3, 4, 5]
    assert chain.vault_state(alice.pubkey).event_seq == 5


def test_events_survive_log_truncation_through_the_self_cpi(chain, alice):
    chain.svm.with_log_bytes_limit(300)
    outcome = chain.ok([alice.deposit_ix(77)], alice.keypair)
    assert any("Log truncated" in line for line in outcome.logs)
    sources = [(name, source) for name, _, source in outcome.events()]
    assert sources == [("DepositEvent", "cpi")]
    assert outcome.events()[0][1]["amount"] == 77
