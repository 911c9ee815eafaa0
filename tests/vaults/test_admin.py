"""Admin: read-only where the chain is the source of truth; the audit trail never editable."""
import pytest
from django.urls import reverse

from vaults.models import ApiKey, AuditTrail, Vault
from tests.console.staff import verified_login

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    verified_login(client, django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def test_changelists_load(staff_client):
    for model in ["vault", "transaction", "balancesnapshot", "reconciliationlog", "audittrail", "apikey", "walletsession"]:
        assert staff_client.get(reverse(f"admin:vaults_{model}_changelist")).status_code == 200, model


def test_chain_backed_and_audit_models_cannot_be_added(staff_client):
    for model in ["vault", "transaction", "balancesnapshot", "reconciliationlog", "audittrail"]:
        assert staff_client.get(reverse(f"admin:vaults_{model}_add")).status_code == 403, model


def test_audit_rows_are_view_only(staff_client):
    row = AuditTrail.objects.create(actor_type="staff", actor="a", action="x", method="POST", path="/",
                                    status_code=200, outcome="success")
    change_url = reverse("admin:vaults_audittrail_change", args=[row.pk])
    page = staff_client.get(change_url)
    assert page.status_code == 200 and b'name="_save"' not in page.content
    staff_client.post(change_url, {"action": "tampered"})
    assert staff_client.get(reverse("admin:vaults_audittrail_delete", args=[row.pk])).status_code == 403
    assert AuditTrail.objects.get(pk=row.pk).action == "x"
    vault = Vault.objects.create(owner="o" * 44, address="a" * 44, token_account="t" * 44, onchain_created_at=0)
    assert staff_client.get(reverse("admin:vaults_vault_delete", args=[vault.pk])).status_code == 403


def test_api_key_is_shown_once_and_stored_hashed(staff_client):
    response = staff_client.post(reverse("admin:vaults_apikey_add"), {"name": "risk-engine", "is_active": "on"}, follow=True)
    assert response.status_code == 200
    key = ApiKey.objects.get(name="risk-engine")
    shown = [str(m) for m in response.context["messages"] if "risk-engine" in str(m)]
    raw = shown[0].rsplit(": ", 1)[1]
    assert raw.startswith(key.prefix + ".") and raw not in key.key_hash


def test_admin_login_page_answers(client):
    assert client.get("/admin/login/").status_code == 200
