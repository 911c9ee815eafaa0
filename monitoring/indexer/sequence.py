"""Each vault's event sequence numbers, as the indexer has stored them (IndexedEvent).

The program numbers every vault's events 1, 2, 3, ... (`seq`); a vault closed and opened again
starts over at 1, so only the current generation (from the newest seq 1 on) counts.
"""
from __future__ import annotations

from django.db.models import Max

from monitoring.models import IndexedEvent


def _current_generation(vault_address: str):
    rows = IndexedEvent.objects.filter(vault_address=vault_address)
    start = rows.filter(seq=1).aggregate(slot=Max("slot"))["slot"]
    return rows if start is None else rows.filter(slot__gte=start)


def last_seq(vault_address: str) -> int | None:
    return _current_generation(vault_address).aggregate(seq=Max("seq"))["seq"]


def missing_seqs(vault_address: str) -> list[int]:
    """The holes below the highest stored sequence number."""
    seqs = set(_current_generation(vault_address).values_list("seq", flat=True))
    if not seqs:
        return []
    return sorted(set(range(1, max(seqs) + 1)) - seqs)


def vaults_with_gaps() -> dict[str, list[int]]:
    """Every vault with a hole (used when the indexer starts)."""
    addresses = IndexedEvent.objects.values_list("vault_address", flat=True).distinct()
    found = {address: missing_seqs(address) for address in addresses}
    return {address: missing for address, missing in found.items() if missing}
