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


def _history_fixture():
    """Rows with ties everywhere the order can tie: same timestamp, same slot, same event index
    in different transactions; transfers in both directions; another vault's rows interleaved."""
    import random

    rng = random.Random(7)
    me, other, third = vault(1), vault(2), vault(3)
    mine = []
    for i in range(157):
        kind = rng.choice(["own", "own", "in", "out", "foreign"])
        sender, counterparty = {"own": (me, None), "in": (other, me), "out": (me, third),
                                "foreign": (other, third)}[kind]
        row = Transaction.objects.create(
            vault=sender, counterparty_vault=counterparty,
            transaction_type="transfer" if counterparty else "deposit", amount=i + 1, signature=f"sig{i}",
            event_index=rng.randrange(2), slot=rng.randrange(5),
            timestamp=NOW + timedelta(seconds=rng.randrange(6), microseconds=rng.choice([0, 1, 999_999])))
        if kind != "foreign":
            mine.append(row)
    expected = sorted(mine, key=lambda t: (t.timestamp, t.slot, t.event_index, t.id), reverse=True)
    return me, expected


@pytest.mark.parametrize("limit", [1, 7, 50, 1000])
def test_keyset_pages_return_exactly_the_history_in_order(limit):
    from vaults.selectors import HistoryCursor, get_transaction_page

    me, expected = _history_fixture()
    seen, cursor = [], None
    while True:
        # By the vault, or by its owner's wallet (the API's form: the vault found in the same query).
        rows, next_cursor = get_transaction_page(me if limit % 2 else me.owner, limit, cursor)
        assert len(rows) <= limit
        seen += rows
        if next_cursor is None:
            break
        cursor = HistoryCursor.decode(next_cursor.encode())  # through the wire format
    # Nothing lost, doubled or out of order; each row as the API serves it (UTC, whole seconds).
    assert [(r.id, r.vault_address, r.transaction_type, r.amount, r.signature, r.timestamp) for r in seen] == [
        (str(t.id), t.vault.address, t.transaction_type, t.amount, t.signature,
         t.timestamp.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")) for t in expected]


def test_history_cursor_rejects_tampering():
    from vaults.selectors import HistoryCursor

    cursor = HistoryCursor(NOW, 5, 1, __import__("uuid").uuid4())
    assert HistoryCursor.decode(cursor.encode()) == cursor
    for bad in ["", "x", "!!!!", cursor.encode()[:-3], "a" * 200, "MS4yLjM"]:
        with pytest.raises(ValueError):
            HistoryCursor.decode(bad)


def test_a_page_by_an_unknown_owner_is_empty():
    from vaults.selectors import get_transaction_page, vault_exists_for_owner

    me, _ = _history_fixture()
    assert get_transaction_page("1" * 44, 10) == ([], None)
    assert not vault_exists_for_owner("1" * 44) and vault_exists_for_owner(me.owner)


def test_the_history_query_is_planned_once_per_connection():
    """Planning it costs PostgreSQL more than running it: it is a prepared statement, reused by
    every later page on the same (pooled) connection."""
    from django.db import connection

    from vaults.selectors import HistoryCursor, get_transaction_page

    me, _ = _history_fixture()

    def prepared_history_statements():
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                           ["%FROM transactions WHERE vault_id%"])
            return cursor.fetchone()[0]

    rows, cursor = get_transaction_page(me.owner, 2)
    assert prepared_history_statements() == 1
    get_transaction_page(me.owner, 2)
    get_transaction_page(me.owner, 2, HistoryCursor.decode(cursor.encode()))  # the next-page form: its own
    assert prepared_history_statements() == 2
    get_transaction_page(me.owner, 3, HistoryCursor.decode(cursor.encode()))
    assert prepared_history_statements() == 2
