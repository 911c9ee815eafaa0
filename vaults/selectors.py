"""Reads from the database: the seeds' `get_transactions`, `get_latest_balance`, `get_total_tvl`."""
import time

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q, Sum

from vaults.cache_keys import TVL_KEY
from vaults.models import BalanceSnapshot, Transaction, Vault


def get_vault_by_owner(owner: str) -> Vault | None:
    return Vault.objects.filter(owner=owner).first()


def get_transactions(vault: Vault, limit: int = 100):
    """Newest first; a transfer appears in both the sender's and the receiver's history."""
    return (
        Transaction.objects.filter(Q(vault=vault) | Q(counterparty_vault=vault))
        .select_related("vault")
        .order_by("-timestamp", "-slot", "-event_index")[:limit]
    )


def get_latest_balance(vault: Vault) -> BalanceSnapshot | None:
    return BalanceSnapshot.objects.filter(vault=vault).order_by("-timestamp", "-id").first()


def get_total_tvl() -> int:
    total = Vault.objects.filter(is_closed=False).aggregate(total=Sum("total_balance"))["total"]
    return int(total or 0)


def get_tvl_summary() -> dict:
    """The seeds' TVL answer, cached for TVL_CACHE_SECONDS."""
    cached = cache.get(TVL_KEY)
    if cached is not None:
        return cached
    summary = {
        "total_value_locked": get_total_tvl(),
        "total_vaults": Vault.objects.filter(is_closed=False).count(),
        "timestamp": int(time.time()),
    }
    cache.set(TVL_KEY, summary, timeout=settings.TVL_CACHE_SECONDS)
    return summary
