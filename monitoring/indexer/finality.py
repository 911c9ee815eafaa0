"""The finalization pass: rows arrive `confirmed`; once the chain has finalized their slot they
become `finalized`, or, if the chain no longer knows their transaction (its fork was dropped),
they are deleted and the vaults they touched are re-read from the chain.

`run_finalization_pass()` is a plain function: the indexer's loop calls it, and so may a Celery
job. It only acts on slots the chain has finalized, so a slow node never rolls back a row that is
merely young."""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from django.core.cache import cache
from django.db import transaction as db_transaction

from monitoring import streams
from monitoring.indexer.store import cursor_name
from monitoring.models import IndexedEvent, IndexerCursor
from vaults.cache_keys import TVL_KEY, balance_key
from vaults.chain.client import ChainClient, SignatureStatus, VaultAccount, get_chain_client
from vaults.models import Transaction, Vault
from vaults.services.chain_identity import history_start_slot

logger = logging.getLogger("monitoring.indexer")

DEFAULT_BATCH = 5000  # confirmed signatures examined per pass (oldest first)


@dataclass
class FinalityReport:
    finalized: int = 0  # signatures whose rows became `finalized`
    rolled_back: int = 0  # signatures whose rows were deleted
    pending: int = 0  # still only confirmed
    finalized_slot: int = 0


def run_finalization_pass(chain: ChainClient | None = None, *, batch: int = DEFAULT_BATCH) -> dict:
    """Returns the counts: finalized, rolled_back, pending, finalized_slot."""
    chain = chain or get_chain_client()
    # The finalized slot first: any status read after it is at least as new.
    finalized_slot = chain.get_finalized_slot()
    candidates = _confirmed_signatures(batch)
    statuses = chain.get_signature_statuses(list(candidates)) if candidates else []
    report = FinalityReport(finalized_slot=finalized_slot)
    history_from = history_start_slot()
    final, dropped = [], []
    for (signature, slot), status in zip(candidates.items(), statuses):
        if _is_final(status):
            final.append(signature)
        elif status is None and slot < history_from:
            # A restored local chain holds no history before `history_from`: the chain cannot
            # answer for this row, but its state, restored whole, already carries it.
            final.append(signature)
        elif slot <= finalized_slot and (status is None or status.failed):
            dropped.append(signature)
        else:
            report.pending += 1
    with db_transaction.atomic():
        Transaction.objects.filter(signature__in=final, status=Transaction.Status.CONFIRMED).update(
            status=Transaction.Status.FINALIZED)
        IndexerCursor.objects.filter(name=cursor_name(chain)).update(finalized_slot=finalized_slot)
    report.finalized = len(final)
    for signature in dropped:
        roll_back_transaction(chain, signature)
    report.rolled_back = len(dropped)
    if final or dropped:
        logger.info("finalization pass: %s", asdict(report))
    return asdict(report)


def _confirmed_signatures(batch: int) -> dict[str, int]:
    """signature -> slot of the oldest rows still `confirmed`."""
    rows = (Transaction.objects.filter(status=Transaction.Status.CONFIRMED)
            .values_list("signature", "slot").order_by("slot").distinct()[:batch])
    return dict(rows)


def _is_final(status: SignatureStatus | None) -> bool:
    return status is not None and not status.failed and status.confirmation_status == "finalized"


def roll_back_transaction(chain: ChainClient, signature: str) -> list[str]:
    """Deletes a dropped transaction's rows and re-syncs the vaults it touched from the chain,
    in one database transaction. Returns the owners re-synced."""
    rows = Transaction.objects.filter(signature=signature).select_related("vault", "counterparty_vault")
    owners = {row.vault.owner for row in rows} | {row.counterparty_vault.owner for row in rows if row.counterparty_vault}
    addresses = set(IndexedEvent.objects.filter(signature=signature).values_list("vault_address", flat=True))
    owners |= set(Vault.objects.filter(address__in=addresses).values_list("owner", flat=True))
    states = {owner: chain.get_vault(owner) for owner in sorted(owners)}  # before the DB transaction
    with db_transaction.atomic():
        Transaction.objects.filter(signature=signature).delete()
        IndexedEvent.objects.filter(signature=signature).delete()
        vaults = [_resync_vault(owner, states[owner]) for owner in sorted(owners)]
        _rewind_cursor_past(chain, signature)
        now = datetime.now(tz=timezone.utc)
        streams.publish_on_commit([
            streams.balance_update(vault=v.address, owner=v.owner, total_balance=v.total_balance,
                                   locked_balance=v.locked_balance, available_balance=v.available_balance,
                                   timestamp=now, seq=v.event_seq, slot=v.last_synced_slot)
            for v in vaults
        ])
        db_transaction.on_commit(lambda: _invalidate_caches(sorted(owners)))
    logger.warning("rolled back %s: the chain finalized past it without knowing it; re-synced %s", signature,
                   sorted(owners))
    return sorted(owners)


def _resync_vault(owner: str, state: VaultAccount | None) -> Vault:
    """Unlike the ledger's sync this may move backwards: the dropped event had moved it forward."""
    vault = Vault.objects.select_for_update().get(owner=owner)
    if state is None:
        vault.total_balance = vault.locked_balance = vault.available_balance = 0
        vault.is_closed = True
    else:
        for name in ("total_balance", "locked_balance", "available_balance", "total_deposited", "total_withdrawn",
                     "event_seq"):
            setattr(vault, name, getattr(state, name))
        vault.is_closed = False
    vault.save()
    return vault


def _rewind_cursor_past(chain: ChainClient, signature: str) -> None:
    """A cursor on a dropped signature would make `until` meaningless: move it back to the
    newest event still stored (the next backfill re-reads from there, idempotently)."""
    cursor = IndexerCursor.objects.select_for_update().filter(name=cursor_name(chain), last_signature=signature).first()
    if cursor is None:
        return
    newest = IndexedEvent.objects.order_by("-slot", "-id").first()
    cursor.last_signature = newest.signature if newest else ""
    cursor.last_slot = newest.slot if newest else 0
    cursor.save()


def _invalidate_caches(owners):
    cache.delete_many([balance_key(o) for o in owners] + [TVL_KEY])
