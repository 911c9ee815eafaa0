"""monitoring.indexer.live: the watchdog's rules, the live path against the real validator, and
the dead-stream fault: the websocket goes silent without telling anyone, and the backfill still
stores every deposit within the poll interval."""
import time

import pytest
from monitoring import streams

from monitoring.indexer.live import RecentSignatures, StreamWatchdog
from tests.localnet import seq_base
from tests.monitoring.monitor_fixtures import Listener
from tests.monitoring.indexer_support import (  # noqa: F401 - fixtures
    chain,
    indexer_process,
    proxy,
    start_cursor_at_chain_head,
    vault_user,
    wait_until,
)
from vaults.chain.client import SignatureInfo
from vaults.models import Transaction


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_watchdog_resubscribes_after_the_idle_time():
    clock = FakeClock()
    watchdog = StreamWatchdog(idle_seconds=10, clock=clock)
    watchdog.subscribed(slot=50)
    clock.now += 9.9
    assert watchdog.resubscribe_reason() is None
    watchdog.heard()
    clock.now += 9.9
    assert watchdog.resubscribe_reason() is None
    clock.now += 0.2
    assert "no notification for 10.1 s" == watchdog.resubscribe_reason()


def test_watchdog_resubscribes_when_the_backfill_keeps_finding_what_the_stream_missed():
    watchdog = StreamWatchdog(idle_seconds=1000, clock=FakeClock())
    delivered = RecentSignatures()
    delivered.add("seen")
    watchdog.subscribed(slot=50)
    before_subscription = SignatureInfo("old", 40, False, None)
    assert watchdog.backfill_applied([before_subscription, SignatureInfo("seen", 60, False, None)], delivered) == 0
    assert watchdog.backfill_applied([SignatureInfo("missed-1", 61, False, None)], delivered) == 1
    assert watchdog.resubscribe_reason() is None  # one round may be a race with the notification
    assert watchdog.backfill_applied([SignatureInfo("missed-2", 62, False, None)], delivered) == 1
    assert "missed in 2 rounds" in watchdog.resubscribe_reason()
    watchdog.subscribed(slot=70)
    assert watchdog.resubscribe_reason() is None


def test_recent_signatures_forget_the_oldest_beyond_capacity():
    recent = RecentSignatures(capacity=2)
    for signature in ("a", "b", "c"):
        recent.add(signature)
    assert ("a" in recent, "b" in recent, "c" in recent) == (False, True, True)


def _row_stored(signature):
    return Transaction.objects.filter(signature=signature).exists()


@pytest.mark.localnet
@pytest.mark.django_db(transaction=True)
def test_the_live_stream_stores_and_announces_a_deposit_long_before_the_next_poll(chain, vault_user, indexer_process,
                                                                                 clean_redis):
    start_cursor_at_chain_head(chain)
    user = vault_user()
    opened = user.open_vault()
    indexer = indexer_process(INDEXER_POLL_SECONDS=120)  # after its first round the backfill sleeps
    indexer.wait_for_log("live: subscribed")
    wait_until(lambda: _row_stored(opened), 10, message="the first backfill round")
    # Logged after the commit's on_commit publication: the vault_initialized message is out
    # before this test starts listening.
    indexer.wait_for_log(f"indexed {opened} via", timeout=5)
    listener = Listener(streams.user_group(user.owner))

    signature = user.deposit(31_337)
    confirmed_at = time.monotonic()
    wait_until(lambda: _row_stored(signature), 10, message="the live path to store the deposit")

    assert time.monotonic() - confirmed_at < 10
    indexer.wait_for_log(f"indexed {signature} via", timeout=2)  # logged just after the commit
    assert f"indexed {signature} via live" in indexer.log()
    # The indexer process published through the real channel layer, after its commit.
    messages = [listener.receive(timeout=5) for _ in range(2)]
    listener.close()
    assert [m["type"] for m in messages] == ["deposit", "balance_update"]
    assert (messages[0]["user"], messages[0]["amount"], messages[0]["signature"], messages[0]["seq"]) == (
        user.owner, 31_337, signature, seq_base(chain, user.owner) + 2)
    assert (messages[1]["vault"], messages[1]["total_balance"]) == (user.vault, 31_337)


@pytest.mark.localnet
@pytest.mark.django_db(transaction=True)
def test_dead_stream_the_backfill_closes_the_gap_within_the_poll_interval(chain, vault_user, indexer_process, proxy,
                                                                          localnet):
    poll_seconds = 1.5
    start_cursor_at_chain_head(chain)
    user = vault_user()
    ws = proxy(localnet.description["ws_url"])
    indexer = indexer_process(ws_url=ws.url, INDEXER_POLL_SECONDS=poll_seconds, INDEXER_STREAM_IDLE_SECONDS=4)
    indexer.wait_for_log("live: subscribed")
    opened = user.open_vault()
    wait_until(lambda: _row_stored(opened), 10, message="the vault's initialization")

    ws.set_mode("freeze")  # the socket stays open; nothing more arrives, nothing is closed
    frozen_at = ws.forwarded_bytes
    lags, deposits = [], []
    for amount in (1_000, 2_000, 3_000):
        signature = user.deposit(amount)
        confirmed_at = time.monotonic()
        wait_until(lambda: _row_stored(signature), poll_seconds + 5, 0.02, f"deposit {amount}")
        lags.append(time.monotonic() - confirmed_at)
        deposits.append(signature)

    assert ws.forwarded_bytes == frozen_at  # the stream really delivered nothing
    for signature in deposits:
        indexer.wait_for_log(f"indexed {signature} via", timeout=2)  # logged just after the commit
    log = indexer.log()
    for signature in deposits:
        assert f"indexed {signature} via backfill" in log
        assert f"indexed {signature} via live" not in log
    # The backfill polls every poll_seconds; a round over a handful of signatures takes well
    # under a second on the local validator.
    assert max(lags) <= poll_seconds + 1.0, lags
    amounts = list(Transaction.objects.filter(vault__owner=user.owner, transaction_type="deposit")
                   .order_by("event_seq").values_list("amount", "event_seq"))
    base = seq_base(chain, user.owner)
    assert amounts == [(1_000, base + 2), (2_000, base + 3), (3_000, base + 4)]
    indexer.wait_for_log("live: resubscribing", timeout=15)
    assert indexer.alive()


def test_recent_signatures_know_how_long_ago_each_was_seen():
    now = [100.0]
    recent = RecentSignatures(clock=lambda: now[0])
    recent.add("a")
    now[0] = 103.0
    recent.add("b")
    assert recent.seen_within("a", 5) and recent.seen_within("b", 5)
    now[0] = 105.5
    assert not recent.seen_within("a", 5) and recent.seen_within("b", 5)
    assert not recent.seen_within("never", 5)
    recent.add("a")  # seen again: the clock starts over
    assert recent.seen_within("a", 5)
