"""Applies one confirmed transaction: the ledger rows (vaults.services.ledger), the indexer's
own event record, the cursor and the live messages, in ONE database transaction. A crash
before the commit leaves nothing; after it, everything, and a rerun changes nothing."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db import transaction as db_transaction

from monitoring import streams
from monitoring.indexer.events import event_owners, vault_events, vault_sides
from monitoring.indexer.sequence import first_seq, last_seq, ready_to_announce
from monitoring.models import IndexedEvent, IndexerCursor
from vaults.chain.client import ChainClient, ChainError, ConfirmedTransaction, VaultAccount
from vaults.models import Transaction
from vaults.services.ledger import lock_vault_rows, store_events

logger = logging.getLogger("monitoring.indexer")


class TransactionNotVisible(ChainError):
    """The node listed or announced a signature but getTransaction does not return it (yet)."""


@dataclass
class IndexResult:
    signature: str
    slot: int
    new_events: int = 0
    gaps: set[str] = field(default_factory=set)  # vault addresses whose sequence jumped
    invoked: bool = True  # the transaction ran the vault program (others are never applied)


def cursor_name(chain: ChainClient) -> str:
    return f"program:{chain.program_id}"


def load_cursor(name: str) -> IndexerCursor:
    return IndexerCursor.objects.get_or_create(name=name)[0]


def advance_cursor(name: str, signature: str, slot: int) -> None:
    """Inside the caller's transaction: the cursor moves together with the rows it covers."""
    IndexerCursor.objects.update_or_create(name=name, defaults={"last_signature": signature, "last_slot": slot})


def is_indexed(signature: str) -> bool:
    return IndexedEvent.objects.filter(signature=signature).exists()


def indexed_signatures(signatures) -> set[str]:
    return set(IndexedEvent.objects.filter(signature__in=list(signatures)).values_list("signature", flat=True))


def read_transaction(chain: ChainClient, signature: str) -> ConfirmedTransaction:
    """getTransaction, decoded: no database work, so several can run at once (threads)."""
    confirmed = chain.get_transaction(signature)
    if confirmed is None:
        raise TransactionNotVisible(f"getTransaction({signature}) returned nothing")
    return confirmed


def apply_transactions(chain: ChainClient, transactions: list[ConfirmedTransaction], *,
                       source: str) -> list[IndexResult | Exception]:
    """Applies several transactions, in the order given, in ONE database transaction (one commit
    for the lot; each in a savepoint of its own, so one that fails leaves the others standing and
    is returned as its exception). Every vault they touch is read before, in one
    getMultipleAccounts: each state is at least as new as every transaction of the lot, and
    the ledger never moves a vault row backwards (vaults.services.ledger._sync_vault)."""
    touched = {tx.signature: vault_events(tx.events) for tx in transactions if tx.invokes_vault_program}
    states = chain.get_vaults(sorted({owner for events in touched.values() for owner in event_owners(events)}))
    results: list[IndexResult | Exception] = []
    with db_transaction.atomic():
        lock_vault_rows(states)  # all of the lot's at once, in key order
        for confirmed in transactions:
            try:
                if confirmed.signature not in touched:
                    results.append(IndexResult(confirmed.signature, confirmed.slot, invoked=False))
                    continue
                events = touched[confirmed.signature]
                mine = {owner: states[owner] for owner in event_owners(events)}
                results.append(apply_transaction(confirmed, events, mine, source=source))
            except Exception as exc:  # noqa: BLE001 - its savepoint is rolled back; the backfill retries it
                results.append(exc)
    return results


def index_transaction(chain: ChainClient, signature: str, *, source: str, cursor: str | None = None,
                      confirmed: ConfirmedTransaction | None = None) -> IndexResult:
    """Fetches (unless `confirmed` is that transaction, read already), decodes (only what the
    vault program itself emitted: see ChainClient._decode_events) and applies one transaction.
    Failed transactions, and those that never ran the vault program, store nothing but still move
    the cursor."""
    if confirmed is None or confirmed.signature != signature:
        confirmed = read_transaction(chain, signature)
    if not confirmed.invokes_vault_program:
        # Merely listing the program or a vault (as a forger does) makes a transaction show up in
        # their signature lists; it can hold nothing of ours. Only the cursor moves past it.
        if cursor:
            with db_transaction.atomic():
                advance_cursor(cursor, confirmed.signature, confirmed.slot)
        return IndexResult(confirmed.signature, confirmed.slot, invoked=False)
    events = vault_events(confirmed.events)  # [] for a failed transaction
    # Chain reads happen before the database transaction opens: no RPC round trips under locks.
    states = {owner: chain.get_vault(owner) for owner in event_owners(events)}
    return apply_transaction(confirmed, events, states, source=source, cursor=cursor)


def apply_transaction(confirmed: ConfirmedTransaction, events, states: dict[str, VaultAccount | None], *,
                      source: str, cursor: str | None = None) -> IndexResult:
    result = IndexResult(confirmed.signature, confirmed.slot)
    with db_transaction.atomic():
        if events:
            store_events(confirmed, events, states)  # locks the touched vault rows until commit
            # The ledger refuses events it cannot tie to a vault (see ledger._sync_vault): only the
            # events it holds a row for are the indexer's.
            stored = set(Transaction.objects.filter(signature=confirmed.signature).values_list("event_index", flat=True))
            events = [e for e in events if e.index in stored]
        new_events, previous = _record_new_events(confirmed, events)
        result.new_events = len(new_events)
        result.gaps = _sequence_jumps(new_events, previous)
        if cursor:
            advance_cursor(cursor, confirmed.signature, confirmed.slot)
        streams.publish_on_commit(announce_ready(sorted({side.vault for item in new_events for side in item.sides})))
        names = [new.event.name for new in new_events]
        db_transaction.on_commit(lambda: _count_indexed(names, confirmed.block_time))
    if new_events or source != "backfill":
        logger.info("indexed %s via %s: %d new events, slot %d", confirmed.signature, source, result.new_events,
                    confirmed.slot)
    return result


@dataclass(frozen=True)
class NewEvent:
    event: object  # ProgramEvent
    sides: list  # the VaultSides not indexed before


def _record_new_events(confirmed: ConfirmedTransaction, events) -> tuple[list[NewEvent], dict[str, int | None]]:
    """Inserts the IndexedEvent rows this transaction lacks, unannounced. Returns the events that
    were new to the indexer and each touched vault's last seq before them. A concurrent writer
    makes the insert fail and the whole transaction roll back: never double."""
    existing = set(IndexedEvent.objects.filter(signature=confirmed.signature).values_list("event_index", "vault_address"))
    new = []
    for event in events:
        sides = [s for s in vault_sides(event) if (event.index, s.vault) not in existing]
        if sides:
            new.append(NewEvent(event, sides))
    previous = {side.vault: last_seq(side.vault) for item in new for side in item.sides}
    IndexedEvent.objects.bulk_create([
        IndexedEvent(signature=confirmed.signature, event_index=item.event.index, vault_address=side.vault,
                     seq=side.seq, generation=side.generation, slot=confirmed.slot, total_balance=side.total_balance,
                     locked_balance=side.locked_balance, available_balance=side.available_balance)
        for item in new for side in item.sides
    ])
    return new, previous


def _sequence_jumps(new_events: list[NewEvent], previous: dict[str, int | None]) -> set[str]:
    """Vaults where an event's seq skipped past the last stored one + 1: something between them
    was missed (or is still on its way); gaps.py decides which. A vault generation's first event
    starts a new run (v2: `(generation << 20) + 1`; v1: 1)."""
    jumps = set()
    last = dict(previous)
    for item in new_events:
        for side in item.sides:
            before = last.get(side.vault)
            starts_generation = side.seq == first_seq(side.generation) or side.seq == 1
            if not starts_generation and (before is None or side.seq > before + 1):
                jumps.add(side.vault)
            last[side.vault] = side.seq if before is None or starts_generation else max(before, side.seq)
    return jumps


def announce_ready(vault_addresses) -> list[dict]:
    """Inside the caller's transaction (the vault rows are locked): marks as announced every
    stored event that now continues its vault's announced sequence, and returns their messages
    (built from the stored rows, exactly as a replay builds them), each vault's closed by a
    balance_update with the balances after its last announced event. An event after a hole waits
    here until the gap repair stores what is missing; then it goes out, in order."""
    messages = []
    for vault in vault_addresses:
        ready = ready_to_announce(vault)
        if not ready:
            continue
        rows = {
            (row.signature, row.event_index): row
            for row in Transaction.objects.filter(signature__in={r.signature for r in ready})
            .select_related("vault", "counterparty_vault")
        }
        for item in ready:
            row = rows[(item.signature, item.event_index)]
            incoming = row.vault.address != vault
            message = streams.message_for_transaction(row, receiver_seq=item.seq if incoming else None)
            if message is not None:
                messages.append(message)
        last = ready[-1]
        last_row = rows[(last.signature, last.event_index)]
        owner = last_row.counterparty_vault.owner if last_row.vault.address != vault else last_row.vault.owner
        if last.total_balance is not None:
            messages.append(streams.balance_update(
                vault=vault, owner=owner, total_balance=int(last.total_balance),
                locked_balance=int(last.locked_balance), available_balance=int(last.available_balance),
                timestamp=last_row.timestamp, seq=last.seq, slot=last.slot))
        IndexedEvent.objects.filter(pk__in=[r.pk for r in ready]).update(announced=True)
    return messages


def _count_indexed(event_names: list[str], block_time: int | None) -> None:
    """Events per second and confirmation-to-database delay, for /metrics (console/metrics.py)."""
    try:
        from console.metrics import count_indexed_events

        count_indexed_events(event_names, block_time)
    except Exception:  # noqa: BLE001 - metrics never fail indexing
        logger.debug("indexer metrics failed", exc_info=True)
