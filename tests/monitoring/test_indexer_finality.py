"""monitoring.indexer.finality: rows become `finalized` once the chain finalizes them; a row
whose transaction the chain does not know although its slot is finalized is rolled back and its
vault re-read from the chain."""
import secrets

import pytest
from django.utils import timezone
from solders.signature import Signature

from monitoring.indexer.finality import run_finalization_pass
from monitoring.indexer.store import cursor_name, index_transaction
from monitoring.models import IndexedEvent, IndexerCursor
from tests.localnet import seq_base
from tests.monitoring.indexer_support import chain, start_cursor_at_chain_head, vault_user, wait_until  # noqa: F401
from vaults.models import Transaction, Vault

pytestmark = [pytest.mark.localnet, pytest.mark.django_db(transaction=True)]


def _finalized(chain, slot):
    return chain.get_finalized_slot() >= slot


def test_rows_become_finalized_once_the_chain_finalizes_them(chain, vault_user):
    start_cursor_at_chain_head(chain)
    user = vault_user()
    signatures = [user.open_vault(), user.deposit(42)]
    results = [index_transaction(chain, s, source="test") for s in signatures]
    assert set(Transaction.objects.filter(signature__in=signatures).values_list("status", flat=True)) == {"confirmed"}

    wait_until(lambda: _finalized(chain, max(r.slot for r in results)), 30, 0.2, "the chain to finalize the deposit")
    counts = run_finalization_pass(chain)

    assert (counts["finalized"], counts["rolled_back"], counts["pending"]) == (2, 0, 0)
    assert set(Transaction.objects.filter(signature__in=signatures).values_list("status", flat=True)) == {"finalized"}
    assert IndexerCursor.objects.get(name=cursor_name(chain)).finalized_slot == counts["finalized_slot"]
    assert run_finalization_pass(chain)["finalized"] == 0  # nothing left to do


def test_a_row_the_chain_no_longer_knows_is_rolled_back(chain, vault_user):
    start_cursor_at_chain_head(chain)
    user = vault_user()
    results = [index_transaction(chain, s, source="test") for s in (user.open_vault(), user.deposit(1_000))]
    vault = Vault.objects.get(owner=user.owner)
    # A deposit of 500 seen at `confirmed` on a fork the cluster then abandoned: its signature
    # is one the chain never finalized, its slot one the chain has finalized since.
    base = seq_base(chain, user.owner)
    dropped = str(Signature(secrets.token_bytes(64)))
    slot = chain.get_finalized_slot()
    Transaction.objects.create(vault=vault, transaction_type="deposit", amount=500, signature=dropped, event_index=0,
                               event_seq=base + 3, slot=slot, timestamp=timezone.now())
    IndexedEvent.objects.create(signature=dropped, event_index=0, vault_address=user.vault, seq=base + 3,
                                generation=base >> 20, slot=slot)
    Vault.objects.filter(pk=vault.pk).update(total_balance=1_500, available_balance=1_500, event_seq=base + 3)
    IndexerCursor.objects.filter(name=cursor_name(chain)).update(last_signature=dropped, last_slot=slot)

    wait_until(lambda: _finalized(chain, results[-1].slot), 30, 0.2, "the chain to finalize the real deposit")
    counts = run_finalization_pass(chain)

    assert counts["rolled_back"] == 1
    assert not Transaction.objects.filter(signature=dropped).exists()
    assert not IndexedEvent.objects.filter(signature=dropped).exists()
    vault.refresh_from_db()
    assert (vault.total_balance, vault.available_balance, vault.event_seq) == (1_000, 1_000, base + 2)
    assert list(Transaction.objects.filter(vault=vault).order_by("event_seq").values_list("amount", "status")) == [
        (0, "finalized"), (1_000, "finalized")]
    # The cursor pointed at the dropped signature: it moves back to a stored one.
    assert IndexerCursor.objects.get(name=cursor_name(chain)).last_signature != dropped
