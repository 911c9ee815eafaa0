"""Decoded vault events and chain states, as ChainClient.get_transaction and get_vault return
them, for tests of what the indexer does with attributed events (no validator needed)."""
from __future__ import annotations

import itertools

from solders.keypair import Keypair

from monitoring import streams
from monitoring.indexer.store import apply_transaction
from tests.monitoring.stream_helpers import vault_pda
from vaults.chain.client import ConfirmedTransaction, ProgramEvent, VaultAccount

_slots = itertools.count(5_000)
TIMESTAMP = 1_700_000_000


def new_owner() -> str:
    return str(Keypair().pubkey())


def initialized(owner: str, seq: int = 1) -> tuple[str, dict]:
    return "VaultInitializedEvent", {"owner": owner, "vault": vault_pda(owner), "token_account": new_owner(),
                                     "seq": seq, "timestamp": TIMESTAMP}


def deposit(owner: str, seq: int, amount: int, total: int, locked: int = 0, name: str = "DepositEvent") -> tuple[str, dict]:
    return name, {"owner": owner, "vault": vault_pda(owner), "amount": amount, "total_balance": total,
                  "locked_balance": locked, "available_balance": total - locked, "seq": seq,
                  "timestamp": TIMESTAMP + seq}


def transfer(sender: str, receiver: str, *, amount: int, from_seq: int, to_seq: int, from_total: int,
             to_total: int, caller: str) -> tuple[str, dict]:
    return "TransferEvent", {
        "caller_program": caller, "from_owner": sender, "from_vault": vault_pda(sender), "to_owner": receiver,
        "to_vault": vault_pda(receiver), "amount": amount, "from_total_balance": from_total, "from_locked_balance": 0,
        "from_available_balance": from_total, "from_seq": from_seq, "to_total_balance": to_total,
        "to_locked_balance": 0, "to_available_balance": to_total, "to_seq": to_seq, "timestamp": TIMESTAMP + 99,
    }


def state(owner: str, *, seq: int, total: int, locked: int = 0) -> VaultAccount:
    return VaultAccount(address=vault_pda(owner), owner=owner, token_account=new_owner(), total_balance=total,
                        locked_balance=locked, available_balance=total - locked, total_deposited=total,
                        total_withdrawn=0, created_at=TIMESTAMP, event_seq=seq, total_transferred_in=0,
                        total_transferred_out=0)


def apply(*events: tuple[str, dict], states: dict[str, VaultAccount | None], signature: str | None = None):
    """Applies one confirmed transaction carrying `events`; returns (result, published messages)."""
    confirmed = ConfirmedTransaction(signature or f"sig{next(_slots)}", next(_slots), TIMESTAMP, False,
                                     [ProgramEvent(i, name, fields) for i, (name, fields) in enumerate(events)], [],
                                     invokes_vault_program=True)
    published: list[dict] = []
    original = streams.publish_now
    streams.publish_now = published.extend
    try:
        result = apply_transaction(confirmed, confirmed.events, states, source="test")
    finally:
        streams.publish_now = original
    return result, published
