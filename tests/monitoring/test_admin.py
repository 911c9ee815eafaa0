"""The admin's monitoring pages: the analytics dashboard and the alerts, both read-only."""
from datetime import datetime, timedelta, timezone

import pytest
from django.urls import reverse

from monitoring.models import Alert
from monitoring.services.alerts import raise_alert
from vaults.models import AuditTrail, BalanceSnapshot, ReconciliationLog, Transaction, Vault
from tests.console.staff import verified_login

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    verified_login(client, django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    return client


@pytest.fixture
def history():
    vault = Vault.objects.create(owner="o" * 44, address="a" * 44, token_account="t" * 44, onchain_created_at=0,
                                 total_balance=1_500_000, available_balance=1_500_000)
    now = datetime.now(tz=timezone.utc)
    for index, (kind, amount, days_ago) in enumerate([("deposit", 2_000_000, 1), ("withdrawal", 500_000, 1),
                                                      ("deposit", 7, 0)]):
        Transaction.objects.create(vault=vault, transaction_type=kind, amount=amount, signature=f"s{index}",
                                   event_index=0, slot=index, timestamp=now - timedelta(days=days_ago))
    for hours_ago, total in ((2, 1_000_000), (1, 1_500_000)):
        BalanceSnapshot.objects.create(vault=vault, kind="hourly", total_balance=total, locked_balance=0,
                                       available_balance=total, slot=1, timestamp=now - timedelta(hours=hours_ago))
    ReconciliationLog.objects.create(vault=vault, slot=9, onchain_total_balance=1_500_000, token_account_amount=1_500_000,
                                     database_total_balance=1_500_123, difference=123, status="mismatch")
    raise_alert(kind="reconciliation_mismatch", source="balance_tracker", message="off by +123", vault=vault.address,
                vault_owner=vault.owner, severity="critical")
    AuditTrail.objects.create(actor_type="api_key", actor="k", action="deposit", method="POST", path="/vault/deposit",
                              status_code=200, outcome="success")
    return vault


def test_dashboard_shows_tvl_flows_reconciliation_and_alerts(staff_client, history):
    page = staff_client.get(reverse("admin:monitoring_monitoringdashboard_changelist"))
    assert page.status_code == 200
    analytics = page.context["analytics"]
    assert analytics["tvl"]["total_value_locked"] == 1_500_000 and analytics["tvl"]["total_vaults"] == 1
    assert [p["tvl"] for p in analytics["tvl_hourly"]] == [1_000_000, 1_500_000]
    flows = {f["day"].date(): f for f in analytics["flows_daily"]}
    yesterday = (datetime.now(tz=timezone.utc) - timedelta(days=1)).date()
    assert (flows[yesterday]["deposited"], flows[yesterday]["withdrawn"], flows[yesterday]["net"]) == (
        2_000_000, 500_000, 1_500_000)
    assert analytics["reconciliation"]["counts"]["mismatch"] == 1
    assert [a.details["message"] for a in analytics["recent_alerts"]] == ["off by +123"]
    body = page.content.decode()
    assert "1.500000 USDT" in body and "off by +123" in body


def test_alerts_are_the_audit_trail_alert_rows_and_read_only(staff_client, history):
    assert list(Alert.objects.values_list("action", flat=True)) == ["alert.reconciliation_mismatch"]
    listing = staff_client.get(reverse("admin:monitoring_alert_changelist"))
    assert listing.status_code == 200 and b"off by +123" in listing.content
    assert staff_client.get(reverse("admin:monitoring_alert_add")).status_code == 403
    alert = Alert.objects.get()
    change = staff_client.get(reverse("admin:monitoring_alert_change", args=[alert.pk]))
    assert change.status_code == 200 and b'name="_save"' not in change.content
    assert staff_client.get(reverse("admin:monitoring_alert_delete", args=[alert.pk])).status_code == 403


def test_monitoring_pages_are_for_staff_only(client, history):
    page = client.get(reverse("admin:monitoring_monitoringdashboard_changelist"))
    assert page.status_code == 302 and "/login/" in page["Location"]
