"""The live streams' contract: who receives what, and the shape of every message.

Writers (the indexer, the reconciliation and TVL jobs) call `publish_on_commit` inside their
database transaction; messages leave only after the transaction commits, so a browser never sees
a row that was rolled back. The `/ws` consumers (monitoring/consumers.py) join the groups named
here and forward the messages as they are.

Message shapes keep the seeds' fields exactly (`balance_update`, `deposit`, `withdrawal`,
`tvl_update`) and extend them: every vault message also carries `vault`, `owner`, `seq` (the
vault's event sequence number, for gap detection and replay) and `slot`.
"""
from __future__ import annotations

import logging
from datetime import datetime

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

ALL_GROUP = "stream.all"  # staff only: every vault message and every alert
ALERTS_GROUP = "stream.alerts"  # staff only: alerts
TVL_GROUP = "stream.tvl"  # everyone: tvl_update
FEED_GROUP = "stream.feed"  # everyone: every vault's messages, what the chain shows anyway (the live pages)

# What a client may subscribe to without authentication, and with it.
PUBLIC_MESSAGE_TYPES = {"tvl_update"}


def vault_group(vault_address: str) -> str:
    return f"stream.vault.{vault_address}"


def user_group(owner: str) -> str:
    return f"stream.user.{owner}"


def _unix(moment: datetime | int | None) -> int | None:
    if moment is None or isinstance(moment, int):
        return moment
    return int(moment.timestamp())


# ---- message builders (pure) ----------------------------------------------------------------


def balance_update(*, vault: str, owner: str, total_balance: int, locked_balance: int, available_balance: int,
                   timestamp, seq: int | None = None, slot: int | None = None) -> dict:
    return {
        "type": "balance_update",
        "vault": vault,
        "total_balance": total_balance,
        "locked_balance": locked_balance,
        "available_balance": available_balance,
        "timestamp": _unix(timestamp),
        "owner": owner,
        "seq": seq,
        "slot": slot,
    }


def vault_event(kind: str, *, owner: str, vault: str, amount: int, signature: str, timestamp,
                seq: int | None = None, slot: int | None = None, **extra) -> dict:
    """`deposit` and `withdrawal` with the seeds' fields (`user`, `amount`, `signature`,
    `timestamp`); `lock`, `unlock`, `transfer` and `surplus` in the same shape."""
    message = {
        "type": kind,
        "user": owner,
        "amount": amount,
        "signature": signature,
        "timestamp": _unix(timestamp),
        "vault": vault,
        "seq": seq,
        "slot": slot,
    }
    message.update(extra)
    return message


def tvl_update(*, total_value_locked: int, total_vaults: int, timestamp) -> dict:
    return {
        "type": "tvl_update",
        "total_value_locked": total_value_locked,
        "timestamp": _unix(timestamp),
        "total_vaults": total_vaults,
    }


def alert(*, kind: str, message: str, severity: str = "warning", vault: str | None = None, details: dict | None = None,
          timestamp=None) -> dict:
    return {
        "type": "alert",
        "kind": kind,
        "severity": severity,
        "message": message,
        "vault": vault,
        "details": details or {},
        "timestamp": _unix(timestamp or datetime.now().astimezone()),
    }


# ---- routing ----------------------------------------------------------------------------------


def groups_for(message: dict) -> list[str]:
    """The groups a message goes to: its vault and user (and staff's everything stream)."""
    if message["type"] == "tvl_update":
        return [TVL_GROUP, ALL_GROUP]
    if message["type"] == "alert":
        return [ALERTS_GROUP, ALL_GROUP]
    groups = [ALL_GROUP, FEED_GROUP]
    if message.get("vault"):
        groups.append(vault_group(message["vault"]))
    owner = message.get("owner") or message.get("user")
    if owner:
        groups.append(user_group(owner))
    return groups


def publish_now(messages: list[dict]) -> None:
    """Sends immediately. Prefer `publish_on_commit` from code that writes the database."""
    layer = get_channel_layer()
    if layer is None:
        return
    send = async_to_sync(layer.group_send)
    for message in messages:
        for group in groups_for(message):
            try:
                # Channels routes on the envelope's `type`; consumers forward `message` verbatim.
                send(group, {"type": "stream.message", "message": message})
            except Exception:  # noqa: BLE001 - a dead layer must not fail the writer
                logger.exception("could not publish %s to %s", message["type"], group)


def publish_on_commit(messages: list[dict]) -> None:
    """Queues the messages to go out when the current database transaction commits (at once
    when there is none)."""
    if messages:
        transaction.on_commit(lambda: publish_now(list(messages)))


# ---- messages from stored rows (replay; the same shapes as live) ------------------------------

# Transaction types that have a stream message; `initialize` and `close` have none.
STREAMED_TRANSACTION_TYPES = {
    "initialize": "vault_initialized",
    "close": "vault_closed",
    "deposit": "deposit",
    "withdrawal": "withdrawal",
    "surplus": "surplus",
    "lock": "lock",
    "unlock": "unlock",
    "transfer": "transfer",
}


def message_for_transaction(row, *, receiver_seq: int | None = None) -> dict | None:
    """The stream message of one stored `vaults.models.Transaction` (its `vault` and, for a
    transfer, its `counterparty_vault` loaded), exactly as the live stream announced it; None
    for types that are not streamed. A transfer row is the sender's; with `receiver_seq` it is
    rendered for the receiving vault instead (whose seq the `transactions` row does not keep)."""
    kind = STREAMED_TRANSACTION_TYPES.get(row.transaction_type)
    if kind is None:
        return None
    vault, seq, extra = row.vault, _int_or_none(row.event_seq), {}
    if kind == "transfer" and row.counterparty_vault is not None:
        if receiver_seq is None:
            extra = {"direction": "out", "counterparty": row.counterparty_vault.address}
        else:
            vault, seq = row.counterparty_vault, receiver_seq
            extra = {"direction": "in", "counterparty": row.vault.address}
    if kind in ("lock", "unlock", "transfer") and row.caller_program:
        extra["caller_program"] = row.caller_program
    return vault_event(kind, owner=vault.owner, vault=vault.address, amount=int(row.amount),
                       signature=row.signature, timestamp=row.timestamp, seq=seq, slot=row.slot, **extra)


def balance_update_for_vault(vault) -> dict:
    """A `balance_update` from a stored `vaults.models.Vault` row (its last synced state)."""
    return balance_update(vault=vault.address, owner=vault.owner, total_balance=int(vault.total_balance),
                          locked_balance=int(vault.locked_balance), available_balance=int(vault.available_balance),
                          timestamp=vault.updated_at, seq=int(vault.event_seq), slot=vault.last_synced_slot)


def _int_or_none(value) -> int | None:
    return None if value is None else int(value)
