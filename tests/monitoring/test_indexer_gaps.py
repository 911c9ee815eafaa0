"""monitoring.indexer.gaps (and .sequence): a jump in a vault's sequence numbers is noticed when
the event is stored, and a targeted backfill on the vault's address fills the hole."""
import pytest

from monitoring.indexer.gaps import fill_vault_gap
from monitoring.indexer.runner import Indexer, IndexerOptions
from monitoring.indexer.sequence import missing_seqs, vaults_with_gaps
from monitoring.indexer.store import cursor_name, index_transaction
from monitoring.models import IndexedEvent, IndexerCursor
from tests.localnet import seq_base
from tests.monitoring.indexer_support import chain, start_cursor_at_chain_head, vault_user  # noqa: F401
from vaults.models import Transaction

pytestmark = [pytest.mark.localnet, pytest.mark.django_db(transaction=True)]


def _skip_program_cursor_to(chain, signature):
    """As if the program-wide backfill had passed these signatures: only the vault's own
    sequence can reveal what is missing."""
    IndexerCursor.objects.update_or_create(name=cursor_name(chain), defaults={"last_signature": signature})


def test_a_sequence_jump_is_detected_and_filled_from_the_vaults_address(chain, vault_user):
    start_cursor_at_chain_head(chain)
    user = vault_user()
    signatures = [user.open_vault()] + [user.deposit(amount) for amount in (100, 200, 300)]
    _skip_program_cursor_to(chain, signatures[-1])

    result = index_transaction(chain, signatures[-1], source="live")

    assert result.gaps == {user.vault}
    base = seq_base(chain, user.owner)
    assert missing_seqs(user.vault) == [base + 1, base + 2, base + 3]
    repair = fill_vault_gap(chain, user.vault, page_limit=2)
    assert (repair.missing_before, repair.indexed, repair.missing_after) == ([base + 1, base + 2, base + 3], 3, [])
    rows = Transaction.objects.filter(vault__owner=user.owner).order_by("event_seq")
    assert [(r.event_seq - base, r.amount, r.signature) for r in rows] == [
        (1, 0, signatures[0]), (2, 100, signatures[1]), (3, 200, signatures[2]), (4, 300, signatures[3])]


def test_in_order_events_raise_no_gap(chain, vault_user):
    start_cursor_at_chain_head(chain)
    user = vault_user()
    results = [index_transaction(chain, s, source="live") for s in (user.open_vault(), user.deposit(5), user.deposit(6))]
    assert [r.gaps for r in results] == [set(), set(), set()]


def test_a_hole_found_at_startup_is_repaired_by_the_next_round(chain, vault_user):
    """A restart from any point ends at the same state: here events 2 and 3 of a vault are lost
    from the database (deleted by hand) while the cursor is past them."""
    start_cursor_at_chain_head(chain)
    user = vault_user()
    signatures = [user.open_vault()] + [user.deposit(amount) for amount in (10, 20, 30)]
    indexer = Indexer(chain, IndexerOptions(finality_seconds=3600))
    indexer.run_round()
    before = sorted(Transaction.objects.filter(vault__owner=user.owner).values_list("signature", "event_seq", "amount"))
    Transaction.objects.filter(signature__in=signatures[1:3]).delete()
    IndexedEvent.objects.filter(signature__in=signatures[1:3]).delete()
    base = seq_base(chain, user.owner)
    assert vaults_with_gaps() == {user.vault: [base + 2, base + 3]}

    restarted = Indexer(chain, IndexerOptions(finality_seconds=3600))
    restarted.find_existing_gaps()
    report = restarted.run_round()

    assert report.backfill.seen == 0  # the program cursor had nothing new: the vault's sequence found it
    assert report.gaps_repaired == [user.vault]
    after = sorted(Transaction.objects.filter(vault__owner=user.owner).values_list("signature", "event_seq", "amount"))
    assert after == before and len(after) == 4
    assert vaults_with_gaps() == {}
