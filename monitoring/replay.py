"""What a reconnecting client missed, read back from the database (sync: call through
database_sync_to_async).

A vault's events are replayed from its `transactions` rows with `event_seq > last_seq`, in
sequence order, as the same messages the live stream carries (built by `monitoring.streams`),
followed by one `balance_update` with the vault's stored state. Only what the indexer has
*announced* is replayed (`announced_seq`: the vault's events are announced in sequence order,
never past a hole), so a replay never hands a client a seq that would make it drop an earlier
event still on its way. Rows are announced in the transaction that commits them and published
after the commit, so a subscriber that joins its group *before* reading here misses nothing:
what committed before the read is in the replay, what commits after it arrives live (see
`monitoring.consumers` for dropping the overlap).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from monitoring import streams
from monitoring.indexer.sequence import announced_seq
from monitoring.models import IndexedEvent
from vaults.models import Transaction, Vault


class ReplayTooLarge(Exception):
    def __init__(self, missed_at_least: int, limit: int):
        super().__init__(f"more than {limit} events missed")
        self.missed_at_least = missed_at_least
        self.limit = limit


@dataclass
class Replay:
    vault: str | None  # the vault address (None: no such vault stored yet)
    messages: list[dict] = field(default_factory=list)
    last_event_seq: int | None = None  # the highest seq among replayed events
    balance_seq: int | None = None  # the seq of the closing balance_update
    announced_seq: int = 0  # the highest seq the stream has carried for this vault
    from_seq: int = 0  # replayed from after this seq (the client's, unless it was beyond announced_seq)

    @property
    def event_count(self) -> int:
        return sum(1 for m in self.messages if m["type"] != "balance_update")


def vault_for(*, vault: str | None = None, owner: str | None = None) -> Vault | None:
    rows = Vault.objects.all()
    return (rows.filter(address=vault) if vault else rows.filter(owner=owner)).first()


def missed_since(vault_row: Vault | None, last_seq: int, *, limit: int) -> Replay:
    """The messages of the events after `last_seq` for the vault, then its balance. Raises
    ReplayTooLarge when more than `limit` events were missed (the client should resync from the
    REST API and subscribe again with a newer `last_seq`)."""
    if vault_row is None:
        return Replay(vault=None)
    announced = announced_seq(vault_row.address)
    # A client cannot legitimately be past what was announced (another chain's numbers, an event
    # rolled back since, or a made-up value): it gets the vault's whole current sequence again.
    since = last_seq if last_seq <= announced else 0
    messages = (_own_events(vault_row, since, announced, limit)
                + _incoming_transfers(vault_row, since, announced, limit))
    if len(messages) > limit:
        raise ReplayTooLarge(len(messages), limit)
    replay = Replay(vault=vault_row.address, announced_seq=announced, from_seq=since)
    for message in sorted(messages, key=lambda m: m["seq"]):
        replay.messages.append(message)
        replay.last_event_seq = message["seq"]
    # Read after the rows: the balance is at least as new as the last replayed event.
    vault_row.refresh_from_db()
    balance = streams.balance_update_for_vault(vault_row)
    replay.messages.append(balance)
    replay.balance_seq = balance["seq"]
    return replay


def _own_events(vault_row: Vault, last_seq: int, announced: int, limit: int) -> list[dict]:
    rows = (
        Transaction.objects.filter(
            vault=vault_row, event_seq__gt=last_seq, event_seq__lte=announced,
            transaction_type__in=list(streams.STREAMED_TRANSACTION_TYPES),
        )
        .select_related("vault", "counterparty_vault")
        .order_by("event_seq", "event_index")[: limit + 1]
    )
    return [streams.message_for_transaction(row) for row in rows]


def _incoming_transfers(vault_row: Vault, last_seq: int, announced: int, limit: int) -> list[dict]:
    """Transfers into the vault: their `transactions` row is the sender's, and the receiving
    vault's seq is in the indexer's per-vault record."""
    receiver_seqs = {
        (signature, index): seq
        for signature, index, seq in IndexedEvent.objects.filter(vault_address=vault_row.address, seq__gt=last_seq,
                                                                 seq__lte=announced, announced=True)
        .values_list("signature", "event_index", "seq")
    }
    if not receiver_seqs:
        return []
    rows = (
        Transaction.objects.filter(counterparty_vault=vault_row, transaction_type=Transaction.Type.TRANSFER,
                                   signature__in={signature for signature, _ in receiver_seqs})
        .select_related("vault", "counterparty_vault")[: limit + 1]
    )
    return [
        streams.message_for_transaction(row, receiver_seq=receiver_seqs[(row.signature, row.event_index)])
        for row in rows if (row.signature, row.event_index) in receiver_seqs
    ]
