"""monitoring.indexer.backfill: everything since the cursor, oldest first, failed transactions
skipped, the cursor moved with the rows; a second round finds nothing."""
from concurrent.futures import ThreadPoolExecutor

import pytest

from monitoring.indexer.backfill import backfill_program, oldest_first
from monitoring.indexer.store import cursor_name, index_transaction
from monitoring.models import IndexedEvent, IndexerCursor
from tests.localnet import seq_base
from tests.monitoring.indexer_support import chain, start_cursor_at_chain_head, vault_user  # noqa: F401
from vaults.chain.client import SignatureInfo
from vaults.models import Transaction

pytestmark = [pytest.mark.localnet, pytest.mark.django_db(transaction=True)]


def test_oldest_first_orders_by_slot_and_keeps_block_order():
    newest_first = [SignatureInfo("c", 7, False, None), SignatureInfo("b2", 5, False, None),
                    SignatureInfo("b1", 5, False, None), SignatureInfo("a", 3, False, None)]
    assert [i.signature for i in oldest_first(newest_first)] == ["a", "b1", "b2", "c"]


class CountingPool(ThreadPoolExecutor):
    """A real thread pool that counts what it was given."""

    def __init__(self):
        super().__init__(4)
        self.submitted = 0

    def submit(self, fn, *args, **kwargs):
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


@pytest.mark.parametrize("read_ahead", [False, True], ids=["one-by-one", "read-ahead"])
def test_backfill_applies_everything_since_the_cursor_oldest_first(chain, vault_user, read_ahead):
    pool = CountingPool() if read_ahead else None
    start_cursor_at_chain_head(chain)
    user = vault_user(tokens=10_000_000)
    signatures = [user.open_vault()] + [user.deposit(amount) for amount in (1_000, 2_000, 3_000)]
    # A withdrawal beyond the balance fails on chain: listed by getSignaturesForAddress, skipped.
    failed = user.send_unsimulated([chain.withdraw_instruction(user.owner, 10**12, user.token_account)])
    with pytest.raises(Exception):
        user.confirm(failed)
    last = user.deposit(4_000)

    report = backfill_program(chain, page_limit=2, fetch_pool=pool)  # small pages: the walk pages with `before`

    assert (report.seen, report.indexed, report.new_events) == (6, 5, 5)
    if pool is not None:
        assert pool.submitted == 5  # every transaction it applied was read ahead; the failed one was not
        pool.shutdown()
    rows = Transaction.objects.filter(vault__owner=user.owner).order_by("event_seq")
    base = seq_base(chain, user.owner)
    assert [(r.transaction_type, r.amount, r.event_seq - base) for r in rows] == [
        ("initialize", 0, 1), ("deposit", 1_000, 2), ("deposit", 2_000, 3), ("deposit", 3_000, 4), ("deposit", 4_000, 5)]
    assert [r.signature for r in rows] == signatures + [last]
    assert not Transaction.objects.filter(signature=failed.signature).exists()
    cursor = IndexerCursor.objects.get(name=cursor_name(chain))
    assert cursor.last_signature == last
    assert backfill_program(chain).seen == 0


def test_backfill_skips_what_the_live_path_already_applied_and_moves_past_it(chain, vault_user):
    start_cursor_at_chain_head(chain)
    user = vault_user()
    opened = user.open_vault()
    live = user.deposit(9_000)
    index_transaction(chain, live, source="live")  # no cursor: only the backfill moves it

    report = backfill_program(chain)

    assert (report.seen, report.indexed) == (2, 1)
    assert [s.signature for s in report.indexed_signatures] == [opened]
    assert IndexedEvent.objects.filter(vault_address=user.vault).count() == 2
    assert IndexerCursor.objects.get(name=cursor_name(chain)).last_signature == live


def test_a_round_leaves_what_the_live_path_is_about_to_apply_and_the_next_round_takes_it(chain, vault_user):
    start_cursor_at_chain_head(chain)
    user = vault_user()
    opened = user.open_vault()
    announced = user.deposit(5_000)
    after = user.deposit(6_000)

    pool = CountingPool()
    report = backfill_program(chain, fetch_pool=pool, defer=lambda signature: signature == announced)
    pool.shutdown()

    assert (report.seen, report.indexed, report.deferred) == (3, 1, 2)
    assert pool.submitted == 1  # nothing read ahead past the deferred one: the pool is the live path's too
    assert [s.signature for s in report.indexed_signatures] == [opened]  # nothing after it either: in order
    assert IndexerCursor.objects.get(name=cursor_name(chain)).last_signature == opened
    assert not Transaction.objects.filter(signature__in=[announced, after]).exists()

    report = backfill_program(chain)  # no longer deferred (stored by then, or left too long)
    assert [s.signature for s in report.indexed_signatures] == [announced, after]
    assert IndexerCursor.objects.get(name=cursor_name(chain)).last_signature == after
