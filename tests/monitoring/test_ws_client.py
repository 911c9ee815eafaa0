"""The "Real client" fault: a real websocket client (monitoring.ws_client on the `websockets`
package) connected to the real ASGI server (the production web command of scripts/run.py, a subprocess on a free
loopback port, on the test database and Redis) receives `deposit` and `balance_update` for a deposit it did not make,
made on the local validator and recorded through the ledger. The lag is measured by the
benchmark, not asserted here."""
import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from django.conf import settings as django_settings
from solders.keypair import Keypair

from monitoring import streams
from monitoring.ws_client import StreamClient, StreamError
from tests.live_server import database_url, free_port
from tests.localnet import fund_wallet
from tests.monitoring.stream_helpers import add_deposit, make_vault, vault_pda, wallet_token
from vaults.models import Transaction, Vault

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 30

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clean_redis")]


def _start_web(tmp_path, processes: int):
    """The production web server (scripts/run.py's `web_command`: vaultsite.serve, `processes` daphne processes
    accepting on one port) on the test database and Redis; returns (process, port)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from run import web_command
    finally:
        sys.path.pop(0)
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "vaultsite.settings.test", "DATABASE_URL": database_url(),
           "TEST_REDIS_URL": django_settings.REDIS_URL, "PYTHONUNBUFFERED": "1"}
    log_path = tmp_path / f"web-{processes}.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(web_command(sys.executable, "127.0.0.1", port, processes), cwd=ROOT, env=env,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        if server.poll() is not None:
            pytest.fail(f"the web server exited:\n{log_path.read_text()}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        if time.monotonic() > deadline:
            _stop(server)
            pytest.fail(f"the web server did not listen within {STARTUP_SECONDS} s:\n{log_path.read_text()}")
        time.sleep(0.1)
    return server, port


def _stop(server):
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    except ProcessLookupError:
        pass


@pytest.fixture
def asgi_server(tmp_path, transactional_db):
    """One web process serving vaultsite.asgi; yields the /ws URL."""
    server, port = _start_web(tmp_path, 1)
    try:
        yield f"ws://127.0.0.1:{port}/ws"
    finally:
        _stop(server)


@pytest.fixture
def two_web_processes(tmp_path, transactional_db):
    """Two web processes behind one port (make run's production mode with WEB_PROCESSES=2)."""
    server, port = _start_web(tmp_path, 2)
    try:
        yield f"ws://127.0.0.1:{port}/ws"
    finally:
        _stop(server)


def _is_deposit(signature):
    return lambda m: m["type"] == "deposit" and m["signature"] == signature


@pytest.mark.localnet
async def test_a_real_client_receives_deposit_and_balance_update_for_someone_elses_deposit(
        asgi_server, localnet, settings):
    from vaults.chain.client import get_chain_client
    from vaults.services.api_keys import create_api_key
    from vaults.services.vault_manager import VaultManager

    chain = get_chain_client()
    user = Keypair()
    owner = str(user.pubkey())
    await asyncio.to_thread(fund_wallet, chain, localnet, user.pubkey(), tokens=5_000_000)
    settings.DEV_SIGNER_ENABLED = True  # the back office signs for this wallet: the client makes nothing
    settings.DEV_SIGNER_SECRET_KEYS = [list(bytes(user))]
    token = await database_sync_to_async(wallet_token)(user)
    raw_key, _ = await database_sync_to_async(create_api_key)("observer")

    async with StreamClient(asgi_server, token=token) as wallet_client, \
            StreamClient(asgi_server, api_key=raw_key) as observer:
        assert wallet_client.welcome["principal"] == {"kind": "wallet", "wallet": owner}
        await wallet_client.subscribe(user=owner)
        await observer.subscribe(vault=vault_pda(owner))

        def deposit_and_publish():
            manager = VaultManager(chain)
            manager.initialize_vault(owner)
            signature = manager.deposit(owner, 1_250_000).signature  # recorded through the ledger
            # Until the indexer publishes on its own, send what it will send for this deposit.
            row = Transaction.objects.select_related("vault", "counterparty_vault").get(signature=signature)
            vault = Vault.objects.get(owner=owner)
            streams.publish_now([streams.message_for_transaction(row), streams.balance_update_for_vault(vault)])
            return signature

        signature = await database_sync_to_async(deposit_and_publish)()

        for client in (wallet_client, observer):
            deposit = (await client.wait_for(_is_deposit(signature), timeout=30)).message
            assert {k: deposit[k] for k in ("type", "user", "amount", "signature")} == {
                "type": "deposit", "user": owner, "amount": 1_250_000, "signature": signature}
            assert isinstance(deposit["timestamp"], int) and deposit["vault"] == vault_pda(owner)
            balance = (await client.wait_for(lambda m: m["type"] == "balance_update", timeout=30)).message
            assert {k: balance[k] for k in ("vault", "total_balance", "locked_balance", "available_balance")} == {
                "vault": vault_pda(owner), "total_balance": 1_250_000, "locked_balance": 0,
                "available_balance": 1_250_000}
            assert isinstance(balance["timestamp"], int)
            assert client.last_seq[vault_pda(owner)] == deposit["seq"]


async def test_the_client_reconnects_and_the_server_replays_the_gap(asgi_server):
    """monitoring.ws_client's reconnect() resumes from the last seq it saw: nothing is lost or
    repeated across the reconnection (the real server, no validator needed)."""
    user = Keypair()
    owner = str(user.pubkey())
    vault = await database_sync_to_async(make_vault)(owner)
    token = await database_sync_to_async(wallet_token)(user)

    async def write_and_publish(seq):
        _, messages = await database_sync_to_async(add_deposit)(vault, seq)
        await database_sync_to_async(streams.publish_now)(messages)

    async with StreamClient(asgi_server, token=token) as client:
        await client.subscribe(vault=vault.address)
        await write_and_publish(1)
        assert (await client.wait_for(lambda m: m["type"] == "deposit", timeout=10)).message["seq"] == 1
        await client.close()
        await write_and_publish(2)  # while disconnected
        await write_and_publish(3)
        await client.reconnect()
        await write_and_publish(4)
        seqs = []
        while len(seqs) < 3:
            seqs.append((await client.wait_for(lambda m: m["type"] == "deposit", timeout=10)).message["seq"])
        assert seqs == [2, 3, 4]
        with pytest.raises(StreamError) as refused:
            await client.subscribe(all=True)
        assert refused.value.code == "forbidden"


async def test_an_idle_subscriber_outlives_the_layers_blocking_read(asgi_server):
    """channels-redis blocks 5 s per read; with redis-py 8's default 5 s socket timeout that used
    to kill every consumer idle for 5 s. An idle subscriber must still get the next message."""
    user = Keypair()
    owner = str(user.pubkey())
    token = await database_sync_to_async(wallet_token)(user)
    async with StreamClient(asgi_server, token=token) as client:
        await client.subscribe(user=owner)
        await asyncio.sleep(7)
        message = streams.vault_event("deposit", owner=owner, vault=vault_pda(owner), amount=1, signature="late",
                                      timestamp=1, seq=1, slot=1)
        await database_sync_to_async(streams.publish_now)([message])
        assert (await client.receive(timeout=10)).message == message


async def test_clients_spread_over_two_web_processes_each_get_every_message_once_in_order(two_web_processes):
    """Each web process has its own /ws hub, one channel-layer member per process: a message
    published once reaches the clients of both processes, every one of them once and in order."""
    from channels.layers import get_channel_layer

    from vaults.services.api_keys import create_api_key

    raw_key, _ = await database_sync_to_async(create_api_key)("fan-out")
    owner = str(Keypair().pubkey())
    vault = vault_pda(owner)
    layer = get_channel_layer()
    group_key = layer._group_key(streams.vault_group(vault))
    clients = []
    try:
        # The kernel hands connections to whichever worker accepts first: connect until both
        # processes hold subscribers (a handful is enough in practice).
        while len(clients) < 24 or len(await layer.connection(0).zrange(group_key, 0, -1)) < 2:
            assert len(clients) < 200, "every connection went to one process"
            client = StreamClient(two_web_processes, api_key=raw_key)
            await client.connect()
            clients.append(client)
            await client.subscribe(vault=vault)
        assert len(await layer.connection(0).zrange(group_key, 0, -1)) == 2  # one member per process

        sent = [streams.vault_event("deposit", owner=owner, vault=vault, amount=1_000 + i, signature=f"sig{i}",
                                    timestamp=1_700_000_000, seq=i + 1, slot=i + 1) for i in range(40)]
        await database_sync_to_async(streams.publish_now)(sent)
        for client in clients:
            got = [(await client.receive(timeout=20)).message for _ in sent]
            assert got == sent
        await asyncio.sleep(0.3)
        assert all(client._queue.empty() for client in clients)  # nothing doubled
    finally:
        for client in clients:
            await client.close()
