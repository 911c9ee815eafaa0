"""Every error case: a JSON body {success: false, error: {code, message}} with the right status."""
import json

import pytest
from solders.keypair import Keypair

from tests.localnet import sign
from vaults.fields import U64_MAX

pytestmark = [pytest.mark.localnet, pytest.mark.django_db(transaction=True)]


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    assert "Traceback" not in response.content.decode()
    return body


@pytest.fixture
def user_with_vault(funded_wallet, wallet_client):
    user = funded_wallet(tokens=10_000_000)
    client = wallet_client(user)
    owner = str(user.pubkey())
    built = client.post("/vault/initialize", {"user": owner}, format="json").json()
    assert client.post("/vault/submit", {"transaction": sign(built["transaction"], user)}, format="json").status_code == 200
    return user, client


@pytest.mark.parametrize("user", ["not-a-key", "0OIl" * 11, "", 12345, None, "1" * 45])
def test_invalid_pubkey_is_400(localnet, api_client, django_user_model, user):
    staff = django_user_model.objects.create_user("s", password="x", is_staff=True)
    api_client.force_login(staff)
    assert_error(api_client.post("/vault/initialize", {"user": user}, format="json"), 400, "invalid_pubkey")


@pytest.mark.parametrize("amount", [0, -1, 1.5, 1000000.0, "1000000", U64_MAX + 1, True, None, [1]])
def test_invalid_amount_is_400(user_with_vault, amount):
    user, client = user_with_vault
    for path in ["/vault/deposit", "/vault/withdraw"]:
        body = {"user": str(user.pubkey()), "amount": amount}
        assert_error(client.post(path, body, format="json"), 400, "invalid_amount")


def test_missing_amount_is_400(user_with_vault):
    user, client = user_with_vault
    body = assert_error(client.post("/vault/deposit", {"user": str(user.pubkey())}, format="json"), 400, "invalid_amount")
    assert "required" in body["error"]["message"]


def test_malformed_json_is_400(user_with_vault):
    _, client = user_with_vault
    response = client.generic("POST", "/vault/deposit", '{"user": "abc", "amount": 1', content_type="application/json")
    assert_error(response, 400, "malformed_json")
    response = client.generic("POST", "/vault/deposit", json.dumps([1, 2]), content_type="application/json")
    assert_error(response, 400, "invalid_request")


def test_u64_max_amount_passes_validation_and_fails_on_balance(user_with_vault):
    """2^64-1 is a valid u64: it reaches the balance check (409), not the validator (400)."""
    user, client = user_with_vault
    body = {"user": str(user.pubkey()), "amount": U64_MAX}
    assert_error(client.post("/vault/withdraw", body, format="json"), 409, "insufficient_available_balance")


def test_unknown_vault_is_404(funded_wallet, wallet_client, api_client):
    user = funded_wallet()
    owner = str(user.pubkey())
    client = wallet_client(user)
    assert_error(client.post("/vault/deposit", {"user": owner, "amount": 5}, format="json"), 404, "vault_not_found")
    assert_error(client.post("/vault/withdraw", {"user": owner, "amount": 5}, format="json"), 404, "vault_not_found")
    assert_error(api_client.get(f"/vault/balance/{owner}"), 404, "vault_not_found")
    assert_error(api_client.get(f"/vault/transactions/{owner}"), 404, "vault_not_found")
    assert_error(api_client.get("/vault/balance/not-a-key"), 400, "invalid_pubkey")
    assert_error(api_client.get("/no/such/route"), 404, "not_found")


def test_insufficient_balance_is_409_before_building(user_with_vault, chain):
    user, client = user_with_vault
    owner = str(user.pubkey())
    body = assert_error(client.post("/vault/withdraw", {"user": owner, "amount": 1}, format="json"),
                        409, "insufficient_available_balance")
    assert body["error"]["details"]["available_balance"] == 0
    assert_error(client.post("/vault/deposit", {"user": owner, "amount": 10_000_001}, format="json"),
                 409, "insufficient_funds")
    assert_error(client.post("/vault/initialize", {"user": owner}, format="json"), 409, "vault_already_exists")
    assert chain.get_vault(owner).total_balance == 0


def test_invalid_limit_is_400(user_with_vault, api_client):
    owner = str(user_with_vault[0].pubkey())
    for limit in ["0", "-1", "abc", "1001", "1.5"]:
        assert_error(api_client.get(f"/vault/transactions/{owner}?limit={limit}"), 400, "invalid_limit")


def test_per_user_rate_limit_is_429(user_with_vault, settings):
    settings.RATE_LIMIT_USER_REQUESTS = 3  # the fixture's submit already used one
    user, client = user_with_vault
    body = {"user": str(user.pubkey()), "amount": 1_000}
    for _ in range(2):
        assert client.post("/vault/deposit", body, format="json").status_code == 200
    response = client.post("/vault/withdraw", body, format="json")
    assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) >= 1


def test_per_user_limit_does_not_throttle_other_users(user_with_vault, funded_wallet, wallet_client, settings):
    settings.RATE_LIMIT_USER_REQUESTS = 2  # the fixture's submit already used one
    user, client = user_with_vault
    body = {"user": str(user.pubkey()), "amount": 1_000}
    assert client.post("/vault/deposit", body, format="json").status_code == 200
    assert client.post("/vault/deposit", body, format="json").status_code == 429
    other = funded_wallet()
    other_client = wallet_client(other)
    # 404 (no vault yet), not 429: the other user's budget is untouched.
    response = other_client.post("/vault/deposit", {"user": str(other.pubkey()), "amount": 1_000}, format="json")
    assert_error(response, 404, "vault_not_found")


def test_global_rate_limit_is_429(localnet, api_client, settings, db):
    settings.RATE_LIMIT_GLOBAL_REQUESTS = 3
    for _ in range(3):
        assert api_client.get("/vault/tvl").status_code == 200
    assert_error(api_client.get("/vault/tvl"), 429, "rate_limited")


def test_rpc_down_is_503(user_with_vault, settings, api_client):
    user, client = user_with_vault
    owner = str(user.pubkey())
    settings.SOLANA_RPC_URL = "http://127.0.0.1:9"  # nothing listens on the discard port
    settings.RPC_TIMEOUT_SECONDS = 2
    assert_error(api_client.get(f"/vault/balance/{Keypair().pubkey()}"), 503, "rpc_unavailable")
    assert_error(client.post("/vault/deposit", {"user": owner, "amount": 5}, format="json"), 503, "rpc_unavailable")


def test_program_rejection_is_422(user_with_vault, chain, localnet):
    """A relayed transaction the program refuses (a stale build: the balance moved since)."""
    user, client = user_with_vault
    owner = str(user.pubkey())
    first = client.post("/vault/deposit", {"user": owner, "amount": 6_000_000}, format="json").json()
    # Another amount: two builds within one blockhash would otherwise be the same transaction,
    # which the relay answers as already processed (200, same signature).
    second = client.post("/vault/deposit", {"user": owner, "amount": 6_000_001}, format="json").json()
    assert client.post("/vault/submit", {"transaction": sign(first["transaction"], user)}, format="json").status_code == 200
    response = client.post("/vault/submit", {"transaction": sign(second["transaction"], user)}, format="json")
    assert response.status_code == 422, response.content
    assert response.json()["success"] is False


def test_submit_rejects_garbage_and_foreign_programs(user_with_vault, chain):
    from solders.message import MessageV0
    from solders.system_program import TransferParams, transfer
    from solders.transaction import VersionedTransaction
    import base64

    user, client = user_with_vault
    assert_error(client.post("/vault/submit", {"transaction": "%%%"}, format="json"), 400, "invalid_transaction")
    assert_error(client.post("/vault/submit", {"transaction": "aGVsbG8="}, format="json"), 400, "invalid_transaction")
    blockhash, _ = chain.get_latest_blockhash()
    drain = transfer(TransferParams(from_pubkey=user.pubkey(), to_pubkey=Keypair().pubkey(), lamports=1))
    tx = VersionedTransaction(MessageV0.try_compile(user.pubkey(), [drain], [], blockhash), [user])
    response = client.post("/vault/submit", {"transaction": base64.b64encode(bytes(tx)).decode()}, format="json")
    assert_error(response, 400, "unsupported_instruction")


def test_submit_rejects_unsigned_transaction(user_with_vault):
    user, client = user_with_vault
    built = client.post("/vault/deposit", {"user": str(user.pubkey()), "amount": 1}, format="json").json()
    assert_error(client.post("/vault/submit", {"transaction": built["transaction"]}, format="json"), 400, "invalid_signature")
