"""What goes out on the streams for attributed events: every sequence number of a vault, in
order and never past a hole; a transfer to both sides; balances from the event's own
post-state; live messages identical to their replay."""
import pytest

from monitoring import replay
from monitoring.indexer.events import vault_sides
from monitoring.indexer.sequence import first_seq
from monitoring.models import IndexedEvent
from tests.monitoring.event_factory import apply, deposit, initialized, new_owner, state, transfer
from vaults.chain.client import ProgramEvent

pytestmark = pytest.mark.django_db(transaction=True)


def kinds(messages):
    return [(m["type"], m["seq"]) for m in messages]


def test_vault_lifecycle_and_deposit_keep_the_seeds_fields_in_sequence():
    owner = new_owner()
    _, opened = apply(initialized(owner), states={owner: state(owner, seq=1, total=0)})
    assert kinds(opened) == [("vault_initialized", 1), ("balance_update", 1)]
    assert (opened[0]["user"], opened[0]["amount"]) == (owner, 0)
    _, deposited = apply(deposit(owner, 2, 1_000_000, 1_000_000), states={owner: state(owner, seq=2, total=1_000_000)},
                         signature="dep")
    assert {k: deposited[0][k] for k in ("type", "user", "amount", "signature", "timestamp")} == {
        "type": "deposit", "user": owner, "amount": 1_000_000, "signature": "dep", "timestamp": 1_700_000_002}
    assert (deposited[1]["type"], deposited[1]["total_balance"], deposited[1]["seq"]) == ("balance_update", 1_000_000, 2)


def test_an_event_after_a_hole_waits_unannounced_then_goes_out_in_order():
    owner = new_owner()
    vault_state = state(owner, seq=3, total=30)
    apply(initialized(owner), states={owner: vault_state})
    result, held = apply(deposit(owner, 3, 20, 30), states={owner: vault_state})

    assert held == [] and result.gaps == {vault_state.address}
    assert not IndexedEvent.objects.get(vault_address=vault_state.address, seq=3).announced
    client = replay.missed_since(replay.vault_for(owner=owner), 1, limit=100)
    assert kinds(client.messages) == [("balance_update", 3)] and client.last_event_seq is None

    _, released = apply(deposit(owner, 2, 10, 10), states={owner: vault_state})

    assert kinds(released) == [("deposit", 2), ("deposit", 3), ("balance_update", 3)]
    assert released[-1]["total_balance"] == 30
    assert replay.missed_since(replay.vault_for(owner=owner), 1, limit=100).messages[:2] == released[:2]


def test_a_transfer_is_announced_to_both_vaults_with_each_sequence_number_and_replayed_identically():
    sender, receiver, caller = new_owner(), new_owner(), new_owner()
    states = {sender: state(sender, seq=2, total=600), receiver: state(receiver, seq=2, total=400)}
    apply(initialized(sender), states={sender: states[sender]})
    apply(initialized(receiver), states={receiver: states[receiver]})
    _, messages = apply(transfer(sender, receiver, amount=400, from_seq=2, to_seq=2, from_total=600, to_total=400,
                                 caller=caller), states=states)

    by_vault = {(m["type"], m["vault"]): m for m in messages}
    out = by_vault[("transfer", states[sender].address)]
    into = by_vault[("transfer", states[receiver].address)]
    assert (out["seq"], out["direction"], out["counterparty"], out["caller_program"]) == (
        2, "out", states[receiver].address, caller)
    assert (into["seq"], into["direction"], into["user"]) == (2, "in", receiver)
    balances = {m["vault"]: (m["total_balance"], m["seq"]) for m in messages if m["type"] == "balance_update"}
    assert balances == {states[sender].address: (600, 2), states[receiver].address: (400, 2)}
    assert replay.missed_since(replay.vault_for(owner=sender), 1, limit=10).messages[0] == out
    assert replay.missed_since(replay.vault_for(owner=receiver), 1, limit=10).messages[0] == into


def test_a_client_claiming_a_seq_beyond_what_was_announced_is_replayed_the_whole_sequence():
    owner = new_owner()
    vault_state = state(owner, seq=2, total=5)
    apply(initialized(owner), states={owner: vault_state})
    apply(deposit(owner, 2, 5, 5), states={owner: vault_state})
    result = replay.missed_since(replay.vault_for(owner=owner), 1000, limit=100)
    assert kinds(result.messages) == [("vault_initialized", 1), ("deposit", 2), ("balance_update", 2)]
    assert (result.from_seq, result.announced_seq) == (0, 2)


def test_transfer_sides_carry_each_vaults_own_post_state():
    event = ProgramEvent(0, *transfer(new_owner(), new_owner(), amount=5, from_seq=4, to_seq=2, from_total=10,
                                      to_total=5, caller=new_owner()))
    assert [(s.seq, s.total_balance) for s in vault_sides(event)] == [(4, 10), (2, 5)]


def with_generation(event, generation):
    name, fields = event
    return name, {**fields, "generation": generation}


def test_v2_numbering_from_the_generation_start_is_announced_in_order():
    """Vault program v2 numbers a vault's events from (generation << 20) + 1."""
    owner, first = new_owner(), first_seq(42)
    vault_state = state(owner, seq=first + 1, total=10)
    _, opened = apply(with_generation(initialized(owner, seq=first), 42), states={owner: vault_state})
    assert kinds(opened) == [("vault_initialized", first), ("balance_update", first)]
    _, deposited = apply(with_generation(deposit(owner, first + 1, 10, 10), 42), states={owner: vault_state})
    assert kinds(deposited) == [("deposit", first + 1), ("balance_update", first + 1)]


def test_a_vault_created_again_at_the_same_address_starts_a_new_announced_run():
    owner = new_owner()
    old = state(owner, seq=first_seq(40) + 1, total=0)
    apply(with_generation(initialized(owner, seq=first_seq(40)), 40), states={owner: old})
    apply(with_generation(("VaultClosedEvent", {"owner": owner, "vault": old.address, "seq": first_seq(40) + 1,
                                                "timestamp": 1}), 40), states={owner: None})
    again = state(owner, seq=first_seq(77), total=0)
    result, opened = apply(with_generation(initialized(owner, seq=first_seq(77)), 77), states={owner: again})
    assert result.gaps == set()
    assert kinds(opened) == [("vault_initialized", first_seq(77)), ("balance_update", first_seq(77))]


def test_a_stranded_lock_release_is_announced_as_an_unlock_by_the_removed_program():
    """Vault program v2: the owner's release of a removed program's locks, after the grace."""
    owner, removed = new_owner(), new_owner()
    vault_state = state(owner, seq=2, total=1_000)
    apply(initialized(owner), states={owner: vault_state})
    name, fields = deposit(owner, 2, 600, 1_000, name="StrandedLockReleasedEvent")
    _, released = apply((name, {**fields, "caller_program": removed, "caller_locked": 0}), states={owner: vault_state})
    assert kinds(released) == [("unlock", 2), ("balance_update", 2)]
    assert (released[0]["amount"], released[0]["caller_program"]) == (600, removed)


def test_each_side_of_a_transfer_carries_its_vaults_generation():
    name, fields = transfer(new_owner(), new_owner(), amount=5, from_seq=first_seq(7) + 3, to_seq=first_seq(9) + 1,
                            from_total=10, to_total=5, caller=new_owner())
    event = ProgramEvent(0, name, {**fields, "from_generation": 7, "to_generation": 9})
    assert [(s.generation, s.seq) for s in vault_sides(event)] == [(7, first_seq(7) + 3), (9, first_seq(9) + 1)]
