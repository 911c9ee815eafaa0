"""BalanceTracker against the local validator, PostgreSQL and Redis: the three-way comparison,
the issue's "Tampered row" fault (a row changed by hand is flagged with the exact difference),
batched reads, and the periodic snapshots."""
import logging
import time

import pytest
from django.db.models import F
from solders.keypair import Keypair

from monitoring.services.balance_tracker import BalanceTracker
from tests.monitoring.monitor_fixtures import chain, dev_vault, staff_alerts  # noqa: F401
from vaults.models import AuditTrail, BalanceSnapshot, ReconciliationLog, Transaction, Vault

pytestmark = [pytest.mark.localnet, pytest.mark.django_db(transaction=True)]


def test_a_recorded_vault_matches_the_chain(dev_vault, chain, staff_alerts):
    user = dev_vault(deposit=250_000)
    log = BalanceTracker(chain).reconcile_balance(user.owner)
    assert log.status == "matched", log.details
    assert (log.onchain_total_balance, log.token_account_amount, log.database_total_balance, log.difference) == (
        250_000, 250_000, 250_000, 0)
    assert log.slot > 0 and log.vault.owner == user.owner
    assert log.details["ledger_total_balance"] == 250_000 and log.details["ledger_events"] == 2
    assert not AuditTrail.objects.filter(action__startswith="alert.").exists()
    assert staff_alerts.receive_all(timeout=0.5) == []


def test_withdrawals_locks_and_unlocks_replay_to_the_chain_balances(dev_vault, chain):
    from vaults.services.cpi_manager import CPIManager
    from vaults.services.vault_manager import VaultManager

    user = dev_vault(deposit=1_000_000)
    VaultManager(chain).withdraw(user.owner, 150_000)
    CPIManager(chain).lock_collateral(user.owner, 400_000)
    CPIManager(chain).unlock_collateral(user.owner, 100_000)
    log = BalanceTracker(chain).reconcile_balance(user.address)
    assert log.status == "matched", log.details
    assert log.onchain_total_balance == log.details["ledger_total_balance"] == 850_000
    assert log.details["onchain_locked_balance"] == log.details["ledger_locked_balance"] == 300_000
    # v2 numbers events from the vault's generation start: 5 events, counted from there.
    assert log.details["ledger_events"] == log.details["onchain_events"] == 5


def test_tampered_vault_row_is_flagged_with_the_exact_difference(dev_vault, chain, staff_alerts, caplog):
    """The issue's fault: a database row changed by hand; the next reconciliation flags it."""
    user = dev_vault(deposit=1_000_000)
    Vault.objects.filter(owner=user.owner).update(total_balance=F("total_balance") + 123,
                                                  available_balance=F("available_balance") + 123)
    with caplog.at_level(logging.WARNING, logger="monitoring.alerts"):
        [log] = BalanceTracker(chain).reconcile_all()

    assert log.status == "mismatch"
    assert (log.onchain_total_balance, log.token_account_amount, log.database_total_balance) == (
        1_000_000, 1_000_000, 1_000_123)
    assert log.difference == 123
    assert log.details["differences"]["vault_row.total_balance"] == 123
    assert log.details["differences"]["ledger.total_balance"] == 0  # the transactions rows are intact

    audit = AuditTrail.objects.get(action="alert.reconciliation_mismatch")
    assert audit.vault_owner == user.owner and audit.outcome == "failure" and audit.actor_type == "system"
    assert audit.details["difference"] == 123 and audit.details["reconciliation_log_id"] == log.pk

    message = staff_alerts.receive()
    assert message["type"] == "alert" and message["kind"] == "reconciliation_mismatch"
    assert message["severity"] == "critical" and message["vault"] == user.address
    assert message["details"]["difference"] == 123 and "+123" in message["message"]
    assert any("reconciliation_mismatch" in r.getMessage() and user.address in r.getMessage() for r in caplog.records)

    # The next run logs the mismatch again but does not announce the same discrepancy twice;
    # a different one is announced.
    tracker = BalanceTracker(chain)
    assert tracker.reconcile_balance(user.owner).difference == 123
    assert AuditTrail.objects.filter(action="alert.reconciliation_mismatch").count() == 1
    Vault.objects.filter(owner=user.owner).update(total_balance=F("total_balance") + 1,
                                                  available_balance=F("available_balance") + 1)
    assert tracker.reconcile_balance(user.owner).difference == 124
    assert AuditTrail.objects.filter(action="alert.reconciliation_mismatch").count() == 2
    assert staff_alerts.receive()["details"]["difference"] == 124
    assert ReconciliationLog.objects.filter(vault__owner=user.owner, status="mismatch").count() == 3


def test_tampered_transaction_amount_is_flagged_with_the_exact_difference(dev_vault, chain, staff_alerts):
    user = dev_vault(deposit=700_000)
    Transaction.objects.filter(vault__owner=user.owner, transaction_type="deposit").update(amount=F("amount") - 1_000)
    [log] = BalanceTracker(chain).reconcile_all()
    assert log.status == "mismatch"
    assert log.difference == -1_000
    assert log.details["ledger_total_balance"] == 699_000
    assert log.details["mismatched"] == ["ledger.total_balance"]
    assert log.database_total_balance == log.onchain_total_balance == 700_000  # the vault row is intact
    message = staff_alerts.receive()
    assert message["kind"] == "reconciliation_mismatch" and message["details"]["difference"] == -1_000


def test_an_injected_transaction_row_is_a_mismatch(dev_vault, chain):
    user = dev_vault(deposit=300_000)
    row = Transaction.objects.get(vault__owner=user.owner, transaction_type="deposit")
    Transaction.objects.create(vault=row.vault, transaction_type="deposit", amount=5, signature="forged" * 10,
                               event_index=0, slot=row.slot, timestamp=row.timestamp)
    [log] = BalanceTracker(chain).reconcile_all()
    assert log.status == "mismatch" and "ledger_has_more_events_than_chain" in log.details["mismatched"]


def test_a_deleted_transaction_row_is_reported_when_the_database_stays_behind(dev_vault, chain, settings, staff_alerts):
    settings.MONITOR_RECONCILIATION_LAG_GRACE_SECONDS = 0
    user = dev_vault(deposit=400_000)
    Transaction.objects.filter(vault__owner=user.owner, transaction_type="deposit").delete()
    tracker = BalanceTracker(chain)
    first = tracker.reconcile_balance(user.owner)
    assert first.status == "error" and first.details["reason"] == "database_behind_chain"
    assert staff_alerts.receive_all(timeout=0.5) == []  # behind for a moment is normal (indexer lag)
    tracker.reconcile_balance(user.owner)  # still behind, not moving, past the grace period
    message = staff_alerts.receive()
    assert message["kind"] == "reconciliation_stale" and message["vault"] == user.address
    tracker.reconcile_balance(user.owner)
    assert AuditTrail.objects.filter(action="alert.reconciliation_stale").count() == 1  # once per state


def test_many_vaults_are_read_in_batches_each_with_its_own_accounts(dev_vault, chain):
    """121 vaults need three getMultipleAccounts calls of up to 100 addresses (50 vault + token
    pairs each); the real vault sits in the middle batch and must be compared with its own accounts."""
    real = dev_vault(deposit=5_000)
    real_row = Vault.objects.get(owner=real.owner)
    ghosts = []
    for _ in range(120):
        owner = Keypair().pubkey()
        ghosts.append(Vault(owner=str(owner), address=str(chain.vault_address(owner)),
                            token_account=str(chain.vault_token_address(owner)), onchain_created_at=0))
    Vault.objects.bulk_create(ghosts)
    ordered = list(Vault.objects.exclude(pk=real_row.pk).order_by("pk"))
    ordered.insert(75, real_row)  # pair 76 of 121: the second call

    logs = BalanceTracker(chain).reconcile(ordered)
    assert len(logs) == 121 == ReconciliationLog.objects.count()
    by_vault = {log.vault_id: log for log in logs}
    assert by_vault[real_row.pk].status == "matched" and by_vault[real_row.pk].onchain_total_balance == 5_000
    ghost_logs = [log for log in logs if log.vault_id != real_row.pk]
    assert {log.status for log in ghost_logs} == {"mismatch"}
    assert {tuple(log.details["mismatched"]) for log in ghost_logs} == {("vault_missing_on_chain",)}


def test_a_vault_account_missing_on_chain_is_critical_at_once(chain, staff_alerts):
    owner = Keypair().pubkey()
    Vault.objects.create(owner=str(owner), address=str(chain.vault_address(owner)),
                         token_account=str(chain.vault_token_address(owner)), onchain_created_at=0,
                         total_balance=5_000, available_balance=5_000, event_seq=2)
    [log] = BalanceTracker(chain).reconcile_all()
    assert (log.status, log.difference, log.onchain_total_balance) == ("mismatch", 5_000, None)
    message = staff_alerts.receive()
    assert (message["kind"], message["severity"]) == ("vault_missing_on_chain", "critical")
    assert "vault_row.total_balance +5000" in message["message"]
    assert "does not exist on chain" in message["message"]


def test_a_close_the_indexer_has_not_stored_is_caught_up_not_alerted(dev_vault, chain, staff_alerts):
    """Open in the ledger, gone on chain: before calling it missing, reconciliation applies the
    vault's newest history, which holds the owner's close."""
    from tests.monitoring.monitor_fixtures import send_raw
    from vaults.chain.client import TOKEN_PROGRAM_ID

    user = dev_vault(deposit=0)
    close = chain._vault_ix("close_vault", [], {
        "owner": user.keypair.pubkey(), "vault": chain.vault_address(user.owner),
        "vault_token_account": chain.vault_token_address(user.owner), "collateral_mint": chain.usdt_mint,
        "token_program": TOKEN_PROGRAM_ID})
    # Vault program v2 refuses to close a vault in its creation slot (its event numbers must stay
    # unique for the address): wait for the next slot.
    generation = chain.get_vault(user.owner).generation
    deadline = time.monotonic() + 10
    while chain.get_slot() <= generation and time.monotonic() < deadline:
        time.sleep(0.1)
    send_raw(chain, [close], user.keypair)
    assert chain.get_vault(user.owner) is None and not Vault.objects.get(owner=user.owner).is_closed

    [log] = BalanceTracker(chain).reconcile_all()

    assert (log.status, log.details["reason"]) == ("matched", "closed_in_both")
    assert Vault.objects.get(owner=user.owner).is_closed
    assert list(Transaction.objects.filter(vault__owner=user.owner).order_by("event_seq")
                .values_list("transaction_type", flat=True)) == ["initialize", "close"]
    assert staff_alerts.receive_all(timeout=0.5) == []


def test_a_forged_ledger_surplus_is_reported_with_its_real_difference(dev_vault, chain, staff_alerts):
    """The ledger holding more events than the chain (what a stored forgery looked like): the
    alert names the real difference of each field, never "+0"."""
    user = dev_vault(deposit=300_000)
    row = Transaction.objects.get(vault__owner=user.owner, transaction_type="deposit")
    Transaction.objects.create(vault=row.vault, transaction_type="deposit", amount=1_000_000, signature="f" * 88,
                               event_index=0, event_seq=row.event_seq + 1, slot=row.slot, timestamp=row.timestamp)
    [log] = BalanceTracker(chain).reconcile_all()
    assert (log.status, log.difference) == ("mismatch", 1_000_000)
    assert log.details["differences"]["ledger.total_balance"] == 1_000_000
    message = staff_alerts.receive()["message"]
    assert "ledger.total_balance +1000000" in message and "3 ledger events > chain 2 events" in message
    assert "+0" not in message


def _vault_the_database_never_saw(chain, localnet, amount):
    """A vault opened and funded straight on the validator, recorded by nobody."""
    from tests.localnet import fund_wallet
    from vaults.services.transaction_builder import TransactionBuilder

    user = Keypair()
    fund_wallet(chain, localnet, user.pubkey(), tokens=amount)
    builder = TransactionBuilder(chain)
    for instruction in (chain.initialize_vault_instruction(user.pubkey()),
                        chain.deposit_instruction(user.pubkey(), amount, chain.associated_token_address(user.pubkey()))):
        built = builder.build([instruction], user.pubkey(), [user])
        chain.confirm(chain.send(built.transaction), built.last_valid_block_height)
    return str(chain.vault_address(user.pubkey())), str(user.pubkey())


def test_vaults_on_chain_unknown_to_the_database_are_found(chain, localnet, settings, staff_alerts):
    vault, owner = _vault_the_database_never_saw(chain, localnet, 70_000)
    assert vault in chain.list_vault_addresses()
    tracker = BalanceTracker(chain)

    settings.MONITOR_RECONCILIATION_LAG_GRACE_SECONDS = 3600  # young: maybe not indexed yet
    [young] = [log for log in tracker.reconcile_unknown_vaults() if log.details["vault"] == vault]
    assert (young.status, young.details["reason"]) == ("error", "vault_not_yet_indexed")
    assert [m for m in staff_alerts.receive_all(timeout=0.5) if m.get("vault") == vault] == []

    settings.MONITOR_RECONCILIATION_LAG_GRACE_SECONDS = 0
    [log] = [log for log in tracker.reconcile_unknown_vaults() if log.details["vault"] == vault]
    assert (log.status, log.details["reason"], log.details["owner"]) == ("mismatch", "vault_missing_from_ledger", owner)
    assert (log.onchain_total_balance, log.database_total_balance, log.difference) == (70_000, None, -70_000)
    alert = next(m for m in staff_alerts.receive_all(timeout=2) if m.get("vault") == vault)
    assert alert["kind"] == "vault_missing_from_ledger" and "70000 base units" in alert["message"]
    # Reported once: the next run logs it again but does not alert again.
    tracker.reconcile_unknown_vaults()
    assert [m for m in staff_alerts.receive_all(timeout=0.5) if m.get("vault") == vault] == []
    # Once the database knows the vault, it is no longer unknown.
    Vault.objects.create(owner=owner, address=vault, token_account="t" * 44, onchain_created_at=0)
    assert vault not in {log.details["vault"] for log in tracker.reconcile_unknown_vaults()}


def test_a_vault_the_ledger_holds_closed_is_never_skipped_while_the_chain_has_it(chain, localnet, staff_alerts):
    """Whatever put a closed row there (before attribution, a forged event did), discovery
    reconciles it: its history is caught up and the row follows the chain."""
    vault, owner = _vault_the_database_never_saw(chain, localnet, 45_000)
    Vault.objects.create(owner=owner, address=vault, token_account=str(chain.vault_token_address(owner)),
                         onchain_created_at=0, is_closed=True)

    logs = [log for log in BalanceTracker(chain).reconcile_unknown_vaults() if log.vault and log.vault.address == vault]

    assert [(log.status, log.onchain_total_balance, log.database_total_balance) for log in logs] == [
        ("matched", 45_000, 45_000)]
    row = Vault.objects.get(owner=owner)
    assert (row.is_closed, row.total_balance) == (False, 45_000)
    assert [m for m in staff_alerts.receive_all(timeout=0.5) if m.get("vault") == vault] == []


def test_hourly_and_daily_snapshots_are_taken_once_per_period(dev_vault, chain):
    first, second = dev_vault(deposit=10_000), dev_vault(deposit=20_000)
    tracker = BalanceTracker(chain)
    hourly = tracker.take_snapshots("hourly")
    assert sorted(s.total_balance for s in hourly) == [10_000, 20_000]
    assert all(s.slot > 0 and s.kind == "hourly" for s in hourly)
    assert tracker.take_snapshots("hourly") == []  # the same hour: nothing more
    daily = tracker.take_snapshots("daily")
    assert len(daily) == 2 and tracker.take_snapshots("daily") == []
    assert BalanceSnapshot.objects.filter(kind="hourly").count() == 2
    assert BalanceSnapshot.objects.filter(kind="daily", vault__owner=second.owner).get().total_balance == 20_000
    with pytest.raises(ValueError):
        tracker.take_snapshots("event")


def test_track_vault_reads_the_vault_and_its_token_account_at_one_slot(dev_vault, chain):
    user = dev_vault(deposit=42_000)
    reading = BalanceTracker(chain).track_vault(user.address)
    assert reading.vault.owner == user.owner and reading.vault.total_balance == 42_000
    assert reading.token_amount == 42_000 and reading.slot > 0
    with pytest.raises(Vault.DoesNotExist):
        BalanceTracker(chain).track_vault(str(Keypair().pubkey()))


def test_a_frozen_vault_token_account_raises_one_critical_alert(dev_vault, chain, localnet, staff_alerts):
    """USDT's mint has a freeze authority (so has the localnet mint: the dev admin). A frozen vault
    token account halts the vault's withdrawals and settlements: the program refuses them with
    TokenAccountFrozen, and reconciliation (which reads the token account anyway) alerts."""
    from spl.token.constants import TOKEN_PROGRAM_ID
    from spl.token.instructions import FreezeAccountParams, freeze_account

    from tests.monitoring.monitor_fixtures import send_raw
    from vaults.errors import TransactionRejected
    from vaults.services.vault_manager import VaultManager

    user = dev_vault(deposit=300_000)
    token_account = chain.vault_token_address(user.owner)
    admin = localnet.admin
    freeze = freeze_account(FreezeAccountParams(program_id=TOKEN_PROGRAM_ID, account=token_account,
                                                mint=chain.usdt_mint, authority=admin.pubkey()))
    send_raw(chain, [freeze], admin)

    [log] = BalanceTracker(chain).reconcile([Vault.objects.get(owner=user.owner)])
    assert log.details["token_account_frozen"] is True
    alert = AuditTrail.objects.get(action="alert.vault_token_account_frozen")
    assert alert.details["severity"] == "critical" and alert.vault_owner == user.owner
    assert alert.details["token_account"] == str(token_account)
    message = staff_alerts.receive()
    assert (message["kind"], message["severity"], message["vault"]) == ("vault_token_account_frozen", "critical", user.address)
    # Once per freeze: the next run logs it again but does not alert again.
    BalanceTracker(chain).reconcile([Vault.objects.get(owner=user.owner)])
    assert AuditTrail.objects.filter(action="alert.vault_token_account_frozen").count() == 1
    # And the program names the failure instead of SPL Token's error 17.
    with pytest.raises(TransactionRejected) as refused:
        VaultManager(chain).withdraw(user.owner, 1)
    assert "TokenAccountFrozen" in str(refused.value.code) + str(refused.value.message) + str(refused.value.extra)
