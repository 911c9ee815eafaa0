"""`make run DEMO=1`'s activity (manage.py demo) against the local validator: vaults seeded, then
deposits, withdrawals, locks and unlocks through the same services the API uses."""
import pytest
from django.core.management import call_command
from solders.keypair import Keypair

from tests.localnet import fund_wallet

pytestmark = [pytest.mark.localnet, pytest.mark.django_db(transaction=True)]


def test_demo_seeds_vaults_and_keeps_activity_going(localnet, settings, clean_redis):
    from vaults.chain.client import get_chain_client
    from vaults.models import Transaction

    chain = get_chain_client()
    wallets = [Keypair(), Keypair()]
    for keypair in wallets:
        fund_wallet(chain, localnet, keypair.pubkey(), tokens=50_000 * 10**6)
    settings.DEV_SIGNER_ENABLED = True
    settings.DEV_SIGNER_SECRET_KEYS = [list(bytes(k)) for k in wallets]
    settings.MONITOR_LARGE_WITHDRAWAL_AMOUNT = 10**18  # no large withdrawals in this run

    call_command("demo", operations=24, interval=0, seed=7)

    for keypair in wallets:
        vault = chain.get_vault(str(keypair.pubkey()))
        assert vault is not None and vault.total_deposited > 0
    kinds = set(Transaction.objects.values_list("transaction_type", flat=True))
    assert {"initialize", "deposit", "lock"} <= kinds, kinds
    assert kinds & {"withdrawal", "unlock"}, kinds
    assert Transaction.objects.count() >= 2 * 2 + 12  # seeds, then most of the 24 operations


def test_demo_refuses_without_the_dev_signer(settings):
    from django.core.management.base import CommandError

    settings.DEV_SIGNER_ENABLED = False
    with pytest.raises(CommandError):
        call_command("demo", operations=1, interval=0)


def test_demo_makes_a_large_withdrawal_early_and_the_security_watch_alerts(localnet, settings, clean_redis):
    """A newcomer sees the alert workflow within a minute: operation FIRST_LARGE_WITHDRAWAL_AT is a
    withdrawal above MONITOR_LARGE_WITHDRAWAL_AMOUNT, and the security watch raises its alert."""
    from console.management.commands.demo import FIRST_LARGE_WITHDRAWAL_AT
    from monitoring.models import Alert
    from monitoring.services.vault_monitor import VaultMonitor
    from vaults.chain.client import get_chain_client
    from vaults.models import Transaction

    chain = get_chain_client()
    wallet = Keypair()
    fund_wallet(chain, localnet, wallet.pubkey(), tokens=200_000 * 10**6)
    settings.DEV_SIGNER_ENABLED = True
    settings.DEV_SIGNER_SECRET_KEYS = [list(bytes(wallet))]
    settings.MONITOR_LARGE_WITHDRAWAL_AMOUNT = 50_000 * 10**6
    large = settings.MONITOR_LARGE_WITHDRAWAL_AMOUNT + 1_000 * 10**6

    call_command("demo", operations=FIRST_LARGE_WITHDRAWAL_AT, interval=0, seed=3)
    assert not Transaction.objects.filter(transaction_type="withdrawal", amount=large).exists()
    call_command("demo", operations=FIRST_LARGE_WITHDRAWAL_AT + 1, interval=0, seed=3)

    assert Transaction.objects.filter(transaction_type="withdrawal", amount=large).count() == 1
    VaultMonitor().detect_anomalies()
    alerts = Alert.objects.filter(action="alert.large_withdrawal", vault_owner=str(wallet.pubkey()))
    assert alerts.count() == 1
