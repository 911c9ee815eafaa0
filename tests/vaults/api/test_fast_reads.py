"""Anonymous cached reads answered before Django: the same bytes and headers as Django's answer,
charged once, and every request the fast path is not sure about left to Django."""
import asyncio
import json

import pytest
from django.core.asgi import get_asgi_application
from django.core.cache import cache
from solders.keypair import Keypair

from vaults.api.fast_reads import CachedReadFastPath
from vaults.cache_keys import TVL_KEY, balance_key
from vaults.services import rate_limits
from vaultsite.http_guard import JsonErrorGuard

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

CLIENT_IP = "10.9.8.7"


class CountingDjango:
    """The real Django application, counting the requests that reach it."""

    def __init__(self):
        self.app = get_asgi_application()
        self.paths = []

    async def __call__(self, scope, receive, send):
        self.paths.append(scope["path"])
        await self.app(scope, receive, send)


@pytest.fixture
def stack():
    django = CountingDjango()
    return JsonErrorGuard(CachedReadFastPath(django)), django


def one_request():
    """The server's `receive`: the (empty) body, then nothing until the client goes."""
    messages = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if messages:
            return messages.pop()
        await asyncio.Event().wait()

    return receive


async def get(app, path, headers=(), query=b"", method="GET"):
    sent = []
    receive = one_request()

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "root_path": "", "scheme": "http",
             "query_string": query, "client": (CLIENT_IP, 5), "server": ("127.0.0.1", 8000),
             "headers": [(b"host", b"127.0.0.1:8000"), *headers]}
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {n.decode().lower(): v.decode() for n, v in start["headers"]}, body


def cached_vault(owner: str) -> dict:
    entry = {"address": str(Keypair().pubkey()), "owner": owner, "token_account": str(Keypair().pubkey()),
             "total_balance": 18_446_744_073_709_551_615, "locked_balance": 5, "available_balance": 18_446_744_073_709_551_610,
             "total_deposited": 18_446_744_073_709_551_615, "total_withdrawn": 0, "created_at": 1_700_000_000,
             "event_seq": 3, "total_transferred_in": 0, "total_transferred_out": 0, "generation": 1,
             "program_locks": ({"program_id": str(Keypair().pubkey()), "locked": 5, "cap": None},)}
    cache.set(balance_key(owner), entry, timeout=60)
    return entry


def charges_counted(identity=f"ip:{CLIENT_IP}") -> int:
    budget = rate_limits.anonymous_budget()
    _reset, remaining = rate_limits.limiter().get_window_stats(budget.item, identity)
    return budget.limit - remaining


def rpc_calls(method: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("cvms_rpc_request_duration_seconds_count", {"method": method}) or 0


def without_request_id(headers: dict) -> dict:
    return {name: value for name, value in headers.items() if name != "x-request-id"}


async def test_a_cached_balance_is_the_same_answer_without_django(stack):
    app, django = stack
    owner = str(Keypair().pubkey())
    entry = cached_vault(owner)
    first = await get(app, f"/vault/balance/{owner}")
    second = await get(app, f"/vault/balance/{owner}", headers=[(b"accept", b"application/json")])
    assert django.paths == [f"/vault/balance/{owner}"]  # the first taught the headers; the second stayed out
    assert first[0] == second[0] == 200
    assert second[2] == first[2]  # the same bytes
    assert without_request_id(second[1]) == without_request_id(first[1])
    assert second[1]["x-request-id"] != first[1]["x-request-id"]
    assert b'"total_balance":18446744073709551615' in second[2]  # u64, no float on the way
    assert entry["program_locks"][0]["program_id"].encode() in second[2]
    assert charges_counted() == 2  # once each, whichever path answered


async def test_a_cached_tvl_is_the_same_answer_without_django(stack):
    app, django = stack
    cache.set(TVL_KEY, {"total_value_locked": 7, "total_vaults": 1, "timestamp": 1_700_000_000}, timeout=60)
    first, second = await get(app, "/vault/tvl"), await get(app, "/vault/tvl")
    assert django.paths == ["/vault/tvl"]
    assert (first[0], first[2]) == (second[0], second[2]) == (200, b'{"total_value_locked":7,"total_vaults":1,'
                                                                   b'"timestamp":1700000000}')
    assert without_request_id(first[1]) == without_request_id(second[1])


async def test_a_cache_miss_is_read_by_django_and_charged_once(stack):
    app, django = stack
    cache.set(TVL_KEY, {"total_value_locked": 7, "total_vaults": 1, "timestamp": 1}, timeout=60)
    await get(app, "/vault/tvl")  # learns the headers
    cache.delete(TVL_KEY)
    status, _headers, body = await get(app, "/vault/tvl")
    assert status == 200 and b'"total_vaults":0' in body  # from the database, by the view
    assert django.paths == ["/vault/tvl", "/vault/tvl"]
    assert charges_counted() == 2


async def test_a_spent_budget_is_refused_by_django_with_its_retry_after(stack, settings):
    settings.RATE_LIMIT_ANONYMOUS_REQUESTS = 2
    app, django = stack
    owner = str(Keypair().pubkey())
    cached_vault(owner)
    answers = [await get(app, f"/vault/balance/{owner}") for _ in range(4)]
    assert [a[0] for a in answers] == [200, 200, 429, 429]
    refused = answers[2]
    assert b'"code":"rate_limited"' in refused[2] and int(refused[1]["retry-after"]) >= 1
    assert django.paths == [f"/vault/balance/{owner}"] * 3  # the refusals are Django's answers
    assert charges_counted() == 2  # a refused request is not counted, and nothing twice


@pytest.mark.parametrize("headers, query, method, status", [
    ([(b"authorization", b"Bearer nope")], b"", "GET", 401),
    ([(b"x-api-key", b"nope")], b"", "GET", 401),
    ([(b"cookie", b"sessionid=nope")], b"", "GET", 200),
    ([(b"accept", b"text/html")], b"", "GET", 406),
    ([(b"accept", b"")], b"", "GET", 406),
    ([(b"accept", b"application/json; indent=4")], b"", "GET", 200),
    ([], b"format=json", "GET", 200),
    ([], b"", "HEAD", 200),
])
async def test_requests_it_is_not_sure_about_go_to_django(stack, headers, query, method, status):
    app, django = stack
    owner = str(Keypair().pubkey())
    cached_vault(owner)
    await get(app, f"/vault/balance/{owner}")  # learned
    answer = await get(app, f"/vault/balance/{owner}", headers=headers, query=query, method=method)
    assert answer[0] == status, answer[2]
    assert len(django.paths) == 2


async def test_a_host_django_refuses_is_refused(stack):
    app, django = stack
    owner = str(Keypair().pubkey())
    cached_vault(owner)
    await get(app, f"/vault/balance/{owner}")
    sent = []
    receive = one_request()

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": f"/vault/balance/{owner}", "root_path": "", "scheme": "http",
             "query_string": b"", "client": (CLIENT_IP, 5), "headers": [(b"host", b"evil.example")]}
    await app(scope, receive, send)
    assert sent[0]["status"] == 400
    assert len(django.paths) == 2


async def test_an_invalid_owner_and_other_routes_go_to_django(stack):
    app, django = stack
    assert (await get(app, "/vault/balance/not-a-key"))[0] == 400
    assert (await get(app, "/vault/balance/not-a-key"))[0] == 400
    assert (await get(app, "/health"))[0] in (200, 503)
    assert len(django.paths) == 3


async def test_switched_off_every_read_goes_to_django(stack, settings):
    settings.API_FAST_READS = False
    app, django = stack
    owner = str(Keypair().pubkey())
    cached_vault(owner)
    for _ in range(3):
        assert (await get(app, f"/vault/balance/{owner}"))[0] == 200
    assert len(django.paths) == 3
    assert charges_counted() == 3


async def test_behind_a_trusted_proxy_the_forwarded_client_is_charged(stack, settings):
    settings.TRUSTED_PROXIES = [CLIENT_IP]
    app, django = stack
    owner = str(Keypair().pubkey())
    cached_vault(owner)
    forwarded = [(b"x-forwarded-for", b"203.0.113.9")]
    assert (await get(app, f"/vault/balance/{owner}", headers=forwarded))[0] == 200
    assert (await get(app, f"/vault/balance/{owner}", headers=forwarded))[0] == 200
    assert len(django.paths) == 1
    assert charges_counted("ip:203.0.113.9") == 2 and charges_counted() == 0


@pytest.fixture
def vault_with_a_lock(localnet, settings, funded_wallet, chain):
    """A vault on the local validator with 10 USDT deposited, 4 of them locked by the position
    manager (so it has a CallerLock record)."""
    from vaults.services.cpi_manager import CPIManager
    from vaults.services.vault_manager import VaultManager

    user = funded_wallet(tokens=20_000_000)
    settings.DEV_SIGNER_ENABLED = True
    settings.DEV_SIGNER_SECRET_KEYS = [list(bytes(user))]
    owner = str(user.pubkey())
    VaultManager(chain).initialize_vault(owner)
    VaultManager(chain).deposit(owner, 10_000_000)
    CPIManager(chain).lock_collateral(owner, 4_000_000)
    cache.delete(balance_key(owner))
    return owner


@pytest.mark.localnet
async def test_an_uncached_balance_is_read_from_the_chain_on_the_loop(stack, settings, vault_with_a_lock):
    settings.BALANCE_CACHE_SECONDS = 0
    app, django = stack
    owner = vault_with_a_lock
    through_django = await get(app, f"/vault/balance/{owner}")
    on_the_loop = await get(app, f"/vault/balance/{owner}")
    assert django.paths == [f"/vault/balance/{owner}"]
    assert through_django[0] == on_the_loop[0] == 200
    assert on_the_loop[2] == through_django[2]
    assert b'"locked_balance":4000000' in on_the_loop[2] and b'"locked":4000000' in on_the_loop[2]
    assert cache.get(balance_key(owner)) is None  # BALANCE_CACHE_SECONDS=0: nothing kept

    settings.BALANCE_CACHE_SECONDS = 30
    await get(app, f"/vault/balance/{owner}")
    assert cache.get(balance_key(owner))["locked_balance"] == 4_000_000
    assert charges_counted() == 3


@pytest.mark.localnet
async def test_an_unknown_vault_is_djangos_404(stack, localnet):
    app, django = stack
    cache.set(TVL_KEY, {"total_value_locked": 0, "total_vaults": 0, "timestamp": 1}, timeout=60)
    known = str(Keypair().pubkey())
    cached_vault(known)
    await get(app, f"/vault/balance/{known}")  # learned
    unknown = str(Keypair().pubkey())
    reads_before = rpc_calls("getAccountInfo")
    status, _headers, body = await get(app, f"/vault/balance/{unknown}")
    assert status == 404 and b'"code":"vault_not_found"' in body
    assert len(django.paths) == 2 and charges_counted() == 2
    assert rpc_calls("getAccountInfo") == reads_before + 1  # Django answered the fast path's error: no second read


@pytest.fixture
def recorded_history():
    """A recorded vault with 25 history rows."""
    from datetime import datetime, timedelta, timezone

    from vaults.models import Transaction, Vault

    owner = str(Keypair().pubkey())
    vault = Vault.objects.create(owner=owner, address=str(Keypair().pubkey()), token_account=str(Keypair().pubkey()),
                                 onchain_created_at=0)
    start = datetime(2024, 1, 15, 10, 30, tzinfo=timezone.utc)
    for i in range(25):
        Transaction.objects.create(vault=vault, transaction_type="deposit", amount=10**18 + i, signature=f"h{i}",
                                   event_index=0, slot=i, timestamp=start + timedelta(seconds=i))
    return owner


async def test_a_history_page_is_the_same_answer_without_django(stack, recorded_history):
    app, django = stack
    owner = recorded_history
    path = f"/vault/transactions/{owner}"
    through_django = await get(app, path, query=b"limit=10")
    first = await get(app, path, query=b"limit=10")
    assert django.paths == [path]
    assert first[0] == 200 and first[2] == through_django[2]
    assert without_request_id(first[1]) == without_request_id(through_django[1])
    cursor = first[1]["x-next-cursor"]
    assert first[1]["link"] == f'<{path}?limit=10&cursor={cursor}>; rel="next"'
    pages = [first]
    while "x-next-cursor" in pages[-1][1]:
        pages.append(await get(app, path, query=f"limit=10&cursor={pages[-1][1]['x-next-cursor']}".encode()))
    assert [p[0] for p in pages] == [200, 200, 200] and "link" not in pages[-1][1]
    amounts = [row["amount"] for page in pages for row in json.loads(page[2])]
    assert amounts == [10**18 + i for i in reversed(range(25))]  # every row once, newest first, exact
    assert django.paths == [path]  # every page answered before Django
    assert charges_counted() == 4


@pytest.mark.parametrize("query, status", [
    (b"limit=0", 400), (b"limit=%EF%BC%95", 400), (b"cursor=nope", 400), (b"limit=10&format=json", 200),
    (b"limit=10&x=1", 200), ("limit=1&é=1".encode(), 200),
])
async def test_history_requests_it_is_not_sure_about_go_to_django(stack, recorded_history, query, status):
    app, django = stack
    path = f"/vault/transactions/{recorded_history}"
    await get(app, path)  # learned
    answer = await get(app, path, query=query)
    assert answer[0] == status, answer[2]
    assert len(django.paths) == 2 and charges_counted() == 2


async def test_with_every_reader_busy_django_reads_the_page(stack, settings, recorded_history):
    app, django = stack
    path = f"/vault/transactions/{recorded_history}"
    learned = await get(app, path)
    assert (await get(app, path))[2] == learned[2] and django.paths == [path]  # on the fast path's pool
    settings.API_FAST_READ_THREADS = 0  # none free
    busy = await get(app, path)
    assert busy[0] == 200 and busy[2] == learned[2]
    assert django.paths == [path, path] and charges_counted() == 3
