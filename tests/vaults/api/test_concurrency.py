"""Thirty identical deposits at once, through the real server (daphne + the ASGI app) and the
local validator with the dev signer: byte-identical transactions share one signature, so only
the first of each runs. Every request still gets a JSON answer; chain, ledger and API agree."""
import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.live_server import serve
from vaults.models import Transaction, Vault
from vaults.services.api_keys import create_api_key

pytestmark = [pytest.mark.localnet, pytest.mark.django_db(transaction=True)]

AMOUNT = 1_000_000
REQUESTS = 30


def test_thirty_identical_concurrent_deposits(localnet, tmp_path, chain, funded_wallet):
    dev = funded_wallet(tokens=AMOUNT * REQUESTS)
    owner = str(dev.pubkey())
    raw_key, _ = create_api_key("concurrency")
    headers = {"X-API-Key": raw_key}
    with serve(tmp_path, localnet, wallets=[dev], DEV_SIGNER_ENABLED="1") as url:
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
            init = client.post("/vault/initialize", json={"user": owner})
            assert init.status_code == 200, init.text
        before = chain.get_vault(owner).total_deposited

        def deposit(_):
            with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
                return client.post("/vault/deposit", json={"user": owner, "amount": AMOUNT})

        with ThreadPoolExecutor(REQUESTS) as pool:
            answers = list(pool.map(deposit, range(REQUESTS)))

        for answer in answers:
            assert answer.headers["content-type"].startswith("application/json"), answer.text[:200]
            assert answer.status_code in (200, 409), answer.text
        bodies = [json.loads(a.text) for a in answers]
        executed = [b["signature"] for a, b in zip(answers, bodies) if a.status_code == 200]
        duplicates = [b["error"] for a, b in zip(answers, bodies) if a.status_code == 409]
        assert executed and len(set(executed)) == len(executed)
        for error in duplicates:
            assert error["code"] == "duplicate_transaction"
            assert error["details"]["signature"] in executed

        print(f"{len(executed)} executed, {len(duplicates)} answered 409 duplicate_transaction")
        deposited = chain.get_vault(owner).total_deposited - before
        assert deposited == AMOUNT * len(executed)
        rows = list(Transaction.objects.filter(vault__owner=owner, transaction_type="deposit",
                                               signature__in=executed))
        assert sorted(r.signature for r in rows) == sorted(executed)  # one row each, none shared
        stored = Vault.objects.get(owner=owner)
        on_chain = chain.get_vault(owner)
        assert stored.total_deposited == on_chain.total_deposited
        with httpx.Client(base_url=url) as client:
            balance = client.get(f"/vault/balance/{owner}").json()
        assert balance["total_deposited"] == on_chain.total_deposited
        assert balance["total_balance"] == on_chain.total_balance == stored.total_balance
