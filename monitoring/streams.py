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

import asyncio
import json
import logging
import os
import threading
from datetime import datetime

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
    if layer is None or not messages:
        return
    try:
        _publisher.run(_send_all(layer, messages))
    except Exception:  # noqa: BLE001 - a dead layer must not fail the writer
        logger.exception("could not publish %d stream messages", len(messages))


async def _send_all(layer, messages: list[dict]) -> None:
    """A commit's messages, each encoded to JSON once (`text`): every copy and every receiving
    connection sends that text as it is. `group` tells the receiving process's hub
    (monitoring.fanout) which of its subscribers a copy is for. The groups are sent to
    concurrently, each group's messages in order."""
    by_group: dict[str, list[dict]] = {}
    for message in messages:
        text = json.dumps(message, default=str)
        for group in groups_for(message):
            # Channels routes on the envelope's `type`; consumers forward `message` verbatim.
            by_group.setdefault(group, []).append({"type": "stream.message", "group": group, "message": message,
                                                   "text": text})

    async def send_in_order(group: str, envelopes: list[dict]) -> None:
        for envelope in envelopes:
            try:
                await layer.group_send(group, envelope)
            except Exception:  # noqa: BLE001 - a dead layer must not fail the writer
                logger.exception("could not publish %s to %s", envelope["message"]["type"], group)

    await asyncio.gather(*(send_in_order(group, envelopes) for group, envelopes in by_group.items()))


class _PublisherLoop:
    """One event loop thread per process for publishing from synchronous code (the indexer's
    writes, Celery jobs, views): the channel layer keeps its Redis connections per event loop,
    and `async_to_sync` from a plain thread would make a new loop, hence new connections, for
    every commit."""

    def __init__(self):
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():  # a forked worker starts its own
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="stream-publisher", daemon=True).start()
                self._loop, self._pid = loop, os.getpid()
            return self._loop

    def run(self, coroutine, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coroutine, self._running_loop()).result(timeout)


_publisher = _PublisherLoop()


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
