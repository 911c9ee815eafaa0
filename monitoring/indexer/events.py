"""Pure mapping from decoded program events to the vaults they touch (what the indexer records
per vault). The stream messages themselves are built from the stored rows
(monitoring.streams.message_for_transaction), so a live message and its replay are one thing."""
from __future__ import annotations

from dataclasses import dataclass

from vaults.chain.client import ProgramEvent
from vaults.services.ledger import EVENT_TRANSACTION_TYPES


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
