"""BalanceTracker (the seeds' `track_vault`, `reconcile_balance`, `start_monitoring`): compares
the chain with the database and takes the periodic balance snapshots.

What is compared, per open vault (one `reconciliation_logs` row per vault per run):

1. the on-chain vault account (total / locked / available, lifetime flows, event_seq);
2. the vault's token account amount, read in the same getMultipleAccounts call, so at the same
   slot (vault address and token account side by side, 50 pairs per 100-address call);
3. the database ledger, two ways:
   - the `vaults` row (what the API and the TVL serve): total, locked, available,
     total_deposited, total_withdrawn, compared when its event_seq equals the chain's or is
     ahead of it;
   - the `transactions` rows, replayed: total = deposits + surplus + transfers in - withdrawals
     - transfers out, locked = locks - unlocks - transfers out, and the number of events, which
     must equal the chain's event_seq (each vault event has its own sequence number). Compared
     when the event count equals the chain's event_seq or is ahead of it.
   The database is read first, then the chain (chain state only moves forward), so a database
   *ahead* of the chain (a higher event_seq, more events) is never a race: it is a mismatch,
   reported with the real difference of every field.

Before a vault is called missing on chain (open in the ledger, no account), or open on chain
while the ledger has it closed, its own history is caught up (monitoring.indexer.gaps
.catch_up_vault): the indexer may not have stored the close or the reopening yet. What is still
out of step after that is a `mismatch`, critical at once (`vault_missing_on_chain`, the whole
ledger balance as the difference).

Status: `mismatch` when any compared value differs, or the token account holds less than the
ledger total (a surplus, tokens sent straight to the token account, is legal: the program
credits it on the next instruction; it is reported in `details`). `error` when the database is
behind the chain (the indexer has not stored the newest events yet). A database that stays
behind for longer than MONITOR_RECONCILIATION_LAG_GRACE_SECONDS without moving raises a
`reconciliation_stale` alert (a deleted transaction row ends up here). `matched` otherwise.

`difference` is signed: database minus chain (positive: the database claims more). It is the
first non-zero of: vault row total, ledger total, token account deficit, vault row locked,
ledger locked, vault row available, vault row lifetime flows. `details["differences"]` holds each
check's value, and the alert's message lists every non-zero one and every reason.

Each distinct mismatch raises one alert (the same differences at the same event_seqs are not
announced again; the log row is still written every run). Nothing is repaired here: a mismatch
stays visible until someone looks (and the indexer's own
writes move the row on). Every run is all-or-nothing: the logs, snapshots and alerts of one run
are written in one database transaction, after every RPC read.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q, Sum

from monitoring.indexer.sequence import SEQ_GENERATION_SHIFT
from monitoring.services.alerts import Severity, already_alerted, raise_alert
from vaults.chain.client import ChainClient, VaultReading, get_chain_client, parse_pubkey
from vaults.models import BalanceSnapshot, ReconciliationLog, Transaction, Vault

logger = logging.getLogger(__name__)

SOURCE = "balance_tracker"
T = Transaction.Type


@dataclass
class Ledger:
    """A vault's balances replayed from its `transactions` rows."""

    total_balance: int = 0
    locked_balance: int = 0
    events: int = 0
    flows: dict = field(default_factory=dict)


@dataclass
class DatabaseView:
    vault: Vault
    ledger: Ledger


@dataclass
class Comparison:
    vault: Vault
    reading: VaultReading
    status: str
    difference: int
    details: dict


@contextmanager
def _one_snapshot():
    """A read-only REPEATABLE READ transaction, so the several ledger queries see one state.
    (Only when no transaction is open yet: PostgreSQL sets the level on a transaction's first
    statement; inside a caller's transaction the reads share the caller's.)"""
    outer = not connection.in_atomic_block
    with transaction.atomic():
        if outer:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


def load_ledgers(vaults: list[Vault]) -> dict[int, Ledger]:
    ids = [v.pk for v in vaults]
    ledgers = {pk: Ledger(flows={}) for pk in ids}
    own = (Transaction.objects.filter(vault_id__in=ids).values("vault_id", "transaction_type")
           .annotate(total=Sum("amount"), n=Count("id")))
    for row in own:
        ledger = ledgers[row["vault_id"]]
        ledger.flows[row["transaction_type"]] = int(row["total"] or 0)
        ledger.events += row["n"]
    incoming = (Transaction.objects.filter(counterparty_vault_id__in=ids, transaction_type=T.TRANSFER)
                .values("counterparty_vault_id").annotate(total=Sum("amount"), n=Count("id")))
    for row in incoming:
        ledger = ledgers[row["counterparty_vault_id"]]
        ledger.flows["transfer_in"] = int(row["total"] or 0)
        ledger.events += row["n"]
    for ledger in ledgers.values():
        f = ledger.flows
        ledger.total_balance = (f.get(T.DEPOSIT, 0) + f.get(T.SURPLUS, 0) + f.get("transfer_in", 0)
                                - f.get(T.WITHDRAWAL, 0) - f.get(T.TRANSFER, 0))
        ledger.locked_balance = f.get(T.LOCK, 0) - f.get(T.UNLOCK, 0) - f.get(T.TRANSFER, 0)
    return ledgers


# The order in which differences are reported; `difference` is the first non-zero one.
DIFFERENCE_ORDER = ["vault_row.total_balance", "ledger.total_balance", "token_account.amount",
                    "vault_row.locked_balance", "ledger.locked_balance", "vault_row.available_balance",
                    "vault_row.total_deposited", "vault_row.total_withdrawn"]


def compare(view: DatabaseView, reading: VaultReading) -> Comparison:
    """Pure: the three-way comparison of one vault (see the module docstring)."""
    row, ledger, chain = view.vault, view.ledger, reading.vault
    details = {
        "vault_address": row.address,
        "owner": row.owner,
        "token_account_address": reading.token_account,
        "database_event_seq": int(row.event_seq),
        "ledger_events": ledger.events,
        "ledger_total_balance": ledger.total_balance,
        "ledger_locked_balance": ledger.locked_balance,
        "database_locked_balance": int(row.locked_balance),
        "database_available_balance": int(row.available_balance),
        "database_is_closed": row.is_closed,
        "token_account_frozen": reading.token_frozen,
    }
    if chain is None:
        if row.is_closed:
            details["reason"] = "closed_in_both"
            return Comparison(row, reading, ReconciliationLog.Status.MATCHED, 0, details)
        # The ledger holds an open vault the chain does not have (reconciliation has already
        # caught the vault's history up, so a close still on its way is not it): every unit the
        # ledger shows is a unit the chain does not.
        details["differences"] = {"vault_row.total_balance": int(row.total_balance),
                                  "ledger.total_balance": ledger.total_balance}
        details["mismatched"] = ["vault_missing_on_chain"] + [
            name for name, value in details["differences"].items() if value]
        return Comparison(row, reading, ReconciliationLog.Status.MISMATCH, int(row.total_balance), details)
    # Vault program v2 numbers a vault's events from (generation << 20) + 1: the number of
    # events the chain has recorded for this vault is counted from its generation's start.
    chain_events = chain.event_seq - (chain.generation << SEQ_GENERATION_SHIFT)
    details.update({
        "onchain_event_seq": chain.event_seq,
        "onchain_events": chain_events,
        "onchain_total_balance": chain.total_balance,
        "onchain_locked_balance": chain.locked_balance,
        "onchain_available_balance": chain.available_balance,
    })
    differences: dict[str, int] = {}
    reasons = []
    if row.is_closed:
        reasons.append("vault_closed_in_ledger_but_open_on_chain")
    # The vault row and the replayed ledger are each compared when they stand at the chain's
    # event_seq, and also when they are *ahead* of it (the database claims events the chain never
    # had: every field's real difference is reported). Behind is indexer lag, not a difference.
    if row.event_seq >= chain.event_seq:
        differences["vault_row.total_balance"] = int(row.total_balance) - chain.total_balance
        differences["vault_row.locked_balance"] = int(row.locked_balance) - chain.locked_balance
        differences["vault_row.available_balance"] = int(row.available_balance) - chain.available_balance
        differences["vault_row.total_deposited"] = int(row.total_deposited) - chain.total_deposited
        differences["vault_row.total_withdrawn"] = int(row.total_withdrawn) - chain.total_withdrawn
        if row.event_seq > chain.event_seq:
            reasons.append("vault_row_ahead_of_chain")
    if ledger.events >= chain_events:
        differences["ledger.total_balance"] = ledger.total_balance - chain.total_balance
        differences["ledger.locked_balance"] = ledger.locked_balance - chain.locked_balance
        if ledger.events > chain_events:
            reasons.append("ledger_has_more_events_than_chain")
    token_deficit = 0
    if reading.token_amount is None:
        reasons.append("token_account_missing")
    else:
        surplus = reading.token_amount - chain.total_balance
        details["token_surplus"] = max(surplus, 0)
        token_deficit = min(surplus, 0)
        if token_deficit:
            differences["token_account.amount"] = token_deficit
    details["differences"] = differences
    nonzero = [name for name in DIFFERENCE_ORDER if differences.get(name)]
    if nonzero or reasons:
        details["mismatched"] = nonzero + reasons
        difference = differences[nonzero[0]] if nonzero else 0
        return Comparison(row, reading, ReconciliationLog.Status.MISMATCH, difference, details)
    behind = row.event_seq < chain.event_seq or ledger.events < chain_events
    if behind:
        details["reason"] = "database_behind_chain"
        return Comparison(row, reading, ReconciliationLog.Status.ERROR,
                          int(row.total_balance) - chain.total_balance, details)
    return Comparison(row, reading, ReconciliationLog.Status.MATCHED, 0, details)


def describe_mismatch(details: dict) -> str:
    """Every difference with its sign, and every reason, in words staff can act on."""
    parts = [f"{name} {details['differences'][name]:+d}" for name in details["mismatched"]
             if name in details.get("differences", {})]
    reasons = {
        "vault_missing_on_chain": "the vault account does not exist on chain",
        "vault_closed_in_ledger_but_open_on_chain": "the ledger has the vault closed, the chain has it open",
        "vault_row_ahead_of_chain": (f"vault row event_seq {details['database_event_seq']} > chain "
                                     f"{details.get('onchain_event_seq')}"),
        "ledger_has_more_events_than_chain": (f"{details['ledger_events']} ledger events > chain "
                                              f"{details.get('onchain_events')} events"),
        "token_account_missing": "the vault token account is missing",
    }
    parts += [reasons.get(name, name) for name in details["mismatched"] if name not in details.get("differences", {})]
    return "; ".join(parts)


class BalanceTracker:
    def __init__(self, chain: ChainClient | None = None):
        self._chain = chain

    @property
    def chain(self) -> ChainClient:
        if self._chain is None:
            self._chain = get_chain_client()
        return self._chain

    # ---- the seeds' methods ----

    def track_vault(self, vault: str) -> VaultReading:
        """Reads one vault (by vault address or owner) and its token account from the chain."""
        row = self._vault_row(vault)
        return self.chain.read_vaults([(row.address, row.token_account)])[0]

    def reconcile_balance(self, vault: str) -> ReconciliationLog:
        """Reconciles one vault (by vault address or owner); returns its log row."""
        return self.reconcile([self._vault_row(vault)])[0]

    def start_monitoring(self) -> list[str]:
        """Background monitoring is Celery beat: makes sure the periodic jobs (reconciliation,
        snapshots, ...) exist in the beat schedule; returns their names. Idempotent."""
        from monitoring.schedules import sync_schedules

        sync_schedules()
        from monitoring.schedules import JOBS

        return [job.name for job in JOBS]

    # ---- runs ----

    def reconcile_all(self) -> list[ReconciliationLog]:
        vaults = list(Vault.objects.filter(is_closed=False).order_by("pk"))
        return self.reconcile(vaults) if vaults else []

    def reconcile_unknown_vaults(self) -> list[ReconciliationLog]:
        """Vault accounts on chain that the database has never stored. A vault younger than the
        lag grace period may simply not be indexed yet (status `error`); an older one is a
        mismatch: the ledger is missing a whole vault (its full balance is the difference)."""
        onchain = set(self.chain.list_vault_addresses())
        rows = list(Vault.objects.filter(address__in=onchain))
        known = {row.address for row in rows}
        # A vault the ledger holds as closed while the chain has it is not "known" either: it is
        # reconciled like any other, so no row, whatever put it there, hides a vault from us.
        reopened = self.reconcile([row for row in rows if row.is_closed])
        unknown = sorted(onchain - known)
        if not unknown:
            return reopened
        # The token account is only known once the vault is read; the vault is read twice instead.
        readings = [r for r in self.chain.read_vaults([(address, address) for address in unknown]) if r.vault]
        now = datetime.now(tz=timezone.utc).timestamp()
        grace = settings.MONITOR_RECONCILIATION_LAG_GRACE_SECONDS
        logs = []
        with transaction.atomic():
            for reading in readings:
                state = reading.vault
                overdue = now - state.created_at > grace
                log = ReconciliationLog.objects.create(
                    vault=None, slot=reading.slot, onchain_total_balance=state.total_balance,
                    token_account_amount=None, database_total_balance=None, difference=-state.total_balance,
                    status=ReconciliationLog.Status.MISMATCH if overdue else ReconciliationLog.Status.ERROR,
                    details={"reason": "vault_missing_from_ledger" if overdue else "vault_not_yet_indexed",
                             "vault": reading.address, "owner": state.owner, "onchain_event_seq": state.event_seq,
                             "created_at": state.created_at},
                )
                logs.append(log)
                if overdue and not already_alerted("vault_missing_from_ledger", [reading.address]):
                    raise_alert(
                        kind="vault_missing_from_ledger", severity=Severity.CRITICAL, source=SOURCE,
                        vault=reading.address, vault_owner=state.owner,
                        message=(f"vault {reading.address} (owner {state.owner}) exists on chain with "
                                 f"{state.total_balance} base units but not in the database"),
                        details={"dedupe_key": reading.address, "reconciliation_log_id": log.pk, "slot": reading.slot,
                                 "onchain_total_balance": state.total_balance, "onchain_event_seq": state.event_seq},
                    )
        if logs:
            logger.warning("reconciliation: %d vaults on chain unknown to the database", len(logs))
        return reopened + logs

    def reconcile(self, vaults: list[Vault]) -> list[ReconciliationLog]:
        # 1. the database (one snapshot), 2. the chain (batched), 3. one write transaction.
        views, readings = self._read(vaults)
        # A vault the ledger has open and the chain does not (or the reverse) may be a close, or
        # a reopening, the indexer has not stored yet: catch its history up, then read again.
        # What is still out of step after that is a real mismatch, reported at once.
        suspects = [view.vault for view, reading in zip(views, readings)
                    if (reading.vault is None) != view.vault.is_closed]
        if suspects:
            from monitoring.indexer.gaps import catch_up_vault

            for vault in suspects:
                catch_up_vault(self.chain, vault.address)
            refreshed = {view.vault.pk: (view, reading) for view, reading in zip(*self._read(suspects))}
            pairs = [refreshed.get(view.vault.pk, (view, reading)) for view, reading in zip(views, readings)]
        else:
            pairs = list(zip(views, readings))
        comparisons = [compare(view, reading) for view, reading in pairs]
        with transaction.atomic():
            logs = ReconciliationLog.objects.bulk_create([
                ReconciliationLog(
                    vault=c.vault, slot=c.reading.slot,
                    onchain_total_balance=c.reading.vault.total_balance if c.reading.vault else None,
                    token_account_amount=c.reading.token_amount,
                    database_total_balance=int(c.vault.total_balance),
                    difference=c.difference, status=c.status, details=c.details,
                )
                for c in comparisons
            ])
            for comparison, log in zip(comparisons, logs):
                self._alert(comparison, log)
                self._alert_if_frozen(comparison, log)
        counts = {s: sum(1 for c in comparisons if c.status == s) for s in ReconciliationLog.Status.values}
        logger.info("reconciled %d vaults: %s", len(comparisons), counts)
        _count_results([c.status for c in comparisons])
        return logs

    def _read(self, vaults: list[Vault]) -> tuple[list[DatabaseView], list[VaultReading]]:
        with _one_snapshot():
            fresh = {v.pk: v for v in Vault.objects.filter(pk__in=[v.pk for v in vaults])}
            ledgers = load_ledgers(list(fresh.values()))
        views = [DatabaseView(fresh[v.pk], ledgers[v.pk]) for v in vaults if v.pk in fresh]
        readings = self.chain.read_vaults([(view.vault.address, view.vault.token_account) for view in views])
        return views, readings

    def take_snapshots(self, kind: str, *, now: datetime | None = None) -> list[BalanceSnapshot]:
        """An `hourly` or `daily` snapshot of every open vault, from the chain (the source of
        truth) at the slot read. At most one per vault per hour (day): a rerun in the same period
        adds nothing."""
        if kind not in (BalanceSnapshot.Kind.HOURLY, BalanceSnapshot.Kind.DAILY):
            raise ValueError(f"not a periodic snapshot kind: {kind}")
        now = now or datetime.now(tz=timezone.utc)
        if kind == BalanceSnapshot.Kind.HOURLY:
            start = now.replace(minute=0, second=0, microsecond=0)
            end = start + timedelta(hours=1)
        else:
            start = now.replace(hour=0, minute=0, second=0, microsecond=0)
            end = start + timedelta(days=1)
        vaults = list(Vault.objects.filter(is_closed=False).order_by("pk"))
        taken = set(BalanceSnapshot.objects.filter(kind=kind, timestamp__gte=start, timestamp__lt=end)
                    .values_list("vault_id", flat=True))
        vaults = [v for v in vaults if v.pk not in taken]
        if not vaults:
            return []
        readings = self.chain.read_vaults([(v.address, v.token_account) for v in vaults])
        rows = [
            BalanceSnapshot(vault=v, kind=kind, total_balance=r.vault.total_balance, locked_balance=r.vault.locked_balance,
                            available_balance=r.vault.available_balance, slot=r.slot, timestamp=now)
            for v, r in zip(vaults, readings) if r.vault is not None
        ]
        with transaction.atomic():
            # Re-checked under the write: two runs racing past the lock still store one each.
            taken = set(BalanceSnapshot.objects.select_for_update().filter(
                kind=kind, timestamp__gte=start, timestamp__lt=end).values_list("vault_id", flat=True))
            created = BalanceSnapshot.objects.bulk_create([r for r in rows if r.vault_id not in taken])
        logger.info("took %d %s snapshots", len(created), kind)
        return created

    # ---- helpers ----

    def _vault_row(self, vault: str) -> Vault:
        parse_pubkey(vault)
        row = Vault.objects.filter(Q(address=vault) | Q(owner=vault)).first()
        if row is None:
            raise Vault.DoesNotExist(f"the database knows no vault {vault}")
        return row

    def _alert(self, comparison: Comparison, log: ReconciliationLog) -> None:
        vault, details = comparison.vault, comparison.details
        common = dict(source=SOURCE, vault=vault.address, vault_owner=vault.owner)
        if comparison.status == ReconciliationLog.Status.MISMATCH:
            # One alert per distinct discrepancy: every run still logs it, but a mismatch that
            # has not changed since it was reported is not announced again.
            key = "{}:{}:{}:{}:{}".format(
                vault.address, details.get("onchain_event_seq"), details["database_event_seq"], details["ledger_events"],
                ",".join(f"{name}={value}" for name, value in sorted(details["differences"].items()) if value)
                + "|" + ",".join(sorted(details["mismatched"])))
            kind = ("vault_missing_on_chain" if "vault_missing_on_chain" in details["mismatched"]
                    else "reconciliation_mismatch")
            if already_alerted(kind, [key]):
                return
            raise_alert(
                kind=kind, severity=Severity.CRITICAL,
                message=(f"vault {vault.address}: the database differs from the chain at slot {log.slot}: "
                         f"{describe_mismatch(details)}"),
                details={"dedupe_key": key, "reconciliation_log_id": log.pk, "slot": log.slot,
                         "difference": comparison.difference,
                         "onchain_total_balance": log.onchain_total_balance,
                         "token_account_amount": log.token_account_amount,
                         "database_total_balance": log.database_total_balance,
                         "differences": details["differences"], "mismatched": details["mismatched"]},
                **common,
            )
        elif comparison.status == ReconciliationLog.Status.ERROR:
            self._alert_if_stale(comparison, log, common)

    def _alert_if_frozen(self, comparison: Comparison, log: ReconciliationLog) -> None:
        """A vault token account frozen by the mint's freeze authority (USDT's mint has one) halts
        the vault's withdrawals and settlements, and so the liquidations of its positions: the
        program refuses them with TokenAccountFrozen. Critical, once per vault and freeze."""
        reading, vault = comparison.reading, comparison.vault
        if not reading.token_frozen:
            return
        # A freeze after a thaw is a new event: the key carries the last alert-free log.
        thawed = (ReconciliationLog.objects.filter(vault=vault).exclude(pk=log.pk)
                  .exclude(details__token_account_frozen=True).order_by("-timestamp", "-pk").values_list("pk", flat=True).first())
        key = f"{vault.address}:{reading.token_account}:frozen-after:{thawed}"
        if already_alerted("vault_token_account_frozen", [key]):
            return
        raise_alert(
            kind="vault_token_account_frozen", severity=Severity.CRITICAL,
            message=(f"vault {vault.address}: its token account {reading.token_account} is frozen by the mint's "
                     f"freeze authority; withdrawals and settlements of this vault fail (TokenAccountFrozen)"),
            details={"dedupe_key": key, "reconciliation_log_id": log.pk, "slot": log.slot,
                     "token_account": reading.token_account, "token_account_amount": log.token_account_amount},
            source=SOURCE, vault=vault.address, vault_owner=vault.owner,
        )

    def _alert_if_stale(self, comparison: Comparison, log: ReconciliationLog, common: dict) -> None:
        """The database behind the chain is normal for a moment: the indexer is storing the
        newest events. The same state for longer than the grace period is not."""
        details = comparison.details
        reason = details.get("reason")
        state = (details["database_event_seq"], details["ledger_events"], details.get("onchain_event_seq"))
        grace = timedelta(seconds=settings.MONITOR_RECONCILIATION_LAG_GRACE_SECONDS)
        first = None
        for earlier in (ReconciliationLog.objects.filter(vault=comparison.vault).exclude(pk=log.pk)
                        .order_by("-timestamp", "-pk")[:50]):
            d = earlier.details or {}
            if d.get("reason") != reason or (
                    d.get("database_event_seq"), d.get("ledger_events"), d.get("onchain_event_seq")) != state:
                break
            first = earlier
        if first is None or log.timestamp - first.timestamp < grace:
            return
        key = f"{comparison.vault.address}:{reason}:{state[0]}:{state[1]}:{state[2]}"
        if already_alerted("reconciliation_stale", [key]):
            return
        what = (f"the database has stayed behind the chain (event_seq {state[0]}, {state[1]} ledger events; "
                f"chain {state[2]})")
        raise_alert(
            kind="reconciliation_stale", severity=Severity.WARNING,
            message=f"vault {comparison.vault.address}: {what}, since {first.timestamp.isoformat()}",
            details={"dedupe_key": key, "reason": reason, "reconciliation_log_id": log.pk,
                     "since": first.timestamp.isoformat()},
            **common,
        )


def _count_results(statuses) -> None:
    """Reconciliation results for /metrics (console/metrics.py)."""
    try:
        from console.metrics import count_reconciliation

        count_reconciliation(statuses)
    except Exception:  # noqa: BLE001 - metrics never fail a run
        logger.debug("reconciliation metrics failed", exc_info=True)
