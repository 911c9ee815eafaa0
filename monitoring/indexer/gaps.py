"""Gap repair: a vault whose stored sequence numbers have a hole gets a targeted backfill on
its own address (`getSignaturesForAddress(vault)`), walking back only as far as the hole.

Anyone can list a vault's address in a transaction, so that history holds strangers'
transactions: only those that ran the vault program are applied (and of those, only the events
the program itself emitted are read: ChainClient._decode_events). A hole exists only between
stored, attributed events, so no forged number can send this walk anywhere."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from monitoring.indexer.backfill import oldest_first, signatures_since
from monitoring.indexer.sequence import missing_seqs
from monitoring.indexer.store import index_transaction, is_indexed
from monitoring.models import IndexedEvent
from vaults.chain.client import ChainClient, SignatureInfo

logger = logging.getLogger("monitoring.indexer")


@dataclass(frozen=True)
class GapRepair:
    vault: str
    missing_before: list[int]
    indexed: int
    missing_after: list[int]


def fill_vault_gap(chain: ChainClient, vault_address: str, *, page_limit: int = 1000) -> GapRepair:
    missing = missing_seqs(vault_address)
    if not missing:
        return GapRepair(vault_address, [], 0, [])
    lowest = missing[0]

    def below_the_hole(info: SignatureInfo) -> bool:
        # History older than a stored event with a smaller seq is complete: stop walking there.
        seqs = IndexedEvent.objects.filter(signature=info.signature, vault_address=vault_address)
        return seqs.filter(seq__lt=lowest).exists()

    candidates = signatures_since(chain, vault_address, until=None, page_limit=page_limit, stop=below_the_hole)
    indexed = 0
    for info in oldest_first(candidates):
        if info.failed or is_indexed(info.signature):
            continue
        if index_transaction(chain, info.signature, source="gap").invoked:
            indexed += 1
    repair = GapRepair(vault_address, missing, indexed, missing_seqs(vault_address))
    log = logger.error if repair.missing_after else logger.info
    log("gap in vault %s: missing seq %s, %d transactions fetched, still missing %s", vault_address,
        _short(missing), indexed, _short(repair.missing_after))
    return repair


def _short(seqs: list[int]) -> str:
    return str(seqs) if len(seqs) <= 10 else f"{seqs[:10]}... ({len(seqs)})"


def catch_up_vault(chain: ChainClient, vault_address: str, *, page_limit: int = 1000) -> int:
    """Applies the vault's newest transactions the indexer has not stored yet (newest first back
    to the first one it has, then applied oldest first). Reconciliation calls it before calling
    a vault missing, or closed, against the chain: the indexer may simply not have stored the
    close (or the reopening) yet. Returns how many transactions that ran the program it applied."""
    candidates = signatures_since(chain, vault_address, until=None, page_limit=page_limit,
                                  stop=lambda info: is_indexed(info.signature))
    applied = 0
    for info in oldest_first(candidates):
        if not info.failed and index_transaction(chain, info.signature, source="catch-up").invoked:
            applied += 1
    return applied
