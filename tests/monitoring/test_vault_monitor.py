"""VaultMonitor against the local validator: real failed attacks (sent without preflight, so they
land on chain as failed transactions) are detected; large withdrawals and fast outflow are
flagged once; the TVL is exact."""
import pytest
from solders.keypair import Keypair

from monitoring.services.vault_monitor import FAILED_TX_CURSOR, VaultMonitor
from tests.localnet import fund_wallet
from tests.monitoring.monitor_fixtures import chain, dev_vault, send_raw, staff_alerts  # noqa: F401
from vaults.chain.client import TOKEN_PROGRAM_ID
from vaults.models import AuditTrail, Vault
from vaults.services.vault_manager import VaultManager

pytestmark = [pytest.mark.localnet, pytest.mark.django_db(transaction=True)]


def test_lock_with_a_forged_caller_is_detected(dev_vault, chain, localnet, staff_alerts):
    """tests/programs/test_security.py::test_lock_with_forged_signer_fails, on the local validator:
    `lock_collateral` called directly, the caller authority a key the attacker holds."""
    victim = dev_vault(deposit=1_000_000)
    forger = Keypair()
    fund_wallet(chain, localnet, forger.pubkey())
    monitor = VaultMonitor(chain)
    monitor.scan_failed_transactions()  # sets the cursor: only what follows is new
    signature = send_raw(chain, [chain.lock_collateral_instruction(victim.owner, 10, forger.pubkey())], forger)
    vault = chain.vault_address(victim.owner)
    unlock = chain._vault_ix("unlock_collateral", [10], {
        "caller_authority": forger.pubkey(), "vault": vault,
        "caller_lock": chain.caller_lock_address(vault, chain.position_manager_id)})
    unlock_signature = send_raw(chain, [unlock], forger)
    assert chain.get_vault(victim.owner).locked_balance == 0  # the program refused it

    alert, unlock_alert = monitor.scan_failed_transactions()  # oldest first
    assert unlock_alert.signature == unlock_signature and unlock_alert.details["instruction"] == "unlock_collateral"
    assert unlock_alert.action == "alert.unauthorized_caller"
    assert alert.action == "alert.unauthorized_caller" and alert.signature == signature
    assert alert.vault_owner == victim.owner and alert.outcome == "failure"
    details = alert.details
    assert details["instruction"] == "lock_collateral"
    assert (details["program_error"], details["program_error_code"]) == ("UnauthorizedCaller", 6019)
    assert details["caller_authority"] == str(forger.pubkey()) and details["caller_on_allow_list"] is False
    assert details["invoked_by"] is None

    message, _ = staff_alerts.receive(), staff_alerts.receive()
    assert message["kind"] == "unauthorized_caller" and message["severity"] == "critical"
    assert message["vault"] == victim.address and message["details"]["signature"] == signature
    assert str(forger.pubkey()) in message["message"]

    assert monitor.scan_failed_transactions() == []  # the cursor moved on
    assert AuditTrail.objects.filter(action="alert.unauthorized_caller").count() == 2


def test_withdrawal_by_a_non_owner_is_detected_and_reported_once(dev_vault, chain, localnet, staff_alerts):
    victim = dev_vault(deposit=500_000)
    mallory = Keypair()
    fund_wallet(chain, localnet, mallory.pubkey(), tokens=1)
    # The victim's vault and vault token account, with Mallory as the signing "owner".
    withdraw = chain._vault_ix("withdraw", [400_000], {
        "owner": mallory.pubkey(),
        "vault": chain.vault_address(victim.owner),
        "vault_token_account": chain.vault_token_address(victim.owner),
        "user_token_account": chain.associated_token_address(mallory.pubkey()),
        "collateral_mint": chain.usdt_mint,
        "token_program": TOKEN_PROGRAM_ID,
    })
    signature = send_raw(chain, [withdraw], mallory)
    assert chain.get_vault(victim.owner).total_balance == 500_000

    monitor = VaultMonitor(chain)
    alerts = monitor.scan_failed_transactions()  # first run: no cursor, the newest page
    mine = [a for a in alerts if a.signature == signature]
    assert len(mine) == 1
    alert = mine[0]
    assert alert.action == "alert.non_owner_access" and alert.vault_owner == victim.owner
    assert alert.details["claimed_owner"] == str(mallory.pubkey()) and alert.details["actual_owner"] == victim.owner
    assert (alert.details["program_error"], alert.details["instruction"]) == ("NotVaultOwner", "withdraw")
    assert any(m["kind"] == "non_owner_access" and m["details"]["signature"] == signature
               for m in staff_alerts.receive_all())

    # Without the cursor (lost, or a second scanner), the same attempt is still reported once.
    from monitoring.models import IndexerCursor

    IndexerCursor.objects.filter(name=FAILED_TX_CURSOR).delete()
    monitor.scan_failed_transactions()
    assert AuditTrail.objects.filter(action="alert.non_owner_access", signature=signature).count() == 1


def test_a_large_withdrawal_is_flagged_once(dev_vault, chain, settings, staff_alerts):
    settings.MONITOR_LARGE_WITHDRAWAL_AMOUNT = 500_000
    settings.MONITOR_OUTFLOW_VAULT_AMOUNT = settings.MONITOR_OUTFLOW_TOTAL_AMOUNT = 10**15
    user = dev_vault(deposit=1_000_000)
    manager = VaultManager(chain)
    small = manager.withdraw(user.owner, 499_999).signature
    large = manager.withdraw(user.owner, 500_001).signature

    monitor = VaultMonitor(chain)
    [alert] = monitor.detect_anomalies()
    assert alert.action == "alert.large_withdrawal" and alert.signature == large and alert.signature != small
    assert alert.details["amount"] == 500_001 and alert.details["threshold"] == 500_000
    assert alert.outcome == "success"  # the withdrawal itself was legitimate
    message = staff_alerts.receive()
    assert message["kind"] == "large_withdrawal" and message["vault"] == user.address
    assert message["details"]["amount"] == 500_001
    assert monitor.detect_anomalies() == []


def test_fast_outflow_over_the_window_is_flagged_per_vault_and_in_total(dev_vault, chain, settings, staff_alerts):
    settings.MONITOR_LARGE_WITHDRAWAL_AMOUNT = 10**15
    settings.MONITOR_OUTFLOW_WINDOW_SECONDS = 600
    settings.MONITOR_OUTFLOW_VAULT_AMOUNT = 300_000
    settings.MONITOR_OUTFLOW_TOTAL_AMOUNT = 400_000
    fast, slow = dev_vault(deposit=1_000_000), dev_vault(deposit=1_000_000)
    manager = VaultManager(chain)
    for amount in (100_000, 100_000, 100_000):
        manager.withdraw(fast.owner, amount)
    manager.withdraw(slow.owner, 299_999)

    monitor = VaultMonitor(chain)
    alerts = monitor.detect_anomalies()
    scopes = sorted(a.details["scope"] for a in alerts)
    assert scopes == ["total", f"vault:{fast.address}"]
    per_vault = next(a for a in alerts if a.details["scope"] != "total")
    assert per_vault.details["outflow"] == 300_000 and per_vault.vault_owner == fast.owner
    assert next(a for a in alerts if a.details["scope"] == "total").details["outflow"] == 599_999
    assert {m["kind"] for m in staff_alerts.receive_all()} == {"fast_outflow"}
    assert monitor.detect_anomalies() == []  # once per window


def test_tvl_is_exact_and_counts_open_vaults(dev_vault, chain):
    first, second = dev_vault(deposit=250_000), dev_vault(deposit=1_000_001)
    VaultManager(chain).withdraw(second.owner, 1)
    tvl = VaultMonitor(chain).get_tvl()
    on_chain = sum(chain.get_vault(v.owner).total_balance for v in (first, second))
    assert tvl["total_value_locked"] == on_chain == 1_250_000
    assert tvl["total_vaults"] == 2 and tvl["timestamp"] > 0
    Vault.objects.filter(owner=first.owner).update(is_closed=True)
    assert VaultMonitor(chain).get_tvl()["total_vaults"] == 1
