"""The backfill behind the live stream: `getSignaturesForAddress` newest first back to the
stored cursor, then `getTransaction` oldest first, moving the cursor with each transaction's rows.

Whatever the stream drops, this finds: the cursor only ever covers signatures whose events are
stored, so a crash or restart resumes exactly where the database says."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

from django.db import transaction as db_transaction

from monitoring.indexer.store import advance_cursor, cursor_name, index_transaction, indexed_signatures, load_cursor
from vaults.chain.client import ChainClient, SignatureInfo

logger = logging.getLogger("monitoring.indexer")


@dataclass
class BackfillReport:
    seen: int = 0  # signatures newer than the cursor
    indexed: int = 0  # fetched and applied here
    new_events: int = 0
    gaps: set[str] = field(default_factory=set)
    indexed_signatures: list[SignatureInfo] = field(default_factory=list)


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


def backfill_program(chain: ChainClient, *, page_limit: int = 1000) -> BackfillReport:
    """One round: everything the program saw since the cursor, applied oldest first."""
    name = cursor_name(chain)
    cursor = load_cursor(name)
    pending = oldest_first(signatures_since(chain, chain.program_id, until=cursor.last_signature or None,
                                            page_limit=page_limit))
    report = BackfillReport(seen=len(pending))
    skipped: SignatureInfo | None = None  # newest signature passed over since the last write
    # One query for the lot: behind a busy live stream nearly all of them are stored already.
    known = indexed_signatures(info.signature for info in pending if not info.failed)
    for info in pending:
        if info.failed or info.signature in known:
            # Failed transactions change nothing; indexed ones (by the live stream) are stored.
            skipped = info
            continue
        result = index_transaction(chain, info.signature, source="backfill", cursor=name)
        skipped = None
        report.indexed += 1
        report.new_events += result.new_events
        report.gaps |= result.gaps
        report.indexed_signatures.append(info)
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
