"""The audit trail: every mutating request leaves a row (who, what, from where, result)."""
import pytest
from solders.keypair import Keypair

from tests.localnet import sign
from vaults.models import AuditTrail

pytestmark = [pytest.mark.localnet, pytest.mark.django_db(transaction=True)]


def test_successful_and_failed_mutations_are_audited(funded_wallet, wallet_client):
    user = funded_wallet()
    owner = str(user.pubkey())
    client = wallet_client(user)
    before = AuditTrail.objects.count()
    built = client.post("/vault/initialize", {"user": owner}, format="json", REMOTE_ADDR="10.1.2.3",
                        HTTP_USER_AGENT="wallet-app/1.0").json()
    submitted = client.post("/vault/submit", {"transaction": sign(built["transaction"], user)}, format="json").json()
    client.post("/vault/withdraw", {"user": owner, "amount": 10**12}, format="json")
    rows = list(AuditTrail.objects.order_by("id"))[before:]
    assert [(r.action, r.status_code, r.outcome) for r in rows] == [
        ("vault.initialize", 200, "success"),
        ("vault.submit", 200, "success"),
        ("vault.withdraw", 409, "failure"),
    ]
    assert all(r.actor_type == "wallet" and r.actor == owner and r.vault_owner == owner for r in rows)
    assert rows[0].ip_address == "10.1.2.3" and rows[0].user_agent == "wallet-app/1.0"
    assert rows[1].signature == submitted["signature"]
    assert rows[1].details["request"]["transaction"] == "[redacted]"
    assert rows[2].error_code == "insufficient_available_balance" and rows[2].details["amount"] == 10**12


def test_rejected_requests_are_audited_too(localnet, api_client):
    before = AuditTrail.objects.count()
    api_client.post("/vault/deposit", {"user": str(Keypair().pubkey()), "amount": 5}, format="json")
    api_client.generic("POST", "/vault/deposit", "{bad json", content_type="application/json")
    rows = list(AuditTrail.objects.order_by("id"))[before:]
    assert [(r.actor_type, r.status_code, r.error_code) for r in rows] == [
        ("anonymous", 401, "not_authenticated"),
        ("anonymous", 400, "malformed_json"),
    ]


def test_reads_are_not_audited(localnet, api_client):
    before = AuditTrail.objects.count()
    api_client.get("/vault/tvl")
    assert AuditTrail.objects.count() == before
