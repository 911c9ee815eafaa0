"""Reads for the console pages (no writes here)."""
from __future__ import annotations

from django.db.models import Q

from console.models import AlertCase
from monitoring.indexer.sequence import SEQ_GENERATION_SHIFT
from monitoring.models import Alert


def alerts_with_status(status: str):
    """Alerts in one workflow status; an alert nobody has touched yet is open."""
    if status == AlertCase.Status.OPEN:
        return Alert.objects.filter(Q(case__isnull=True) | Q(case__status=AlertCase.Status.OPEN))
    return Alert.objects.filter(case__status=status)


def open_alert_counts() -> dict:
    return {
        "open": alerts_with_status(AlertCase.Status.OPEN).count(),
        "acknowledged": alerts_with_status(AlertCase.Status.ACKNOWLEDGED).count(),
    }


# ---- the public live pages (/ and /vaults/<owner>) ----------------------------------------------

def event_number(seq: int) -> int:
    """An event's number within its vault generation (vault program v2 numbers a vault's events
    from `(generation << 20) + 1`): what a person counts. `seq` itself stays the resume point."""
    return seq & ((1 << SEQ_GENERATION_SHIFT) - 1)


def tvl_totals() -> dict:
    """TVL, open vaults, locked and available, from the ledger (what GET /vault/tvl serves)."""
    from django.db.models import Count, Sum

    from vaults.models import Vault

    totals = Vault.objects.filter(is_closed=False).aggregate(
        total=Sum("total_balance"), locked=Sum("locked_balance"), available=Sum("available_balance"), vaults=Count("id"))
    return {"total_value_locked": int(totals["total"] or 0), "locked": int(totals["locked"] or 0),
            "available": int(totals["available"] or 0), "total_vaults": totals["vaults"]}


# Each type's effect on the total value locked (transfers move value between vaults).
TVL_EFFECT = {"deposit": 1, "surplus": 1, "withdrawal": -1}


def tvl_series(current_tvl: int, *, points: int = 500) -> dict:
    """TVL after each of the latest `points` deposits, withdrawals and surplus credits, replayed
    backwards from the current total: exact at every point, no snapshot job needed."""
    from vaults.models import Transaction

    rows = list(Transaction.objects.filter(transaction_type__in=TVL_EFFECT).order_by("-timestamp", "-slot", "-event_index")
                .values_list("timestamp", "transaction_type", "amount")[:points])
    times, values, tvl = [], [], current_tvl
    for timestamp, kind, amount in rows:
        times.append(int(timestamp.timestamp()))
        values.append(tvl)
        tvl -= TVL_EFFECT[kind] * int(amount)
    return {"t": times[::-1], "total": values[::-1]}


def recent_events(limit: int) -> list[dict]:
    """The newest vault events, in the stream's message shapes (what the feed shows live)."""
    from monitoring import streams
    from vaults.models import Transaction

    rows = (Transaction.objects.select_related("vault", "counterparty_vault")
            .order_by("-timestamp", "-slot", "-event_index")[:limit])
    return [m for m in (streams.message_for_transaction(row) for row in rows) if m is not None]


def latest_reconciliation() -> dict | None:
    from datetime import timedelta

    from django.db.models import Count, Max

    from vaults.models import ReconciliationLog

    last = ReconciliationLog.objects.aggregate(at=Max("timestamp"))["at"]
    if last is None:
        return None
    counts = dict(ReconciliationLog.objects.filter(timestamp__gte=last - timedelta(seconds=60))
                  .values_list("status").annotate(n=Count("id")))
    status = "mismatch" if counts.get("mismatch") else ("error" if counts.get("error") else "matched")
    return {"at": int(last.timestamp()), "status": status,
            "counts": {s: counts.get(s, 0) for s in ReconciliationLog.Status.values}}


def live_summary() -> dict:
    from django.conf import settings

    totals = tvl_totals()
    return {**totals, "series": tvl_series(totals["total_value_locked"]),
            "events": recent_events(settings.LIVE_FEED_EVENTS), "reconciliation": latest_reconciliation(),
            "decimals": settings.COLLATERAL_DECIMALS, "symbol": settings.COLLATERAL_SYMBOL}


def vault_live(owner: str) -> dict | None:
    from django.conf import settings

    from monitoring import streams
    from vaults.models import BalanceSnapshot, Vault
    from vaults.selectors import get_transactions

    vault = Vault.objects.filter(owner=owner).first()
    if vault is None:
        return None
    snapshots = list(BalanceSnapshot.objects.filter(vault=vault).order_by("-timestamp", "-id")[:500])[::-1]
    history = [m for m in (streams.message_for_transaction(r) for r in get_transactions(vault, 100)) if m]
    return {
        "owner": vault.owner, "vault": vault.address, "token_account": vault.token_account,
        "total_balance": int(vault.total_balance), "locked_balance": int(vault.locked_balance),
        "available_balance": int(vault.available_balance), "seq": int(vault.event_seq),
        "event_number": event_number(int(vault.event_seq)), "is_closed": vault.is_closed,
        "series": {"t": [int(s.timestamp.timestamp()) for s in snapshots],
                   "total": [int(s.total_balance) for s in snapshots],
                   "locked": [int(s.locked_balance) for s in snapshots]},
        "history": history, "decimals": settings.COLLATERAL_DECIMALS, "symbol": settings.COLLATERAL_SYMBOL,
    }
