"""Pure mapping from decoded program events to what the indexer stores and publishes."""
from __future__ import annotations

from dataclasses import dataclass

from monitoring import streams
from vaults.chain.client import ProgramEvent
from vaults.services.ledger import EVENT_TRANSACTION_TYPES

# Event name -> the stream message kind. Every event that numbers a vault's sequence has one, so
# a client following a vault sees every `seq` (initialize and close with amount 0).
STREAM_KINDS = {
    "VaultInitializedEvent": "vault_initialized",
    "VaultClosedEvent": "vault_closed",
    "DepositEvent": "deposit",
    "WithdrawEvent": "withdrawal",
    "LockEvent": "lock",
    "UnlockEvent": "unlock",
    "TransferEvent": "transfer",
    "SurplusCreditedEvent": "surplus",
    # The owner released a removed program's locks after the grace period (vault program v2).
    "StrandedLockReleasedEvent": "unlock",
}


@dataclass(frozen=True)
class VaultSide:
    """One vault's view of an event: its sequence number and balances after the event."""

    owner: str
    vault: str
    seq: int
    total_balance: int
    locked_balance: int
    available_balance: int
    generation: int = 0  # the vault's creation slot (vault program v2; 0 for v1 events)


def vault_events(events: list[ProgramEvent]) -> list[ProgramEvent]:
    """The events that touch a vault (admin events such as PauseChanged carry no sequence)."""
    return [e for e in events if e.name in EVENT_TRANSACTION_TYPES]


def event_owners(events: list[ProgramEvent]) -> list[str]:
    return sorted({side.owner for e in events for side in vault_sides(e)})


def vault_sides(event: ProgramEvent) -> list[VaultSide]:
    """A transfer moves two vaults (each with its own sequence number); every other event one."""
    f = event.fields
    if event.name == "TransferEvent":
        return [
            VaultSide(f["from_owner"], f["from_vault"], f["from_seq"], f["from_total_balance"],
                      f["from_locked_balance"], f["from_available_balance"], f.get("from_generation", 0)),
            VaultSide(f["to_owner"], f["to_vault"], f["to_seq"], f["to_total_balance"],
                      f["to_locked_balance"], f["to_available_balance"], f.get("to_generation", 0)),
        ]
    # Initialize and close carry no balances: a new vault is empty, a closed one is gone.
    return [VaultSide(f["owner"], f["vault"], f["seq"], f.get("total_balance", 0),
                      f.get("locked_balance", 0), f.get("available_balance", 0), f.get("generation", 0))]


def stream_messages(event: ProgramEvent, *, signature: str, slot: int, timestamp) -> list[dict]:
    """The vault messages for one newly indexed event. A transfer is announced to both vaults,
    each with its own `seq`, so a client following one vault sees every sequence number."""
    kind = STREAM_KINDS.get(event.name)
    if kind is None:
        return []
    amount = event.fields.get("amount", 0)
    # The same fields as a replayed message (monitoring.streams.message_for_transaction).
    caller = {"caller_program": event.fields["caller_program"]} if "caller_program" in event.fields else {}
    sides = vault_sides(event)
    if kind != "transfer":
        side = sides[0]
        return [streams.vault_event(kind, owner=side.owner, vault=side.vault, amount=amount, signature=signature,
                                    timestamp=timestamp, seq=side.seq, slot=slot, **caller)]
    sender, receiver = sides
    return [
        streams.vault_event("transfer", owner=sender.owner, vault=sender.vault, amount=amount, signature=signature,
                            timestamp=timestamp, seq=sender.seq, slot=slot, direction="out",
                            counterparty=receiver.vault, **caller),
        streams.vault_event("transfer", owner=receiver.owner, vault=receiver.vault, amount=amount,
                            signature=signature, timestamp=timestamp, seq=receiver.seq, slot=slot, direction="in",
                            counterparty=sender.vault, **caller),
    ]


def balance_messages(sides: list[VaultSide], *, slot: int, timestamp) -> list[dict]:
    """One balance_update per vault: its state after the last of these events."""
    latest: dict[str, VaultSide] = {}
    for side in sides:
        if side.vault not in latest or side.seq > latest[side.vault].seq:
            latest[side.vault] = side
    return [
        streams.balance_update(vault=s.vault, owner=s.owner, total_balance=s.total_balance,
                               locked_balance=s.locked_balance, available_balance=s.available_balance,
                               timestamp=timestamp, seq=s.seq, slot=slot)
        for s in latest.values()
    ]
