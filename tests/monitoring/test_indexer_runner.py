"""monitoring.indexer.runner (`python manage.py index` as a real process): the crash and RPC
outage faults. Every event ends up stored exactly once, and the process never dies on its own."""
import threading
import time

import pytest

from monitoring.indexer.sequence import missing_seqs
from monitoring.indexer.store import cursor_name
from monitoring.models import IndexedEvent, IndexerCursor
from tests.localnet import seq_base
from tests.monitoring.indexer_support import (  # noqa: F401 - fixtures
    chain,
    indexer_process,
    newest_program_signature,
    proxy,
    start_cursor_at_chain_head,
    vault_user,
    wait_until,
)
from vaults.models import Transaction, Vault

pytestmark = [pytest.mark.localnet, pytest.mark.django_db(transaction=True)]


def _vault_rows(owner):
    return Transaction.objects.filter(vault__owner=owner)


def _assert_stored_exactly_once(chain, user, deposits: dict[str, int]):
    """deposits: signature -> amount. Each event once, in sequence, and the vault as on chain."""
    rows = list(_vault_rows(user.owner).order_by("event_seq").values_list("signature", "transaction_type", "amount",
                                                                         "event_seq"))
    assert len(rows) == 1 + len(deposits)
    base = seq_base(chain, user.owner)
    assert rows[0][1:] == ("initialize", 0, base + 1)
    assert [(r[0], r[2]) for r in rows[1:]] == [(s, a) for s, a in deposits.items()]
    assert [r[3] - base for r in rows] == list(range(1, len(deposits) + 2))
    seqs = list(IndexedEvent.objects.filter(vault_address=user.vault).order_by("seq").values_list("seq", flat=True))
    assert [seq - base for seq in seqs] == list(range(1, len(deposits) + 2))
    assert missing_seqs(user.vault) == []
    stored = Vault.objects.get(owner=user.owner)
    on_chain = chain.get_vault(user.owner)
    assert stored.total_balance == on_chain.total_balance == sum(deposits.values())
    assert stored.event_seq == on_chain.event_seq == base + len(deposits) + 1


def _deposit_burst(user, amounts, sent: dict, pause=0.03):
    """Sends without waiting for each confirmation (a burst); confirms them all at the end."""
    pending = []
    for amount in amounts:
        transaction = user.send([user.deposit_instruction(amount)])
        sent[transaction.signature] = amount
        pending.append(transaction)
        time.sleep(pause)
    for transaction in pending:
        user.confirm(transaction)


def test_indexer_crash_kill_9_mid_burst_then_restart_stores_every_event_once(chain, vault_user, indexer_process):
    start_cursor_at_chain_head(chain)
    user = vault_user(tokens=10_000_000)
    user.open_vault()
    indexer = indexer_process(INDEXER_POLL_SECONDS=1)
    indexer.wait_for_log("live: subscribed")

    amounts = [10_000 + i for i in range(40)]
    sent: dict[str, int] = {}
    burst = threading.Thread(target=_deposit_burst, args=(user, amounts, sent, 0.05))
    burst.start()
    kills = []
    for threshold in (6, 20):  # twice, each time while deposits keep arriving
        wait_until(lambda: _vault_rows(user.owner).count() >= threshold, 60, 0.01, f"{threshold} rows")
        indexer.kill9()
        kills.append(_vault_rows(user.owner).count())
        indexer.start()
    burst.join(timeout=120)

    wait_until(lambda: _vault_rows(user.owner).count() >= 41, 60, 0.1, "all 41 events")
    time.sleep(2)  # a couple more rounds: nothing may be added twice
    assert all(count < 41 for count in kills), kills  # the kills really landed mid-burst
    deposits = dict(sorted(sent.items(), key=lambda item: Transaction.objects.get(signature=item[0]).event_seq))
    assert sorted(deposits.values()) == amounts
    _assert_stored_exactly_once(chain, user, deposits)
    newest, _ = newest_program_signature(chain)
    wait_until(lambda: IndexerCursor.objects.get(name=cursor_name(chain)).last_signature == newest, 10,
               message="the cursor to reach the newest signature")
    assert indexer.alive() and indexer.runs == 3


def test_rpc_outage_the_indexer_backs_off_then_catches_up_without_crashing(chain, vault_user, indexer_process, proxy,
                                                                          localnet):
    start_cursor_at_chain_head(chain)
    user = vault_user(tokens=10_000_000)
    rpc = proxy(localnet.rpc_url)
    ws = proxy(localnet.description["ws_url"])
    indexer = indexer_process(rpc_url=rpc.url, ws_url=ws.url, INDEXER_POLL_SECONDS=1, INDEXER_BACKOFF_MAX_SECONDS=2,
                              RPC_TIMEOUT_SECONDS=2, INDEXER_STREAM_IDLE_SECONDS=5)
    indexer.wait_for_log("live: subscribed")
    opened = user.open_vault()
    wait_until(lambda: Transaction.objects.filter(signature=opened).exists(), 10, message="the initialization")

    deposits = {}
    rpc.set_mode("refuse")  # the node is down: connections reset
    ws.set_mode("refuse")
    for amount in (1_000, 2_000, 3_000):
        deposits[user.deposit(amount)] = amount  # straight to the validator, not through the proxy
    time.sleep(3)
    rpc.set_mode("freeze")  # then it hangs: connections accepted, never answered
    ws.set_mode("freeze")
    for amount in (4_000, 5_000):
        deposits[user.deposit(amount)] = amount
    time.sleep(3)
    assert _vault_rows(user.owner).count() == 1  # nothing got through during the outage
    log = indexer.log()
    assert "backfill round failed (ChainUnavailable" in log and "retrying in" in log

    rpc.set_mode("forward")
    ws.set_mode("forward")
    back_at = time.monotonic()
    wait_until(lambda: _vault_rows(user.owner).count() == 6, 20, 0.05, "the indexer to catch up")
    caught_up_in = time.monotonic() - back_at

    _assert_stored_exactly_once(chain, user, deposits)
    assert caught_up_in < 2 + 1 + 2  # at most one back-off (capped at 2 s), a round, and slack
    assert indexer.alive() and indexer.runs == 1
    assert "Traceback" not in indexer.log()


def test_a_live_batch_applies_each_announced_transaction_once_in_order(chain, vault_user):
    """What the stream announced meanwhile, applied as one batch: a repeated notification
    counts once, a signature the node does not return is handed back for a retry, and a second
    delivery of the same batch changes nothing."""
    from solders.signature import Signature

    from monitoring.indexer.runner import Indexer

    user = vault_user(tokens=10_000_000)
    opened = user.open_vault()
    amounts = [1_000 + i for i in range(5)]
    deposits = {user.deposit(amount): amount for amount in amounts}
    unknown = str(Signature.new_unique())
    announced = [opened, *deposits, list(deposits)[2], unknown]

    indexer = Indexer(chain=chain)
    batch = indexer.index_live_batch(announced)
    assert (batch.applied, batch.not_visible, batch.gaps) == (6, [unknown], False)
    _assert_stored_exactly_once(chain, user, deposits)

    again = indexer.index_live_batch(announced)
    assert (again.applied, again.not_visible) == (0, [unknown])
    _assert_stored_exactly_once(chain, user, deposits)
