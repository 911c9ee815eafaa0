"""Each vault's event sequence numbers, as the indexer has stored them (IndexedEvent).

Vault program v2 numbers a vault's events from `(generation << 20) + 1`, where the generation is
the slot the vault was created in: a vault closed and created again at the same address gets a
later generation and numbers above every earlier one, so `seq` only grows for one address. Only
the newest generation stored counts for holes and announcements. (Generation 0 is v1's
numbering, which started over at 1 when a vault was re-created: from the newest seq 1 on.)

Stored is not announced: an event goes out on the streams (and into replays) only once every
earlier seq of its vault's generation is stored, so a subscriber never sees a hole it cannot
trust, and a replay mark never jumps past an event still on its way.
"""
from __future__ import annotations

from django.db.models import Max

from monitoring.models import IndexedEvent

SEQ_GENERATION_SHIFT = 20


def first_seq(generation: int) -> int:
    """The number of the first event (VaultInitialized) of a vault generation."""
    return (generation << SEQ_GENERATION_SHIFT) + 1


def _current_generation(vault_address: str):
    """The vault's rows of its newest generation, and that generation's first number."""
    rows = IndexedEvent.objects.filter(vault_address=vault_address)
    generation = rows.aggregate(generation=Max("generation"))["generation"]
    if generation is None:
        return rows, 1
    rows = rows.filter(generation=generation)
    if generation == 0:
        start = rows.filter(seq=1).aggregate(slot=Max("slot"))["slot"]
        rows = rows if start is None else rows.filter(slot__gte=start)
    return rows, first_seq(generation)


def last_seq(vault_address: str) -> int | None:
    rows, _ = _current_generation(vault_address)
    return rows.aggregate(seq=Max("seq"))["seq"]


def announced_seq(vault_address: str) -> int:
    """The highest seq announced in the vault's current generation (0: none). Announcements
    are contiguous, so every seq of the generation up to it has been announced."""
    rows, _ = _current_generation(vault_address)
    return rows.filter(announced=True).aggregate(seq=Max("seq"))["seq"] or 0


def ready_to_announce(vault_address: str) -> list[IndexedEvent]:
    """The stored, unannounced events that now continue the vault's announced sequence, in
    order: next seq after the announced one (the generation's first when none is), then the
    next, until the first hole."""
    generation, first = _current_generation(vault_address)
    announced = generation.filter(announced=True).aggregate(seq=Max("seq"))["seq"]
    expected = first if announced is None else announced + 1
    ready = []
    for row in generation.filter(announced=False).order_by("seq", "id"):
        if row.seq < expected:
            continue  # a second record of an announced seq (cannot come from the program): never announced
        if row.seq != expected:
            break
        ready.append(row)
        expected += 1
    return ready


def missing_seqs(vault_address: str) -> list[int]:
    """The holes below the highest stored sequence number of the vault's newest generation."""
    rows, first = _current_generation(vault_address)
    seqs = set(rows.values_list("seq", flat=True))
    if not seqs:
        return []
    return sorted(set(range(first, max(seqs) + 1)) - seqs)


def vaults_with_gaps() -> dict[str, list[int]]:
    """Every vault with a hole (used when the indexer starts)."""
    addresses = IndexedEvent.objects.values_list("vault_address", flat=True).distinct()
    found = {address: missing_seqs(address) for address in addresses}
    return {address: missing for address, missing in found.items() if missing}
