"""Records confirmed vault transactions in the database: the seeds' `create_transaction` and
`create_balance_snapshot`.

Idempotent: rows are keyed on (signature, event_index), so recording the same signature twice
(or racing the indexer) stores each event once. The events, the vault rows and the snapshots of
one transaction are written in one database transaction; caches are cleared after commit.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from django.core.cache import cache
from django.db import transaction as db_transaction

from vaults.cache_keys import TVL_KEY, balance_key
from vaults.chain.client import ChainClient, ConfirmedTransaction, VaultAccount, get_chain_client
from vaults.models import BalanceSnapshot, Transaction, Vault

logger = logging.getLogger(__name__)

EVENT_TRANSACTION_TYPES = {
    "VaultInitializedEvent": Transaction.Type.INITIALIZE,
    "DepositEvent": Transaction.Type.DEPOSIT,
    "WithdrawEvent": Transaction.Type.WITHDRAWAL,
    "SurplusCreditedEvent": Transaction.Type.SURPLUS,
    "LockEvent": Transaction.Type.LOCK,
    "UnlockEvent": Transaction.Type.UNLOCK,
    # The owner's release of a removed program's locks (vault program v2): an unlock whose
    # caller_program is the removed program.
    "StrandedLockReleasedEvent": Transaction.Type.UNLOCK,
    "TransferEvent": Transaction.Type.TRANSFER,
    "VaultClosedEvent": Transaction.Type.CLOSE,
}


def _event_owners(fields: dict) -> list[str]:
    if "from_owner" in fields:
        return [fields["from_owner"], fields["to_owner"]]
    return [fields["owner"]]


def _as_datetime(unix_seconds: int | None) -> datetime:
    if unix_seconds is None:
        return datetime.now(tz=timezone.utc)
    return datetime.fromtimestamp(unix_seconds, tz=timezone.utc)


def record_transaction(signature: str, *, chain: ChainClient | None = None) -> list[Transaction]:
    """Fetches a confirmed transaction and stores its vault events. Returns the new rows."""
    chain = chain or get_chain_client()
    confirmed = chain.get_transaction(signature)
    if confirmed is None or confirmed.failed:
        return []
    events = [e for e in confirmed.events if e.name in EVENT_TRANSACTION_TYPES]
    if not events:
        return []
    owners = sorted({owner for e in events for owner in _event_owners(e.fields)})
    # Read chain state before opening the database transaction: no RPC round trips under locks.
    states = {owner: chain.get_vault(owner) for owner in owners}
    return store_events(confirmed, events, states)


def lock_vault_rows(owners) -> None:
    """Locks the existing vault rows of these owners until the transaction ends, in primary-key
    order: the order every other writer that locks several vault rows takes them in (snapshots
    insert in that order), so two such writers never wait on each other in a cycle."""
    list(Vault.objects.select_for_update().filter(owner__in=sorted(owners)).order_by("pk").values_list("pk", flat=True))


def store_events(confirmed: ConfirmedTransaction, events, states: dict[str, VaultAccount | None]) -> list[Transaction]:
    """`events` must come from ChainClient.get_transaction (only what the vault program
    emitted). An event is stored only when its vault row exists or may be created (see
    `_sync_vault`); the others are dropped, loudly."""
    chain = get_chain_client()
    with db_transaction.atomic():
        lock_vault_rows(states)
        vaults = {owner: _sync_vault(chain, owner, states[owner], events, confirmed.slot) for owner in sorted(states)}
        already = set(
            Transaction.objects.filter(signature=confirmed.signature).values_list("event_index", flat=True)
        )
        rows = []
        for event in events:
            if event.index in already:
                continue
            fields = event.fields
            if event.name == "TransferEvent":
                vault, counterparty = vaults.get(fields["from_owner"]), vaults.get(fields["to_owner"])
                seq = fields["from_seq"]
                sides = [(vault, fields["from_vault"]), (counterparty, fields["to_vault"])]
            else:
                vault, counterparty, seq = vaults.get(fields["owner"]), None, fields.get("seq")
                sides = [(vault, fields["vault"])]
            if any(row is None or row.address != address for row, address in sides):
                logger.error("%s #%d (%s): no vault row for %s; the event is not stored", confirmed.signature,
                             event.index, event.name, [address for _, address in sides])
                continue
            rows.append(Transaction(
                vault=vault,
                counterparty_vault=counterparty,
                transaction_type=EVENT_TRANSACTION_TYPES[event.name],
                amount=fields.get("amount", 0),
                signature=confirmed.signature,
                event_index=event.index,
                event_seq=seq,
                slot=confirmed.slot,
                caller_program=fields.get("caller_program", ""),
                timestamp=_as_datetime(fields.get("timestamp", confirmed.block_time)),
            ))
        created = Transaction.objects.bulk_create(rows, ignore_conflicts=True)
        if created:
            now = datetime.now(tz=timezone.utc)
            BalanceSnapshot.objects.bulk_create([
                BalanceSnapshot(
                    vault=v, kind=BalanceSnapshot.Kind.EVENT, total_balance=v.total_balance,
                    locked_balance=v.locked_balance, available_balance=v.available_balance,
                    slot=confirmed.slot, timestamp=now,
                )
                for v in vaults.values() if v is not None
            ])
        db_transaction.on_commit(lambda: _invalidate_caches(list(states)))
    return created


def _sync_vault(chain: ChainClient, owner: str, state: VaultAccount | None, events, slot: int) -> Vault | None:
    """The vault row of `owner`, brought up to the chain's state. A row comes into being only
    from the on-chain account at the owner's PDA (`state`, read by ChainClient.get_vault, which
    derives the PDA and checks the account's program), or from the program's
    VaultInitializedEvent naming that same PDA. Anything else gets no row (None)."""
    expected = str(chain.vault_address(owner))
    vault = Vault.objects.select_for_update().filter(owner=owner).first()
    if state is not None and (state.address != expected or state.owner != owner):
        logger.error("vault state for %s at %s (owner %s) is not the owner's PDA %s", owner, state.address,
                     state.owner, expected)
        state = None
    if state is not None:
        if vault is not None and vault.event_seq > state.event_seq:
            return vault  # a newer state is already stored; never move backwards
        values = {
            "address": state.address, "token_account": state.token_account,
            "total_balance": state.total_balance, "locked_balance": state.locked_balance,
            "available_balance": state.available_balance, "total_deposited": state.total_deposited,
            "total_withdrawn": state.total_withdrawn, "event_seq": state.event_seq,
            "onchain_created_at": state.created_at, "last_synced_slot": slot, "is_closed": False,
        }
        if vault is None:
            return Vault.objects.create(owner=owner, **values)
        for name, value in values.items():
            setattr(vault, name, value)
        vault.save()
        return vault
    # The account is gone (closed) by the time we read it.
    if vault is None:
        init = next((e.fields for e in events if e.name == "VaultInitializedEvent" and e.fields["owner"] == owner
                     and e.fields["vault"] == expected), None)
        if init is None:
            return None
        vault = Vault(owner=owner, address=expected, token_account=init["token_account"],
                      onchain_created_at=init["timestamp"])
    vault.total_balance = vault.locked_balance = vault.available_balance = 0
    vault.is_closed = True
    vault.last_synced_slot = slot
    vault.save()
    return vault


def _invalidate_caches(owners):
    cache.delete_many([balance_key(o) for o in owners] + [TVL_KEY])
