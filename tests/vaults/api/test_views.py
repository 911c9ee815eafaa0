"""End to end through the REST API: build -> sign with a test wallet -> submit -> on-chain state
-> GET /vault/balance, against the local validator, PostgreSQL and Redis."""
import base64

import pytest
from solders.transaction import VersionedTransaction

from tests.localnet import sign
from vaults.models import AuditTrail, Transaction, Vault

pytestmark = [pytest.mark.localnet, pytest.mark.django_db(transaction=True)]

BALANCE_FIELDS = {
    "owner", "vault", "token_account", "total_balance", "locked_balance", "available_balance",
    "total_deposited", "total_withdrawn", "created_at",
    "program_locks",  # extension (vault program v2): what each program holds locked
}


def build_sign_submit(client, path, body, keypair):
    built = client.post(path, body, format="json")
    assert built.status_code == 200, built.content
    payload = built.json()
    assert payload["success"] is True
    assert payload["signers"] == [str(keypair.pubkey())]
    submitted = client.post("/vault/submit", {"transaction": sign(payload["transaction"], keypair)}, format="json")
    assert submitted.status_code == 200, submitted.content
    answer = submitted.json()
    assert set(answer) == {"success", "signature"} and answer["success"] is True
    return payload, answer["signature"]


def test_initialize_deposit_withdraw_round_trip(chain, funded_wallet, wallet_client):
    user = funded_wallet(tokens=50_000_000)
    owner = str(user.pubkey())
    client = wallet_client(user)

    payload, init_sig = build_sign_submit(client, "/vault/initialize", {"user": owner}, user)
    assert payload["vault"] == str(chain.vault_address(owner))
    vault = chain.get_vault(owner)
    assert vault is not None and vault.owner == owner and vault.total_balance == 0

    _, deposit_sig = build_sign_submit(client, "/vault/deposit", {"user": owner, "amount": 30_000_000}, user)
    vault = chain.get_vault(owner)
    assert (vault.total_balance, vault.available_balance, vault.total_deposited) == (30_000_000, 30_000_000, 30_000_000)
    assert chain.get_token_amount(chain.vault_token_address(owner)) == 30_000_000
    assert chain.get_token_amount(chain.associated_token_address(owner)) == 20_000_000

    _, withdraw_sig = build_sign_submit(client, "/vault/withdraw", {"user": owner, "amount": 12_500_000}, user)
    vault = chain.get_vault(owner)
    assert (vault.total_balance, vault.total_withdrawn) == (17_500_000, 12_500_000)
    assert chain.get_token_amount(chain.associated_token_address(owner)) == 32_500_000

    balance = client.get(f"/vault/balance/{owner}")
    assert balance.status_code == 200
    body = balance.json()
    assert set(body) == BALANCE_FIELDS
    assert body["owner"] == owner
    assert body["vault"] == str(chain.vault_address(owner))
    assert body["token_account"] == str(chain.vault_token_address(owner))
    assert (body["total_balance"], body["locked_balance"], body["available_balance"]) == (17_500_000, 0, 17_500_000)
    assert (body["total_deposited"], body["total_withdrawn"]) == (30_000_000, 12_500_000)
    assert body["created_at"] == vault.created_at

    history = client.get(f"/vault/transactions/{owner}").json()
    assert [row["transaction_type"] for row in history] == ["withdrawal", "deposit", "initialize"]
    assert [row["signature"] for row in history] == [withdraw_sig, deposit_sig, init_sig]
    assert [row["amount"] for row in history] == [12_500_000, 30_000_000, 0]
    assert set(history[0]) == {"id", "vault", "transaction_type", "amount", "signature", "timestamp"}
    assert history[0]["vault"] == body["vault"] and history[0]["timestamp"].endswith("Z")
    assert client.get(f"/vault/transactions/{owner}?limit=1").json() == history[:1]

    stored = Vault.objects.get(owner=owner)
    assert (stored.total_balance, stored.total_deposited, stored.total_withdrawn) == (17_500_000, 30_000_000, 12_500_000)


def test_built_transaction_carries_compute_budget_and_blockhash(chain, funded_wallet, wallet_client):
    user = funded_wallet()
    owner = str(user.pubkey())
    payload = wallet_client(user).post("/vault/initialize", {"user": owner}, format="json").json()
    tx = VersionedTransaction.from_bytes(base64.b64decode(payload["transaction"]))
    assert str(tx.message.recent_blockhash) == payload["blockhash"]
    assert payload["last_valid_block_height"] > chain.get_block_height()
    assert payload["simulated_units"] > 0
    assert payload["compute_unit_limit"] == -(-payload["simulated_units"] * 120 // 100)
    programs = [str(tx.message.account_keys[ix.program_id_index]) for ix in tx.message.instructions]
    assert programs == ["ComputeBudget111111111111111111111111111111"] * 2 + [str(chain.program_id)]
    limit_ix = tx.message.instructions[0]
    assert bytes(limit_ix.data)[0] == 2 and int.from_bytes(bytes(limit_ix.data)[1:5], "little") == payload["compute_unit_limit"]


def test_tvl_counts_recorded_vaults(chain, funded_wallet, wallet_client, api_client):
    before = api_client.get("/vault/tvl").json()
    assert set(before) == {"total_value_locked", "total_vaults", "timestamp"}
    user = funded_wallet()
    owner = str(user.pubkey())
    client = wallet_client(user)
    build_sign_submit(client, "/vault/initialize", {"user": owner}, user)
    build_sign_submit(client, "/vault/deposit", {"user": owner, "amount": 7_000_000}, user)
    after = api_client.get("/vault/tvl").json()
    assert after["total_vaults"] == before["total_vaults"] + 1
    assert after["total_value_locked"] == before["total_value_locked"] + 7_000_000


def test_seed_request_bodies_with_dev_signer(chain, localnet, settings, api_client, staff_operator):
    """The seeds' exact requests and responses: on localnet the server signs for its dev wallets."""
    dev = localnet.dev_wallet(1)
    owner = str(dev.pubkey())
    settings.DEV_SIGNER_ENABLED = True
    settings.DEV_SIGNER_SECRET_KEYS = [list(bytes(dev))]
    api_client.force_login(staff_operator("ops"))
    api_client.enforce_csrf_checks = False

    answers = {}
    for path, body in [
        ("/vault/initialize", {"user": owner}),
        ("/vault/deposit", {"user": owner, "amount": 1000000}),
        ("/vault/withdraw", {"user": owner, "amount": 500000}),
    ]:
        response = api_client.post(path, body, format="json")
        assert response.status_code == 200, response.content
        answers[path] = response.json()
        assert set(answers[path]) == {"success", "signature"}
        assert answers[path]["success"] is True
        confirmed = chain.get_transaction(answers[path]["signature"])
        assert confirmed is not None and not confirmed.failed

    vault = chain.get_vault(owner)
    assert (vault.total_balance, vault.total_deposited, vault.total_withdrawn) == (500000, 1000000, 500000)
    balance = api_client.get(f"/vault/balance/{owner}").json()
    assert balance["total_balance"] == 500000 and balance["available_balance"] == 500000
    assert Transaction.objects.filter(signature=answers["/vault/deposit"]["signature"], amount=1000000).exists()
    audited = AuditTrail.objects.filter(vault_owner=owner, actor="ops", status_code=200)
    assert {a.action for a in audited} == {"vault.initialize", "vault.deposit", "vault.withdraw"}
    assert {a.signature for a in audited} == {a["signature"] for a in answers.values()}


def test_dev_signer_is_off_unless_enabled(localnet, settings, api_client, staff_operator, chain):
    dev = localnet.dev_wallet(2)
    settings.DEV_SIGNER_ENABLED = False
    settings.DEV_SIGNER_SECRET_KEYS = [list(bytes(dev))]
    api_client.force_login(staff_operator("ops2"))
    response = api_client.post("/vault/initialize", {"user": str(dev.pubkey())}, format="json")
    assert response.status_code == 200
    assert "transaction" in response.json() and "signature" not in response.json()
    assert chain.get_vault(str(dev.pubkey())) is None


def test_openapi_schema_lists_the_seed_paths(api_client, db):
    response = api_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ["/vault/initialize", "/vault/deposit", "/vault/withdraw", "/vault/submit",
                 "/vault/balance/{user}", "/vault/transactions/{user}", "/vault/tvl"]:
        assert path in paths
    deposit_fields = paths["/vault/deposit"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert deposit_fields == {"$ref": "#/components/schemas/AmountRequest"}
    assert api_client.get("/api/docs/").status_code == 200


def test_swagger_ui_is_served_without_any_cdn(api_client, db):
    page = api_client.get("/api/docs/").content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn.jsdelivr.net" not in page and "unpkg.com" not in page


def test_the_schema_is_precise(api_client, db):
    schema = api_client.get("/api/schema/?format=json").json()
    components = schema["components"]
    amount = components["schemas"]["AmountRequest"]["properties"]["amount"]
    assert (amount["type"], amount["minimum"], amount["maximum"]) == ("integer", 1, 2**64 - 1)
    user = components["schemas"]["AmountRequest"]["properties"]["user"]
    assert user["pattern"] == "^[1-9A-HJ-NP-Za-km-z]{32,44}$" and (user["minLength"], user["maxLength"]) == (32, 44)
    assert components["securitySchemes"]["apiKey"] == {
        "type": "apiKey", "in": "header", "name": "X-API-Key",
        "description": components["securitySchemes"]["apiKey"]["description"]}
    assert components["securitySchemes"]["walletToken"]["scheme"] == "bearer"
    assert "cookieAuth" in components["securitySchemes"]
    for path in ["/vault/initialize", "/vault/deposit", "/vault/withdraw", "/vault/submit"]:
        operation = schema["paths"][path]["post"]
        assert {} not in operation["security"], path  # no anonymous access
        assert [list(s) for s in operation["security"]] == [["walletToken"], ["apiKey"], ["cookieAuth"]]
        assert {"200", "400", "401", "403", "409", "413", "422", "429", "500", "503"} <= set(operation["responses"])
        assert "Idempotency-Key" in [p["name"] for p in operation["parameters"]]
    assert {} in schema["paths"]["/vault/tvl"]["get"]["security"]  # reads are public
    # The dev signer's answer is documented beside the unsigned transaction.
    one_of = components["schemas"]["OperationResponse"]["oneOf"]
    assert {"$ref": "#/components/schemas/SignatureResponse"} in one_of
    assert set(components["schemas"]["SignatureResponse"]["required"]) == {"success", "signature"}
    retry_after = schema["paths"]["/vault/deposit"]["post"]["responses"]["429"]["headers"]["Retry-After"]
    assert retry_after["schema"]["type"] == "integer"
