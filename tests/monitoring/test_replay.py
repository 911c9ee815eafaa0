"""Replay reads what a vault's subscriber missed from the database, in sequence order, as the
live stream's messages, closed by the vault's balance."""
import pytest
from solders.keypair import Keypair

from monitoring import replay, streams
from tests.monitoring.stream_helpers import add_deposit, make_vault
from vaults.models import Transaction

pytestmark = pytest.mark.django_db(transaction=True)


def _owner():
    return str(Keypair().pubkey())


def test_missed_events_in_seq_order_then_the_balance():
    vault = make_vault(_owner())
    other = make_vault(_owner())
    for seq in (3, 1, 2, 5, 4):  # stored out of order
        add_deposit(vault, seq, amount=seq)
    add_deposit(other, 1)
    row = Transaction.objects.get(vault=vault, event_seq=3)
    Transaction.objects.create(vault=vault, transaction_type="initialize", amount=0, signature="init", event_index=0,
                               event_seq=0, slot=1, timestamp=row.timestamp)

    result = replay.missed_since(replay.vault_for(owner=vault.owner), 2, limit=100)

    assert [(m["type"], m["seq"]) for m in result.messages] == [
        ("deposit", 3), ("deposit", 4), ("deposit", 5), ("balance_update", 5)]
    assert (result.vault, result.event_count, result.last_event_seq, result.balance_seq) == (vault.address, 3, 5, 5)
    assert result.messages[0] == streams.message_for_transaction(row)
    assert result.messages[-1]["total_balance"] == 15


def test_nothing_missed_still_gives_the_balance_and_unknown_vaults_give_nothing():
    vault = make_vault(_owner(), event_seq=7, total=10)
    result = replay.missed_since(replay.vault_for(vault=vault.address), 7, limit=100)
    assert [m["type"] for m in result.messages] == ["balance_update"] and result.last_event_seq is None
    assert replay.missed_since(replay.vault_for(owner=_owner()), 0, limit=100).messages == []


def test_too_many_missed_events_are_refused():
    vault = make_vault(_owner())
    for seq in range(1, 5):
        add_deposit(vault, seq)
    with pytest.raises(replay.ReplayTooLarge):
        replay.missed_since(vault, 0, limit=3)
    assert replay.missed_since(vault, 1, limit=3).event_count == 3


def test_only_announced_events_are_replayed():
    vault = make_vault(_owner())
    add_deposit(vault, 1)
    add_deposit(vault, 3, announced=False)  # after a hole: stored, not announced
    result = replay.missed_since(vault, 0, limit=100)
    assert [(m["type"], m["seq"]) for m in result.messages] == [("deposit", 1), ("balance_update", 3)]
    assert (result.last_event_seq, result.announced_seq) == (1, 1)
