"""The backfill behind the live stream: `getSignaturesForAddress` newest first back to the
stored cursor, then `getTransaction` oldest first, moving the cursor with each transaction's rows.

Whatever the stream drops, this finds: the cursor only ever covers signatures whose events are
stored, so a crash or restart resumes exactly where the database says."""
from __future__ import annotations

import logging
from collections import deque
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Callable

from django.db import transaction as db_transaction

from monitoring.indexer.store import (
    advance_cursor,
    cursor_name,
    index_transaction,
    indexed_signatures,
    load_cursor,
    read_transaction,
)
from vaults.chain.client import ChainClient, ConfirmedTransaction, SignatureInfo

logger = logging.getLogger("monitoring.indexer")


@dataclass
class BackfillReport:
    seen: int = 0  # signatures newer than the cursor
    indexed: int = 0  # fetched and applied here
    new_events: int = 0
    gaps: set[str] = field(default_factory=set)
    indexed_signatures: list[SignatureInfo] = field(default_factory=list)
    deferred: int = 0  # signatures left to the next round (see `defer`)


def signatures_since(chain: ChainClient, address, *, until: str | None, page_limit: int,
                     stop: Callable[[SignatureInfo], bool] | None = None) -> list[SignatureInfo]:
    """All signatures newer than `until` (everything when None), paging back with `before`;
    `stop` ends the walk early at the first signature it accepts. Newest first."""
    found: list[SignatureInfo] = []
    before = None
    while True:
        page = chain.get_signatures_for_address(address, before=before, until=until, limit=page_limit)
        for info in page:
            if stop is not None and stop(info):
                return found
            found.append(info)
        if len(page) < page_limit:
            return found
        before = page[-1].signature


def oldest_first(signatures: list[SignatureInfo]) -> list[SignatureInfo]:
    """Newest-first pages reversed, then stably by slot: the order the chain applied them."""
    return sorted(reversed(signatures), key=lambda info: info.slot)


class ReadAhead:
    """getTransaction for the next `depth` signatures of a round, on `pool`, while the one before
    them is applied: a round behind a busy stream holds the live path up (they share one thread)
    for a round trip per transaction less. Without a pool, nothing is read ahead."""

    def __init__(self, chain: ChainClient, signatures: list[str], pool: Executor | None, depth: int = 16):
        self.chain, self.pool, self.depth = chain, pool, depth
        self.waiting = deque(signatures)
        self.reads: dict[str, Future] = {}
        self._fill()

    def _fill(self) -> None:
        while self.pool is not None and self.waiting and len(self.reads) < self.depth:
            signature = self.waiting.popleft()
            try:
                self.reads[signature] = self.pool.submit(read_transaction, self.chain, signature)
            except RuntimeError:  # the pool is shutting down (the indexer is stopping): read in turn
                self.pool = None

    def close(self) -> None:
        """Reads not started are dropped: the pool is the live path's too."""
        self.waiting.clear()
        for read in self.reads.values():
            read.cancel()
        self.reads.clear()

    def take(self, signature: str) -> ConfirmedTransaction | None:
        """The transaction read ahead, or None (not read ahead, or the read failed: the caller
        reads it again and meets the failure itself)."""
        read = self.reads.pop(signature, None)
        self._fill()
        if read is None:
            return None
        try:
            return read.result()
        except Exception:  # noqa: BLE001 - read again by index_transaction, which reports it
            return None


def backfill_program(chain: ChainClient, *, page_limit: int = 1000, fetch_pool: Executor | None = None,
                     defer: Callable[[str], bool] | None = None) -> BackfillReport:
    """One round: everything the program saw since the cursor, applied oldest first (read ahead
    on `fetch_pool`, when given). The round ends early at the first transaction not stored yet
    that `defer` leaves to someone else (the live path applying what it just announced); the
    cursor stays before it, so the next round sees it again if it is still not stored."""
    name = cursor_name(chain)
    cursor = load_cursor(name)
    pending = oldest_first(signatures_since(chain, chain.program_id, until=cursor.last_signature or None,
                                            page_limit=page_limit))
    report = BackfillReport(seen=len(pending))
    skipped: SignatureInfo | None = None  # newest signature passed over since the last write
    # One query for the lot: behind a busy live stream nearly all of them are stored already.
    known = indexed_signatures(info.signature for info in pending if not info.failed)

    def unstored(info: SignatureInfo) -> bool:
        return not info.failed and info.signature not in known

    # The round ends at the first unstored transaction `defer` leaves to someone else.
    end = next((i for i, info in enumerate(pending) if defer is not None and unstored(info) and defer(info.signature)),
               len(pending))
    report.deferred = len(pending) - end
    ahead = ReadAhead(chain, [info.signature for info in pending[:end] if unstored(info)], fetch_pool)
    try:
        for info in pending[:end]:
            if not unstored(info):
                # Failed transactions change nothing; indexed ones (by the live stream) are stored.
                skipped = info
                continue
            result = index_transaction(chain, info.signature, source="backfill", cursor=name,
                                       confirmed=ahead.take(info.signature))
            skipped = None
            report.indexed += 1
            report.new_events += result.new_events
            report.gaps |= result.gaps
            report.indexed_signatures.append(info)
    finally:
        ahead.close()
    if skipped is not None:
        with db_transaction.atomic():
            advance_cursor(name, skipped.signature, skipped.slot)
    if report.indexed:
        logger.info("backfill: %d signatures since the cursor, %d applied, %d new events", report.seen,
                    report.indexed, report.new_events)
    return report


def run_backfill_once() -> dict:
    """The Celery safety net's entry point (monitoring.tasks.backfill): one backfill round with
    the configured page size, then repair of any sequence gap it saw. Safe beside a running
    indexer: every write is keyed on (signature, event index)."""
    from django.conf import settings

    from monitoring.indexer.gaps import fill_vault_gap
    from vaults.chain.client import get_chain_client

    chain = get_chain_client()
    page_limit = settings.INDEXER_SIGNATURE_PAGE_LIMIT
    report = backfill_program(chain, page_limit=page_limit)
    repairs = [fill_vault_gap(chain, vault, page_limit=page_limit) for vault in sorted(report.gaps)]
    return {
        "seen": report.seen,
        "indexed": report.indexed,
        "new_events": report.new_events,
        "gaps_repaired": sum(1 for repair in repairs if repair.indexed),
    }
