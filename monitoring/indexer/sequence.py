"""Each vault's event sequence numbers, as the indexer has stored them (IndexedEvent).

Vault program v2 numbers a vault's events from `(generation << 20) + 1`, where the generation is
the slot the vault was created in: a vault closed and created again at the same address gets a
later generation and numbers above every earlier one, so `seq` only grows for one address.
Holes are looked for within the newest generation stored (generation 0 is v1's numbering from 1).
"""
from __future__ import annotations

from django.db.models import Max

from monitoring.models import IndexedEvent

SEQ_GENERATION_SHIFT = 20


def first_seq(generation: int) -> int:
    """The number of the first event (VaultInitialized) of a vault generation."""
    return (generation << SEQ_GENERATION_SHIFT) + 1


def _current_generation(vault_address: str):
    rows = IndexedEvent.objects.filter(vault_address=vault_address)
    generation = rows.aggregate(generation=Max("generation"))["generation"]
    if generation is None:
        return rows, 1
    rows = rows.filter(generation=generation)
    if generation == 0:
        # v1 numbering restarted at 1 when a vault was re-created: from the newest 1 on.
        start = rows.filter(seq=1).aggregate(slot=Max("slot"))["slot"]
        rows = rows if start is None else rows.filter(slot__gte=start)
    return rows, first_seq(generation)


def last_seq(vault_address: str) -> int | None:
    return IndexedEvent.objects.filter(vault_address=vault_address).aggregate(seq=Max("seq"))["seq"]


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
