"""Lock, unlock and settlement through the position manager: real CPIs between two SBF programs."""

from .svm import PM_ID, liquidate_ix, new_user


def test_open_position_locks_collateral_by_cpi(chain, alice):
    chain.ok([alice.deposit_ix(1_000_000)], alice.keypair)
    outcome = chain.ok([alice.open_position_ix(400_000)], alice.keypair)
    assert alice.balances() == (1_000_000, 400_000, 600_000)
    # Locking moves no tokens.
    assert chain.token_amount(alice.vault_token_account) == 1_000_000
    events = outcome.events()
    assert [(name, source) for name, _, source in events] == [("LockEvent", "cpi")]
    assert events[0][1]["caller_program"] == PM_ID and events[0][1]["locked_balance"] == 400_000
    assert events[0][1]["caller_locked"] == 400_000
    assert alice.caller_lock_state().locked == 400_000


def test_close_position_unlocks_by_cpi(chain, alice):
    chain.ok([alice.deposit_ix(1_000_000)], alice.keypair)
    chain.ok([alice.open_position_ix(400_000)], alice.keypair)
    outcome = chain.ok([alice.close_position_ix(150_000)], alice.keypair)
    assert alice.balances() == (1_000_000, 250_000, 750_000)
    assert outcome.events()[0][0] == "UnlockEvent"
    assert alice.margin_state().locked == 250_000
    assert alice.caller_lock_state().locked == 250_000


def test_liquidation_transfers_locked_collateral_between_vaults(chain, alice):
    keeper = new_user(chain, keypair=chain.admin)  # the chain fixture made the admin the keeper
    chain.ok([alice.deposit_ix(1_000_000)], alice.keypair)
    chain.ok([alice.open_position_ix(600_000)], alice.keypair)

    outcome = chain.ok([liquidate_ix(chain, chain.admin, alice, keeper, 450_000)], chain.admin)
    assert alice.balances() == (550_000, 150_000, 400_000)
    assert keeper.balances() == (450_000, 0, 450_000)
    assert chain.token_amount(alice.vault_token_account) == 550_000
    assert chain.token_amount(keeper.vault_token_account) == 450_000
    assert chain.vault_state(alice.pubkey).total_transferred_out == 450_000
    assert chain.vault_state(chain.admin.pubkey()).total_transferred_in == 450_000
    (name, fields, _), *_ = outcome.events()
    assert name == "TransferEvent"
    assert fields["from_vault"] == alice.vault and fields["to_vault"] == keeper.vault
    assert fields["from_locked_balance"] == 150_000 and fields["to_available_balance"] == 450_000
    assert fields["from_caller_locked"] == 150_000 and alice.caller_lock_state().locked == 150_000
    # A liquidation closes the position.
    assert (alice.margin_state().locked, alice.margin_state().position_size) == (150_000, 0)
