"""VaultMonitor (the seeds' `monitor_vaults`, `get_tvl`): security watch, TVL and analytics.

Unauthorized access is read from the chain's *failed* transactions, which the indexer skips:
`getSignaturesForAddress` on the vault program (entries with `err` set, from the stored cursor
`vault_monitor.failed_transactions` on), then `getTransaction` for each. The vault program's own
error names the attempt (names from idl/collateral_vault.json, never hard-coded codes):
- `UnauthorizedCaller` on lock / unlock / transfer: a caller whose PDA is not on the allow-list
  (a forged signer, a direct call, or a program that is not authorized) -> `unauthorized_caller`;
- `NotVaultOwner`: somebody who is not the owner tried to move the vault's money ->
  `non_owner_access`.
On the first run (no cursor) only the newest page of signatures is examined.

Anomalies are read from the `transactions` rows:
- a withdrawal of at least MONITOR_LARGE_WITHDRAWAL_AMOUNT -> `large_withdrawal` (once per
  event);
- outflow (withdrawals and settlement transfers out) over the last MONITOR_OUTFLOW_WINDOW_SECONDS
  of at least MONITOR_OUTFLOW_VAULT_AMOUNT for one vault, or MONITOR_OUTFLOW_TOTAL_AMOUNT for
  all vaults together -> `fast_outflow` (at most once per vault, or for the total, per window).

TVL comes from the database (`vaults` rows, open vaults): the same numbers the API's
`GET /vault/tvl` serves, so the broadcast and the API can never disagree, and exact to the unit
(integer sums of NUMERIC). It is only as right as the ledger, which is what reconciliation proves
against the chain on every run.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import Trunc

from monitoring import streams
from monitoring.models import IndexerCursor
from monitoring.services.alerts import ACTION_PREFIX, Severity, already_alerted, raise_alert
from vaults.cache_keys import TVL_KEY
from vaults.chain.client import ChainClient, FailedVaultCall, get_chain_client
from vaults.models import AuditTrail, BalanceSnapshot, ReconciliationLog, ReconciliationRun, Transaction, Vault

logger = logging.getLogger(__name__)

SOURCE = "vault_monitor"
FAILED_TX_CURSOR = "vault_monitor.failed_transactions"
# Vault program errors that mean "somebody tried what they may not" (IDL names).
UNAUTHORIZED_CALLER = "UnauthorizedCaller"
NOT_VAULT_OWNER = "NotVaultOwner"
OUTFLOW_TYPES = (Transaction.Type.WITHDRAWAL, Transaction.Type.TRANSFER)


class VaultMonitor:
    def __init__(self, chain: ChainClient | None = None):
        self._chain = chain

    @property
    def chain(self) -> ChainClient:
        if self._chain is None:
            self._chain = get_chain_client()
        return self._chain

    # ---- the seeds' methods ----

    def monitor_vaults(self) -> dict:
        """One pass of the security watch: failed transactions, then the anomaly rules.
        Returns the number of alerts raised by each."""
        return {"unauthorized": len(self.scan_failed_transactions()), "anomalies": len(self.detect_anomalies())}

    def get_tvl(self) -> dict:
        """The seeds' TVL answer: total value locked, the number of (open) vaults, a timestamp.
        One aggregate query, so the total and the count are of the same rows."""
        totals = Vault.objects.filter(is_closed=False).aggregate(total=Sum("total_balance"), count=Count("id"))
        return {
            "total_value_locked": int(totals["total"] or 0),
            "total_vaults": totals["count"],
            "timestamp": int(time.time()),
        }

    # ---- TVL job ----

    def broadcast_tvl(self) -> dict:
        """Computes the TVL, caches it for TVL_CACHE_SECONDS under the key the API reads, and
        publishes `tvl_update` (nothing is written to the database, so it goes out at once)."""
        summary = self.get_tvl()
        cache.set(TVL_KEY, summary, timeout=settings.TVL_CACHE_SECONDS)
        streams.publish_now([streams.tvl_update(**summary)])
        return summary

    # ---- unauthorized access ----

    def scan_failed_transactions(self) -> list[AuditTrail]:
        cursor = IndexerCursor.objects.filter(name=FAILED_TX_CURSOR).first()
        until = cursor.last_signature if cursor and cursor.last_signature else None
        entries = self._signatures_since(until)
        if not entries:
            return []
        newest = entries[0]
        failed = [e for e in reversed(entries) if e.failed]  # oldest first
        calls = [call for call in (self.chain.get_failed_vault_call(e.signature) for e in failed) if call is not None]
        known = self.chain.get_authority() if calls else None
        allowed = {p.caller_authority: p.program_id for p in (known.authorized_programs if known else ())}
        alerts = []
        with transaction.atomic():
            seen = already_alerted("unauthorized_caller", [c.signature for c in calls])
            seen |= already_alerted("non_owner_access", [c.signature for c in calls])
            for call in calls:
                if call.signature not in seen:
                    alert = self._unauthorized_alert(call, allowed)
                    if alert is not None:
                        alerts.append(alert)
            IndexerCursor.objects.update_or_create(
                name=FAILED_TX_CURSOR, defaults={"last_signature": newest.signature, "last_slot": newest.slot})
        return alerts

    def _signatures_since(self, until: str | None):
        page_size = settings.MONITOR_SIGNATURE_PAGE_SIZE
        entries, before = [], None
        for _ in range(settings.MONITOR_SIGNATURE_MAX_PAGES if until else 1):
            page = self.chain.list_program_signatures(before=before, until=until, limit=page_size)
            entries.extend(page)
            if len(page) < page_size:
                return entries
            before = page[-1].signature
        if until:
            logger.warning("more than %d program signatures since the last scan: older ones were not examined",
                           len(entries))
        return entries

    def _unauthorized_alert(self, call: FailedVaultCall, allowed: dict) -> AuditTrail | None:
        vault_address = call.accounts.get("vault") or call.accounts.get("from_vault")
        vault_row = Vault.objects.filter(address=vault_address).first() if vault_address else None
        common = dict(source=SOURCE, severity=Severity.CRITICAL, vault=vault_address, signature=call.signature,
                      vault_owner=vault_row.owner if vault_row else "", status_code=403)
        facts = {"dedupe_key": call.signature, "slot": call.slot, "instruction": call.instruction,
                 "program_error": call.error_name, "program_error_code": call.error_code,
                 "signers": call.signers, "invoked_by": call.invoked_by}
        what = call.instruction or "vault instruction"
        if call.error_name == UNAUTHORIZED_CALLER:
            caller = call.accounts.get("caller_authority")
            via = f"by CPI from program {call.invoked_by}" if call.invoked_by else "called directly"
            return raise_alert(
                kind="unauthorized_caller",
                message=(f"blocked {what} on vault {vault_address}: caller {caller or 'unknown'} ({via}) is not on "
                         f"the allow-list ({call.error_name} {call.error_code})"),
                details={**facts, "caller_authority": caller, "caller_on_allow_list": caller in allowed},
                **common,
            )
        if call.error_name == NOT_VAULT_OWNER:
            claimed = call.accounts.get("owner")
            return raise_alert(
                kind="non_owner_access",
                message=(f"blocked {what} on vault {vault_address} by {claimed or 'unknown'}, who is not its owner "
                         f"({call.error_name} {call.error_code})"),
                details={**facts, "claimed_owner": claimed, "actual_owner": vault_row.owner if vault_row else None},
                **common,
            )
        return None

    # ---- anomalies ----

    def detect_anomalies(self, *, now: datetime | None = None) -> list[AuditTrail]:
        now = now or datetime.now(tz=timezone.utc)
        with transaction.atomic():
            return self._large_withdrawals(now) + self._fast_outflow(now)

    def _large_withdrawals(self, now: datetime) -> list[AuditTrail]:
        threshold = settings.MONITOR_LARGE_WITHDRAWAL_AMOUNT
        since = now - timedelta(seconds=settings.MONITOR_ANOMALY_LOOKBACK_SECONDS)
        rows = list(Transaction.objects.filter(transaction_type=Transaction.Type.WITHDRAWAL, amount__gte=threshold,
                                               timestamp__gte=since).select_related("vault").order_by("timestamp"))
        keys = {f"{r.signature}#{r.event_index}": r for r in rows}
        seen = already_alerted("large_withdrawal", keys)
        alerts = []
        for key, row in keys.items():
            if key in seen:
                continue
            alerts.append(raise_alert(
                kind="large_withdrawal", source=SOURCE, severity=Severity.WARNING, status_code=200,
                vault=row.vault.address, vault_owner=row.vault.owner, signature=row.signature,
                message=f"large withdrawal of {row.amount} from vault {row.vault.address} (threshold {threshold})",
                details={"dedupe_key": key, "amount": int(row.amount), "threshold": threshold, "slot": row.slot,
                         "event_index": row.event_index},
            ))
        return alerts

    def _fast_outflow(self, now: datetime) -> list[AuditTrail]:
        window = settings.MONITOR_OUTFLOW_WINDOW_SECONDS
        since = now - timedelta(seconds=window)
        recent = Transaction.objects.filter(transaction_type__in=OUTFLOW_TYPES, timestamp__gte=since)
        per_vault = {row["vault_id"]: int(row["total"]) for row in
                     recent.values("vault_id").annotate(total=Sum("amount"))}
        total = sum(per_vault.values())
        already = set(AuditTrail.objects.filter(action=f"{ACTION_PREFIX}fast_outflow", timestamp__gte=since)
                      .values_list("details__scope", flat=True))
        alerts = []
        vault_limit = settings.MONITOR_OUTFLOW_VAULT_AMOUNT
        over = {pk: amount for pk, amount in per_vault.items() if amount >= vault_limit}
        for vault in Vault.objects.filter(pk__in=over).order_by("pk"):
            scope = f"vault:{vault.address}"
            if scope in already:
                continue
            alerts.append(raise_alert(
                kind="fast_outflow", source=SOURCE, severity=Severity.WARNING, status_code=200,
                vault=vault.address, vault_owner=vault.owner,
                message=f"vault {vault.address} paid out {over[vault.pk]} in the last {window} s (limit {vault_limit})",
                details={"scope": scope, "outflow": over[vault.pk], "limit": vault_limit, "window_seconds": window},
            ))
        total_limit = settings.MONITOR_OUTFLOW_TOTAL_AMOUNT
        if total >= total_limit and "total" not in already:
            alerts.append(raise_alert(
                kind="fast_outflow", source=SOURCE, severity=Severity.CRITICAL, status_code=200,
                message=f"all vaults paid out {total} in the last {window} s (limit {total_limit})",
                details={"scope": "total", "outflow": total, "limit": total_limit, "window_seconds": window,
                         "vaults": len(per_vault)},
            ))
        return alerts

    # ---- analytics (read-only; the admin's monitoring dashboard) ----

    def analytics(self, *, days: int = 30, hours: int = 48) -> dict:
        now = datetime.now(tz=timezone.utc)
        return {
            "tvl": self.get_tvl(),
            "tvl_hourly": self._tvl_series(BalanceSnapshot.Kind.HOURLY, "hour", now - timedelta(hours=hours)),
            "tvl_daily": self._tvl_series(BalanceSnapshot.Kind.DAILY, "day", now - timedelta(days=days)),
            "flows_daily": self._flows_per_day(now - timedelta(days=days)),
            "reconciliation": self._reconciliation_summary(now - timedelta(hours=24)),
            "alerts_by_kind": list(
                AuditTrail.objects.filter(action__startswith=ACTION_PREFIX, timestamp__gte=now - timedelta(days=days))
                .values("action").annotate(count=Count("id")).order_by("-count", "action")),
            "recent_alerts": list(AuditTrail.objects.filter(action__startswith=ACTION_PREFIX).order_by("-timestamp")[:20]),
        }

    @staticmethod
    def _tvl_series(kind: str, unit: str, since: datetime) -> list[dict]:
        rows = (BalanceSnapshot.objects.filter(kind=kind, timestamp__gte=since)
                .annotate(bucket=Trunc("timestamp", unit)).values("bucket")
                .annotate(tvl=Sum("total_balance"), locked=Sum("locked_balance"), vaults=Count("vault", distinct=True))
                .order_by("bucket"))
        return [{"bucket": r["bucket"], "tvl": int(r["tvl"] or 0), "locked": int(r["locked"] or 0),
                 "vaults": r["vaults"]} for r in rows]

    @staticmethod
    def _flows_per_day(since: datetime) -> list[dict]:
        rows = (Transaction.objects.filter(timestamp__gte=since,
                                           transaction_type__in=[Transaction.Type.DEPOSIT, Transaction.Type.WITHDRAWAL])
                .annotate(day=Trunc("timestamp", "day")).values("day")
                .annotate(deposits=Count("id", filter=Q(transaction_type=Transaction.Type.DEPOSIT)),
                          deposited=Sum("amount", filter=Q(transaction_type=Transaction.Type.DEPOSIT)),
                          withdrawals=Count("id", filter=Q(transaction_type=Transaction.Type.WITHDRAWAL)),
                          withdrawn=Sum("amount", filter=Q(transaction_type=Transaction.Type.WITHDRAWAL)))
                .order_by("-day"))
        out = []
        for r in rows:
            deposited, withdrawn = int(r["deposited"] or 0), int(r["withdrawn"] or 0)
            out.append({"day": r["day"], "deposits": r["deposits"], "deposited": deposited,
                        "withdrawals": r["withdrawals"], "withdrawn": withdrawn, "net": deposited - withdrawn})
        return out

    @staticmethod
    def _reconciliation_summary(since: datetime) -> dict:
        """Full runs keep their counts in `reconciliation_runs` (matched vaults have no log row);
        single-vault checks are log rows without a run."""
        recent = ReconciliationLog.objects.filter(timestamp__gte=since)
        counts = {r["status"]: r["n"] for r in recent.filter(run__isnull=True).values("status").annotate(n=Count("id"))}
        runs = ReconciliationRun.objects.filter(started_at__gte=since)
        totals = runs.aggregate(matched=Sum("matched"), mismatch=Sum("mismatched"), error=Sum("errors"))
        last_log = recent.order_by("-timestamp").values_list("timestamp", flat=True).first()
        last_run = runs.order_by("-finished_at").values_list("finished_at", flat=True).first()
        return {
            "counts": {status: counts.get(status, 0) + int(totals.get(status) or 0)
                       for status in ReconciliationLog.Status.values},
            "last_run": max((t for t in (last_log, last_run) if t is not None), default=None),
            "mismatches": list(recent.filter(status=ReconciliationLog.Status.MISMATCH)
                               .select_related("vault").order_by("-timestamp")[:10]),
        }
