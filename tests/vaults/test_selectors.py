from datetime import datetime, timedelta, timezone

import pytest

from vaults.fields import U64_MAX
from vaults.models import BalanceSnapshot, Transaction, Vault
from vaults.selectors import get_latest_balance, get_total_tvl, get_transactions, get_tvl_summary

pytestmark = pytest.mark.django_db

NOW = datetime(2024, 1, 15, 10, 30, tzinfo=timezone.utc)


def vault(n, balance=0, closed=False):
    return Vault.objects.create(owner=f"owner{n}".ljust(44, "1"), address=f"vault{n}".ljust(44, "1"),
                                token_account="t" * 44, total_balance=balance, available_balance=balance,
                                onchain_created_at=0, is_closed=closed)


def test_get_transactions_newest_first_with_limit():
    v = vault(1)
    for i in range(5):
        Transaction.objects.create(vault=v, transaction_type="deposit", amount=i + 1, signature=f"sig{i}",
                                   event_index=0, slot=i, timestamp=NOW + timedelta(minutes=i))
    assert [t.amount for t in get_transactions(v, 3)] == [5, 4, 3]
    assert len(get_transactions(v)) == 5


def test_transfers_appear_in_both_histories():
    sender, receiver = vault(1), vault(2)
    Transaction.objects.create(vault=sender, counterparty_vault=receiver, transaction_type="transfer", amount=9,
                               signature="t", event_index=0, slot=1, timestamp=NOW)
    assert [t.amount for t in get_transactions(receiver)] == [9]
    assert [t.amount for t in get_transactions(sender)] == [9]


def test_get_latest_balance():
    v = vault(1)
    assert get_latest_balance(v) is None
    for total, minutes in [(5, 0), (7, 2), (6, 1)]:
        BalanceSnapshot.objects.create(vault=v, kind="event", total_balance=total, locked_balance=0,
                                       available_balance=total, slot=minutes, timestamp=NOW + timedelta(minutes=minutes))
    assert get_latest_balance(v).total_balance == 7


def test_total_tvl_is_exact_beyond_bigint(clean_redis):
    vault(1, balance=U64_MAX)
    vault(2, balance=U64_MAX)
    vault(3, balance=1_000, closed=True)
    assert get_total_tvl() == 2 * U64_MAX  # above 2^64: NUMERIC sums, no float rounding
    summary = get_tvl_summary()
    assert summary["total_value_locked"] == 2 * U64_MAX and summary["total_vaults"] == 2
    vault(4, balance=1)
    assert get_tvl_summary()["total_value_locked"] == 2 * U64_MAX  # cached for TVL_CACHE_SECONDS
