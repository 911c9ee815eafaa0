"""monitoring.indexer.sequence and the store's jump detection with vault program v2's numbering:
a vault's events run from `(generation << 20) + 1`, and a vault closed and created again at the
same address starts a new, higher run. Holes are looked for within the newest generation."""
import pytest

from monitoring.indexer.events import VaultSide
from monitoring.indexer.sequence import first_seq, last_seq, missing_seqs, vaults_with_gaps
from monitoring.indexer.store import NewEvent, _sequence_jumps
from monitoring.models import IndexedEvent

pytestmark = pytest.mark.django_db

VAULT = "V1111111111111111111111111111111111111111111"


def stored(generation, *positions, vault=VAULT):
    for n in positions:
        seq = first_seq(generation) + n - 1
        IndexedEvent.objects.create(signature=f"sig-{generation}-{n}", event_index=0, vault_address=vault, seq=seq,
                                    generation=generation, slot=generation + n)


def side(generation, position):
    return VaultSide("owner", VAULT, first_seq(generation) + position - 1, 0, 0, 0, generation)


def test_holes_are_counted_from_the_newest_generations_first_number():
    stored(40, 1, 2, 3, 4)  # a closed vault's whole life
    stored(77, 1, 3, 4)  # the vault created again later at the same address, event 2 missing
    assert missing_seqs(VAULT) == [first_seq(77) + 1]
    assert vaults_with_gaps() == {VAULT: [first_seq(77) + 1]}
    assert last_seq(VAULT) == first_seq(77) + 3
    # The numbers of one address only grow across generations.
    assert first_seq(77) > first_seq(40) + 3


def test_a_missing_first_event_of_a_generation_is_a_hole():
    stored(40, 1, 2)
    stored(77, 2, 3)
    assert missing_seqs(VAULT) == [first_seq(77)]


def test_v1_numbering_from_one_still_works():
    stored(0, 1, 2, 4)
    assert missing_seqs(VAULT) == [3]


def test_a_new_generation_starts_a_new_run_without_a_jump():
    previous = {VAULT: first_seq(40) + 9}
    assert _sequence_jumps([NewEvent(None, [side(77, 1)])], previous) == set()
    assert _sequence_jumps([NewEvent(None, [side(40, 11)])], previous) == set()
    # The new generation's event 2 without its event 1: a jump.
    assert _sequence_jumps([NewEvent(None, [side(77, 2)])], previous) == {VAULT}
    assert _sequence_jumps([NewEvent(None, [side(40, 12)])], previous) == {VAULT}
