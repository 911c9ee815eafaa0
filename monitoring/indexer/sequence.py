"""Each vault's event sequence numbers, as the indexer has stored them (IndexedEvent).

The program numbers every vault's events 1, 2, 3, ... (`seq`); a vault closed and opened again
starts over at 1, so only the current generation (from the newest seq 1 on) counts.

Stored is not announced: an event goes out on the streams (and into replays) only once every
earlier seq of its vault is stored, so a subscriber never sees a hole it cannot trust, and a
replay mark never jumps past an event still on its way.
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


def announced_seq(vault_address: str) -> int:
    """The highest seq announced in the vault's current generation (0: none). Announcements
    are contiguous, so every seq up to it has been announced."""
    return _current_generation(vault_address).filter(announced=True).aggregate(seq=Max("seq"))["seq"] or 0


def ready_to_announce(vault_address: str) -> list[IndexedEvent]:
    """The stored, unannounced events that now continue the vault's announced sequence, in
    order: next seq after the announced one, then the next, until the first hole."""
    generation = _current_generation(vault_address)
    expected = (generation.filter(announced=True).aggregate(seq=Max("seq"))["seq"] or 0) + 1
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
