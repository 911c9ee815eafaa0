"""The issue's probes, each answered in JSON with its status: bad input, unfair rate limits, a
relay that charged the wrong wallet, staff without permission, repeated writes."""
import base64
import json

import pytest
from rest_framework.test import APIClient
from solders.hash import Hash
from solders.instruction import CompiledInstruction
from solders.keypair import Keypair
from solders.message import MessageHeader, MessageV0, to_bytes_versioned
from solders.transaction import VersionedTransaction

from tests.localnet import sign
from vaults.services.api_keys import create_api_key

pytestmark = [pytest.mark.localnet, pytest.mark.django_db(transaction=True)]


def assert_error(response, status, code=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["success"] is False and body["error"]["message"]
    if code:
        assert body["error"]["code"] == code, body
    return body


@pytest.fixture
def service():
    raw, _ = create_api_key("probe")
    return APIClient(HTTP_X_API_KEY=raw)


# ---- query parameters: ASCII digits only ----

@pytest.mark.parametrize("limit", ["²", "①", "٣", "５", "1e3", " 5", "5 ", "+5", "0x10", "", "9" * 30])
def test_limit_accepts_ascii_digits_only(localnet, api_client, limit):
    owner = str(Keypair().pubkey())
    assert_error(api_client.get(f"/vault/transactions/{owner}", {"limit": limit}), 400, "invalid_limit")


# ---- bodies ----

def test_a_1000_deep_array_is_400(localnet, service):
    body = "[" * 1000 + "]" * 1000
    response = service.generic("POST", "/vault/deposit", body, content_type="application/json")
    assert_error(response, 400, "malformed_json")


def test_a_body_over_django_limit_is_413(localnet, service, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"user": "x" * 2000, "amount": 1})
    assert_error(service.generic("POST", "/vault/deposit", body, content_type="application/json"), 413)


def test_multipart_without_boundary_is_a_json_error(localnet, service):
    response = service.generic("POST", "/vault/deposit", b"hello", content_type="multipart/form-data")
    assert_error(response, 400, "bad_request")


# ---- /vault/submit: size and shape ----

def _message_v0(payer, program_index=1, accounts=b""):
    return MessageV0(MessageHeader(1, 0, 1), [payer.pubkey(), Keypair().pubkey()], Hash.default(),
                     [CompiledInstruction(program_index, b"", accounts)], [])


@pytest.mark.parametrize("raw, why", [
    (bytes(1232), "1,232 zero bytes"),
    (bytes(1300), "over 1,232 bytes"),
    (b"\x01" + bytes(64) + b"\x80\x01\x00\x00\x00" + bytes(32), "zero account keys"),
])
def test_malformed_transactions_are_400(localnet, service, raw, why):
    encoded = base64.b64encode(raw).decode()
    assert_error(service.post("/vault/submit", {"transaction": encoded}, format="json"), 400, "invalid_transaction")


def test_a_transaction_over_1232_bytes_is_400(localnet, service):
    payer = Keypair()
    message = _message_v0(payer)
    tx = VersionedTransaction(message, [payer])
    padded = bytes(tx) + bytes(1232)  # trailing bytes past the packet size
    response = service.post("/vault/submit", {"transaction": base64.b64encode(padded).decode()}, format="json")
    assert_error(response, 400, "invalid_transaction")


def test_an_instruction_pointing_past_the_keys_is_400(localnet, service):
    payer = Keypair()
    tx = VersionedTransaction(_message_v0(payer, program_index=7), [payer])
    response = service.post("/vault/submit", {"transaction": base64.b64encode(bytes(tx)).decode()}, format="json")
    assert_error(response, 400, "invalid_transaction")


# ---- staff permission ----

def test_bare_staff_cannot_withdraw_from_a_dev_wallet(localnet, settings, django_user_model, chain):
    dev = localnet.dev_wallet(0)
    settings.DEV_SIGNER_ENABLED = True
    settings.DEV_SIGNER_SECRET_KEYS = [list(bytes(dev))]
    staff = APIClient()
    staff.force_login(django_user_model.objects.create_user("bare", password="x", is_staff=True))
    before = chain.get_token_amount(chain.associated_token_address(dev.pubkey()))
    response = staff.post("/vault/withdraw", {"user": str(dev.pubkey()), "amount": 1}, format="json")
    assert_error(response, 403, "forbidden")
    assert chain.get_token_amount(chain.associated_token_address(dev.pubkey())) == before


# ---- fair rate limits ----

def test_one_anonymous_client_exhausting_its_budget_leaves_others_alone(localnet, settings, service, funded_wallet,
                                                                          wallet_client):
    settings.RATE_LIMIT_ANONYMOUS_REQUESTS = 5
    settings.RATE_LIMIT_GLOBAL_REQUESTS = 10
    flooder = APIClient(REMOTE_ADDR="203.0.113.9")
    statuses = [flooder.get("/vault/tvl").status_code for _ in range(8)]
    assert statuses == [200] * 5 + [429] * 3
    limited = flooder.get("/vault/tvl")
    assert_error(limited, 429, "rate_limited")
    assert 1 <= int(limited["Retry-After"]) <= 60
    # Another anonymous client, a service and a wallet are unaffected.
    assert APIClient(REMOTE_ADDR="198.51.100.7").get("/vault/tvl").status_code == 200
    assert service.get("/vault/tvl").status_code == 200
    user = funded_wallet()
    assert wallet_client(user).post("/auth/nonce", {"wallet": str(user.pubkey())}, format="json").status_code == 200


def test_the_anonymous_pool_never_refuses_authenticated_clients(localnet, settings, service):
    settings.RATE_LIMIT_ANONYMOUS_REQUESTS = 2
    settings.RATE_LIMIT_GLOBAL_REQUESTS = 4
    for i in range(4):
        assert APIClient(REMOTE_ADDR=f"203.0.113.{i}").get("/vault/tvl").status_code == 200
    assert APIClient(REMOTE_ADDR="203.0.113.99").get("/vault/tvl").status_code == 429  # the pool is spent
    assert service.get("/vault/tvl").status_code == 200


def test_invalid_credentials_are_charged_to_the_client_ip(localnet, settings):
    settings.RATE_LIMIT_ANONYMOUS_REQUESTS = 3
    settings.RATE_LIMIT_GLOBAL_REQUESTS = 100
    guesser = APIClient(REMOTE_ADDR="203.0.113.50", HTTP_X_API_KEY="nope.nope")
    statuses = [guesser.get("/vault/tvl").status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 429, 429]


def test_x_forwarded_for_is_believed_only_from_trusted_proxies(localnet, settings):
    settings.RATE_LIMIT_ANONYMOUS_REQUESTS = 1
    settings.RATE_LIMIT_GLOBAL_REQUESTS = 100
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    proxy = {"REMOTE_ADDR": "10.1.1.1"}
    assert APIClient(**proxy, HTTP_X_FORWARDED_FOR="198.51.100.1").get("/vault/tvl").status_code == 200
    assert APIClient(**proxy, HTTP_X_FORWARDED_FOR="198.51.100.2").get("/vault/tvl").status_code == 200
    # A client spoofing the header from outside is keyed by its own address.
    outsider = {"REMOTE_ADDR": "203.0.113.77"}
    assert APIClient(**outsider, HTTP_X_FORWARDED_FOR="198.51.100.3").get("/vault/tvl").status_code == 200
    assert APIClient(**outsider, HTTP_X_FORWARDED_FOR="198.51.100.4").get("/vault/tvl").status_code == 429
    # Through the proxy, a forged left-most entry does not pick the bucket: the proxy's view does.
    assert APIClient(**proxy, HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.1").get("/vault/tvl").status_code == 429


def test_health_is_limited_per_client(localnet, settings):
    settings.RATE_LIMIT_HEALTH_REQUESTS = 2
    probe = APIClient(REMOTE_ADDR="203.0.113.60")
    assert [probe.get("/health").status_code for _ in range(3)][2] == 429
    assert APIClient(REMOTE_ADDR="203.0.113.61").get("/health").status_code in (200, 503)


def test_admin_login_is_limited_per_account_and_per_ip(localnet, settings, django_user_model):
    settings.RATE_LIMIT_ADMIN_LOGIN_ACCOUNT_FAILURES = 3
    settings.RATE_LIMIT_ADMIN_LOGIN_IP_FAILURES = 5
    django_user_model.objects.create_user("admin1", password="right-password-1", is_staff=True)
    for i in range(3):
        client = APIClient(REMOTE_ADDR=f"203.0.113.{100 + i}")  # a different IP each time
        assert client.post("/admin/login/", {"username": "admin1", "password": "wrong"}).status_code == 200
    refused = APIClient(REMOTE_ADDR="203.0.113.110").post("/admin/login/", {"username": "admin1",
                                                                              "password": "right-password-1"})
    assert_error(refused, 429, "rate_limited")
    assert int(refused["Retry-After"]) >= 1
    # Per IP: one address guessing many accounts.
    guesser = APIClient(REMOTE_ADDR="203.0.113.120")
    statuses = [guesser.post("/admin/login/", {"username": f"user{i}", "password": "x"}).status_code for i in range(6)]
    assert statuses == [200] * 5 + [429]


# ---- the relay charges the verified caller ----

def test_junk_naming_a_victim_as_fee_payer_does_not_spend_the_victims_budget(funded_wallet, wallet_client, settings,
                                                                             chain):
    settings.RATE_LIMIT_USER_REQUESTS = 3
    victim, attacker = funded_wallet(), funded_wallet()
    attacker_client = wallet_client(attacker)
    blockhash, _ = chain.get_latest_blockhash()
    junk_message = MessageV0.try_compile(victim.pubkey(), [chain.initialize_vault_instruction(str(victim.pubkey()))],
                                         [], blockhash)
    # The victim named as fee payer, the signature made by the attacker's key.
    junk = VersionedTransaction.populate(junk_message, [attacker.sign_message(to_bytes_versioned(junk_message))])
    encoded = base64.b64encode(bytes(junk)).decode()
    for _ in range(10):
        response = attacker_client.post("/vault/submit", {"transaction": encoded}, format="json")
        assert response.status_code in (400, 403), response.content
    victim_client = wallet_client(victim)
    owner = str(victim.pubkey())
    built = victim_client.post("/vault/initialize", {"user": owner}, format="json")
    assert built.status_code == 200, built.content
    submitted = victim_client.post("/vault/submit", {"transaction": sign(built.json()["transaction"], victim)},
                                   format="json")
    assert submitted.status_code == 200, submitted.content
    assert chain.get_vault(owner) is not None


def test_a_client_exhausting_its_relay_budget_leaves_others_alone(funded_wallet, wallet_client, settings):
    settings.RATE_LIMIT_USER_REQUESTS = 2
    alice, bob = funded_wallet(), funded_wallet()
    alice_client, bob_client = wallet_client(alice), wallet_client(bob)
    for user, client in [(alice, alice_client), (bob, bob_client)]:
        built = client.post("/vault/initialize", {"user": str(user.pubkey())}, format="json").json()
        assert client.post("/vault/submit", {"transaction": sign(built["transaction"], user)},
                           format="json").status_code == 200
    body = {"user": str(alice.pubkey()), "amount": 1}
    assert alice_client.post("/vault/deposit", body, format="json").status_code == 200
    assert_error(alice_client.post("/vault/deposit", body, format="json"), 429, "rate_limited")
    assert bob_client.post("/vault/deposit", {"user": str(bob.pubkey()), "amount": 1}, format="json").status_code == 200


# ---- idempotency ----

def test_same_idempotency_key_and_body_returns_the_first_answer(funded_wallet, wallet_client):
    user = funded_wallet()
    client = wallet_client(user)
    body = {"user": str(user.pubkey())}
    first = client.post("/vault/initialize", body, format="json", HTTP_IDEMPOTENCY_KEY="init-1")
    again = client.post("/vault/initialize", body, format="json", HTTP_IDEMPOTENCY_KEY="init-1")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    other = client.post("/vault/initialize", {"user": str(Keypair().pubkey())}, format="json",
                        HTTP_IDEMPOTENCY_KEY="init-1")
    assert_error(other, 422, "idempotency_key_reused")
    assert_error(client.post("/vault/initialize", body, format="json", HTTP_IDEMPOTENCY_KEY="bad key"),
                 400, "invalid_idempotency_key")
    # Keys are per client: another client's identical key runs for that client.
    stranger = funded_wallet()
    theirs = wallet_client(stranger).post("/vault/initialize", {"user": str(stranger.pubkey())}, format="json",
                                          HTTP_IDEMPOTENCY_KEY="init-1")
    assert theirs.status_code == 200 and theirs.json()["transaction"] != first.json()["transaction"]


def test_a_key_in_use_is_409_and_transient_answers_are_not_kept(funded_wallet, wallet_client, settings):
    from vaults.services import idempotency

    user = funded_wallet()
    client = wallet_client(user)
    body = {"user": str(user.pubkey())}
    scope = f"wallet:{user.pubkey()}|POST|/vault/initialize"
    fingerprint = idempotency.fingerprint("POST", "/vault/initialize", b"", body)
    held = idempotency.claim(scope, "k-2", fingerprint)  # another request with this key is running
    assert_error(client.post("/vault/initialize", body, format="json", HTTP_IDEMPOTENCY_KEY="k-2"),
                 409, "idempotency_key_in_use")
    idempotency.complete(held, 503, None)  # it failed transiently: the key is free again
    assert client.post("/vault/initialize", body, format="json", HTTP_IDEMPOTENCY_KEY="k-2").status_code == 200


def test_relaying_the_same_signed_transaction_twice_answers_its_signature_once_executed(
        chain, funded_wallet, wallet_client):
    """Without an Idempotency-Key: a client's retry of a transaction the chain already ran answers
    the same signature (the RPC would say -32002 "already processed"); nothing runs twice."""
    from vaults.models import Transaction

    user = funded_wallet(tokens=5_000_000)
    owner = str(user.pubkey())
    client = wallet_client(user)
    built = client.post("/vault/initialize", {"user": owner}, format="json").json()
    assert client.post("/vault/submit", {"transaction": sign(built["transaction"], user)}, format="json").status_code == 200
    signed = sign(client.post("/vault/deposit", {"user": owner, "amount": 1_000_000}, format="json").json()["transaction"], user)
    first = client.post("/vault/submit", {"transaction": signed}, format="json")
    again = client.post("/vault/submit", {"transaction": signed}, format="json")
    assert first.status_code == again.status_code == 200, again.content
    assert first.json()["signature"] == again.json()["signature"]
    assert chain.get_vault(owner).total_deposited == 1_000_000
    assert Transaction.objects.filter(signature=first.json()["signature"]).count() == 1


def test_the_issue_flood_through_the_real_server(localnet, tmp_path, funded_wallet):
    """The issue's first probe, at the default budgets: one anonymous client floods GET /vault/tvl
    twenty at a time; it alone is refused (429, Retry-After), while other clients' balance reads,
    API-key deposits and /auth/nonce go on."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from tests.live_server import serve

    raw_key, _ = create_api_key("flood-bystander")
    user = funded_wallet()
    owner = str(user.pubkey())
    # Every test client connects from 127.0.0.1: the server trusts it as a proxy, so each client
    # is told apart by its X-Forwarded-For.
    with serve(tmp_path, localnet, TRUSTED_PROXIES="127.0.0.1") as url:
        flooder = {"X-Forwarded-For": "203.0.113.1"}

        def tvl(_):
            with httpx.Client(base_url=url, headers=flooder, timeout=60) as client:
                return client.get("/vault/tvl")

        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(tvl, range(400)))
        statuses = [a.status_code for a in answers]
        assert statuses.count(200) == 300 and statuses.count(429) == 100, sorted(set(statuses))
        refused = next(a for a in answers if a.status_code == 429)
        assert refused.json()["error"]["code"] == "rate_limited" and int(refused.headers["Retry-After"]) >= 1

        with httpx.Client(base_url=url, timeout=60) as client:
            other = {"X-Forwarded-For": "198.51.100.2"}
            assert client.get("/vault/tvl", headers=other).status_code == 200
            assert client.get(f"/vault/balance/{owner}", headers=other).status_code == 404  # no vault yet: not 429
            assert client.post("/auth/nonce", json={"wallet": owner}, headers=other).status_code == 200
            deposit = client.post("/vault/deposit", json={"user": owner, "amount": 1},
                                  headers={"X-API-Key": raw_key, **flooder})  # even from the flooder's IP
            assert deposit.status_code == 404, deposit.text
