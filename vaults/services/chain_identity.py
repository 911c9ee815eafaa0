"""One chain per ledger. The ledger records the genesis hash of the chain it was built from
(and, on the local validator, whose own genesis hash names no chain, the instance id and birth
genesis hash the host script keeps in its marker account: ChainClient.read_chain_marker). A process pointed at another
chain refuses to start, and the indexer and the jobs refuse to index, with an error naming both.

`python manage.py ledger_chain` shows the recorded chain and the RPC's; `--check` exits 2 on a
mismatch (scripts/run.py uses it); `--adopt` records the RPC's chain for a ledger that has none
yet (a ledger that predates this check). Such a ledger is also adopted by itself when its most
active open vaults are all on the RPC's chain, as far along as the ledger has them.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction

from vaults.chain.client import ChainClient, get_chain_client
from vaults.models import LedgerChain, Transaction, Vault

logger = logging.getLogger(__name__)

ROW_ID = 1


class ChainMismatch(Exception):
    """The RPC serves another chain than the one this ledger was built from. Not a ChainError:
    waiting does not fix it, so nothing retries it."""


@dataclass(frozen=True)
class ChainIdentity:
    genesis_hash: str
    instance: str = ""
    history_start_slot: int = 0

    def describe(self) -> str:
        return f"genesis {self.genesis_hash}" + (f", local instance {self.instance}" if self.instance else "")


def current_identity(chain: ChainClient | None = None) -> ChainIdentity:
    chain = chain or get_chain_client()
    marker = chain.read_chain_marker()
    if marker is None:
        return ChainIdentity(chain.get_genesis_hash())
    # A local chain: the genesis hash it was created with, kept by its marker (the running
    # process's own names no chain; ChainClient.read_chain_marker).
    return ChainIdentity(marker.genesis_hash, marker.instance, marker.history_start_slot)


def recorded_identity() -> ChainIdentity | None:
    row = LedgerChain.objects.filter(pk=ROW_ID).first()
    return None if row is None else ChainIdentity(row.genesis_hash, row.instance, row.history_start_slot)


def ledger_has_data() -> bool:
    return Vault.objects.exists() or Transaction.objects.exists()


def ensure_same_chain(chain: ChainClient | None = None, *, adopt: bool = False) -> ChainIdentity:
    """Records the chain on an empty ledger; raises ChainMismatch when the RPC serves another
    chain, or when the ledger holds data but no recorded chain (unless `adopt`). A restored local
    chain (same instance, later history start) moves the recorded history start."""
    chain = chain or get_chain_client()
    current = current_identity(chain)
    with transaction.atomic():
        row = LedgerChain.objects.select_for_update().filter(pk=ROW_ID).first()
        if row is None:
            if ledger_has_data() and not adopt and not _ledger_matches(chain):
                raise ChainMismatch(
                    f"this ledger holds vaults and transactions but no record of their chain, and its vaults are "
                    f"not on the chain the RPC ({chain.rpc_url}) serves ({current.describe()}). If that is the "
                    f"ledger's chain, record it with `python manage.py ledger_chain --adopt`; otherwise point "
                    f"RPC_URL at the ledger's chain")
            LedgerChain.objects.create(id=ROW_ID, genesis_hash=current.genesis_hash, instance=current.instance,
                                       history_start_slot=current.history_start_slot, rpc_url=chain.rpc_url[:255])
            logger.info("ledger chain recorded: %s", current.describe())
            return current
        recorded = ChainIdentity(row.genesis_hash, row.instance, row.history_start_slot)
        if (recorded.genesis_hash, recorded.instance) != (current.genesis_hash, current.instance):
            raise ChainMismatch(
                f"the RPC ({chain.rpc_url}) serves another chain than this ledger's: the ledger was built from "
                f"{recorded.describe()}, the RPC serves {current.describe()}. Point RPC_URL at the ledger's chain "
                f"(or, in development, start a fresh ledger with `python manage.py reset_ledger --yes`)")
        if current.history_start_slot != recorded.history_start_slot:
            row.history_start_slot = current.history_start_slot
            row.save(update_fields=["history_start_slot", "updated_at"])
            logger.info("ledger chain %s: transaction history now starts at slot %d", current.describe(),
                        current.history_start_slot)
        return current


SAMPLE_VAULTS = 20


def _ledger_matches(chain: ChainClient) -> bool:
    """A ledger from before the chain was recorded is adopted when its most active open vaults
    are all on this chain, at least as far along as the ledger has them."""
    rows = list(Vault.objects.filter(is_closed=False).order_by("-event_seq")[:SAMPLE_VAULTS])
    if not rows:
        return not Transaction.objects.exists()
    readings = chain.read_vaults([(row.address, row.token_account) for row in rows])
    return all(reading.vault is not None and reading.vault.owner == row.owner
               and reading.vault.event_seq >= row.event_seq for row, reading in zip(rows, readings))


def history_start_slot() -> int:
    """The recorded chain's first slot with transaction history (0: all of it)."""
    row = LedgerChain.objects.filter(pk=ROW_ID).only("history_start_slot").first()
    return row.history_start_slot if row else 0


def verify_at_startup(process: str, chain: ChainClient | None = None) -> None:
    """For a process that is starting (web, worker): exits on a mismatch with both chains named.
    An RPC that does not answer yet is not a reason to stay down: the indexer and the jobs check
    again before every round they write."""
    from django.conf import settings

    from vaults.chain.client import ChainError

    if not getattr(settings, "CHAIN_CHECK_AT_STARTUP", True):
        return
    try:
        ensure_same_chain(chain)
    except ChainMismatch as exc:
        logger.critical("%s refuses to start: %s", process, exc)
        raise SystemExit(f"{process} refuses to start: {exc}") from None
    except ChainError as exc:
        logger.warning("%s: the chain could not be checked at start (%s); the indexer and jobs check it before "
                       "they write", process, exc)
