"""The seed tables: u64 amounts survive, (signature, event_index) is unique, the audit trail is
append-only even for raw SQL."""
from datetime import datetime, timezone

import pytest
from django.db import IntegrityError, connection, transaction

from vaults.fields import U64_MAX
from vaults.models import AppendOnlyViolation, AuditTrail, Transaction, Vault

pytestmark = pytest.mark.django_db


def make_vault(owner="A" * 44, balance=0):
    return Vault.objects.create(owner=owner, address=owner[::-1], token_account="T" * 44,
                                total_balance=balance, available_balance=balance, onchain_created_at=0)


def make_tx(vault, signature="s" * 88, index=0, amount=1):
    return Transaction.objects.create(vault=vault, transaction_type="deposit", amount=amount, signature=signature,
                                      event_index=index, slot=1, timestamp=datetime.now(tz=timezone.utc))


def test_u64_max_round_trips_as_an_int():
    vault = make_vault(balance=U64_MAX)
    row = make_tx(vault, amount=U64_MAX)
    fresh = Transaction.objects.get(pk=row.pk)
    assert fresh.amount == U64_MAX and type(fresh.amount) is int
    assert Vault.objects.get(pk=vault.pk).total_balance == 18446744073709551615
    with connection.cursor() as cursor:
        cursor.execute("SELECT data_type, numeric_precision, numeric_scale FROM information_schema.columns "
                       "WHERE table_name = 'transactions' AND column_name = 'amount'")
        assert cursor.fetchone() == ("numeric", 20, 0)


def test_amounts_above_u64_or_negative_are_refused_by_the_database():
    vault = make_vault()
    for amount in (U64_MAX + 1, -1):
        with pytest.raises(IntegrityError), transaction.atomic():
            make_tx(vault, signature=f"sig{amount}", amount=amount)


def test_signature_and_event_index_are_unique():
    vault = make_vault()
    make_tx(vault, index=0)
    make_tx(vault, index=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_tx(vault, index=0)


def test_available_must_equal_total_minus_locked():
    with pytest.raises(IntegrityError), transaction.atomic():
        Vault.objects.create(owner="B" * 44, address="C" * 44, token_account="D" * 44, total_balance=10,
                             locked_balance=3, available_balance=8, onchain_created_at=0)


def test_seed_table_names_and_indexes():
    tables = set(connection.introspection.table_names())
    assert {"transactions", "balance_snapshots", "vaults", "reconciliation_logs", "audit_trail"} <= tables
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "transactions")
    indexed = {tuple(c["columns"]) for c in constraints.values() if c["index"] or c["unique"]}
    assert {("vault_id",), ("timestamp",), ("signature", "event_index")} <= indexed
    # The seeds' composite (vault, timestamp): the history indexes lead with it (and with the
    # receiving vault, for transfers in), then the rest of the history's order.
    assert ("vault_id", "timestamp", "slot", "event_index", "id") in indexed
    assert ("counterparty_vault_id", "timestamp", "slot", "event_index", "id") in indexed


def test_audit_trail_is_append_only():
    row = AuditTrail.objects.create(actor_type="staff", actor="a", action="x", method="POST", path="/",
                                    status_code=200, outcome="success")
    row.action = "changed"
    with pytest.raises(AppendOnlyViolation):
        row.save()
    with pytest.raises(AppendOnlyViolation):
        row.delete()
    with pytest.raises(AppendOnlyViolation):
        AuditTrail.objects.filter(pk=row.pk).update(action="changed")
    for statement in ("UPDATE audit_trail SET action = 'changed'", "DELETE FROM audit_trail"):
        with pytest.raises(Exception, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert AuditTrail.objects.get(pk=row.pk).action == "x"
