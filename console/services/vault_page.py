"""Everything the staff vault page shows, read once: the chain (vault account, token account),
the ledger (the `vaults` row and the replayed `transactions`), per-program locks, history."""
from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q, Sum

from monitoring.services.balance_tracker import load_ledgers
from vaults.chain.client import ChainError, get_chain_client
from vaults.models import BalanceSnapshot, ReconciliationLog, Transaction, Vault


@dataclass
class ProgramLock:
    program: str
    locked_ledger: int
    locked_onchain: int | None = None
    cap: int | None = None  # the owner's cap on what the program may hold locked; None: no cap
    approved: bool | None = None  # None: the owner never approved the program (no CallerLock record)


@dataclass
class VaultPage:
    vault: Vault
    onchain: object | None = None
    token_amount: int | None = None
    chain_error: str = ""
    ledger: object | None = None
    program_locks: list[ProgramLock] = field(default_factory=list)
    program_locks_onchain: bool = False
    transactions: list = field(default_factory=list)
    snapshots: list = field(default_factory=list)
    reconciliations: list = field(default_factory=list)

    @property
    def rows(self) -> list[dict]:
        """The side-by-side table: one row per quantity, chain / token account / ledger."""
        chain, row, ledger = self.onchain, self.vault, self.ledger
        def onchain(name):
            return getattr(chain, name) if chain is not None else None
        return [
            {"name": "total balance", "chain": onchain("total_balance"), "token": self.token_amount,
             "row": row.total_balance, "ledger": ledger.total_balance if ledger else None},
            {"name": "locked", "chain": onchain("locked_balance"), "token": None, "row": row.locked_balance,
             "ledger": ledger.locked_balance if ledger else None},
            {"name": "available", "chain": onchain("available_balance"), "token": None, "row": row.available_balance,
             "ledger": (ledger.total_balance - ledger.locked_balance) if ledger else None},
            {"name": "deposited (lifetime)", "chain": onchain("total_deposited"), "token": None,
             "row": row.total_deposited, "ledger": ledger.flows.get("deposit", 0) if ledger else None},
            {"name": "withdrawn (lifetime)", "chain": onchain("total_withdrawn"), "token": None,
             "row": row.total_withdrawn, "ledger": ledger.flows.get("withdrawal", 0) if ledger else None},
            {"name": "event sequence", "chain": onchain("event_seq"), "token": None, "row": row.event_seq,
             "ledger": ledger.events if ledger else None, "plain": True},
        ]


def program_locks_from_ledger(vault: Vault) -> dict[str, int]:
    """Locked collateral per calling program, replayed from the ledger: locks − unlocks −
    settlements out. Works with any program version."""
    rows = (Transaction.objects.filter(vault=vault, transaction_type__in=["lock", "unlock", "transfer"])
            .exclude(caller_program="").values("caller_program", "transaction_type").annotate(total=Sum("amount")))
    locks: dict[str, int] = {}
    for row in rows:
        sign = 1 if row["transaction_type"] == "lock" else -1
        locks[row["caller_program"]] = locks.get(row["caller_program"], 0) + sign * int(row["total"] or 0)
    return {program: amount for program, amount in locks.items() if amount}


def load_vault_page(vault: Vault, *, history: int = 50) -> VaultPage:
    page = VaultPage(vault=vault)
    chain = get_chain_client()
    try:
        page.onchain = chain.get_vault(vault.owner)
        page.token_amount = chain.get_token_amount(vault.token_account)
        # Vault program v2 keeps each program's lock and the owner's approval in a CallerLock
        # account: read them all, beside the ledger's replay.
        onchain_locks = chain.get_caller_locks(page.onchain.address) if page.onchain else []
    except ChainError as exc:
        page.chain_error = str(exc)
        onchain_locks = None
    page.ledger = load_ledgers([vault])[vault.pk]
    ledger_locks = program_locks_from_ledger(vault)
    page.program_locks_onchain = onchain_locks is not None
    records = {lock.program_id: lock for lock in onchain_locks or []}
    for program in sorted(set(ledger_locks) | set(records)):
        record = records.get(program)
        page.program_locks.append(ProgramLock(
            program, ledger_locks.get(program, 0),
            locked_onchain=(record.locked if record else 0) if page.program_locks_onchain else None,
            cap=record.cap if record else None,
            approved=(record.cap != 0) if record else None,
        ))
    page.transactions = list(Transaction.objects.filter(Q(vault=vault) | Q(counterparty_vault=vault))
                             .select_related("vault", "counterparty_vault")
                             .order_by("-timestamp", "-slot", "-event_index")[:history])
    page.snapshots = list(BalanceSnapshot.objects.filter(vault=vault).order_by("-timestamp")[:500])[::-1]
    page.reconciliations = list(ReconciliationLog.objects.filter(vault=vault).order_by("-timestamp")[:20])
    return page
