"""Fixtures of the monitoring-jobs tests (BalanceTracker, VaultMonitor, tasks): real vaults on
the local validator, recorded in PostgreSQL, and a staff listener on the real Redis channel
layer. Imported by name from the test modules (kept out of a conftest the indexer and stream
tests may also grow)."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.transaction import VersionedTransaction

from monitoring import streams
from tests.localnet import fund_wallet


@dataclass
class DevVault:
    keypair: Keypair
    owner: str
    address: str


@pytest.fixture
def chain(localnet):
    from vaults.chain.client import get_chain_client

    return get_chain_client()


@pytest.fixture
def dev_vault(chain, localnet, settings):
    """make(deposit=..., tokens=...): a fresh wallet with a vault and a deposit, both made on the
    local validator and recorded through the ledger (the server signs as the localnet dev
    signer does)."""
    from vaults.services.vault_manager import VaultManager

    settings.DEV_SIGNER_ENABLED = True
    settings.DEV_SIGNER_SECRET_KEYS = []

    def make(*, deposit: int = 1_000_000, tokens: int | None = None) -> DevVault:
        keypair = Keypair()
        fund_wallet(chain, localnet, keypair.pubkey(), tokens=tokens if tokens is not None else max(deposit, 1))
        settings.DEV_SIGNER_SECRET_KEYS = [*settings.DEV_SIGNER_SECRET_KEYS, list(bytes(keypair))]
        owner = str(keypair.pubkey())
        manager = VaultManager(chain)
        manager.initialize_vault(owner)
        if deposit:
            manager.deposit(owner, deposit)
        return DevVault(keypair, owner, str(chain.vault_address(owner)))

    return make


def send_raw(chain, instructions, payer: Keypair, *signers: Keypair) -> str:
    """Sends without simulation or preflight (the way an attacker's client would), so a failing
    transaction still lands on chain; returns the signature once the chain has processed it."""
    from vaults.chain.client import TransactionFailed

    blockhash, last_valid = chain.get_latest_blockhash()
    message = MessageV0.try_compile(payer.pubkey(), list(instructions), [], blockhash)
    signature = chain.send(VersionedTransaction(message, [payer, *signers]))
    try:
        chain.confirm(signature, last_valid)
    except TransactionFailed:
        pass
    return signature


class Listener:
    """A channel on the real channel layer (channels-redis, its own connection), in the given
    groups. One event loop for its whole life: channels-redis binds a channel's receive buffer
    to the loop that first used it."""

    def __init__(self, *groups: str):
        self.loop = asyncio.new_event_loop()
        self.layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
        self.channel = self.loop.run_until_complete(self.layer.new_channel())
        for group in groups:
            self.loop.run_until_complete(self.layer.group_add(group, self.channel))

    def receive(self, timeout: float = 3.0) -> dict:
        envelope = self.loop.run_until_complete(asyncio.wait_for(self.layer.receive(self.channel), timeout=timeout))
        assert envelope["type"] == "stream.message"
        return envelope["message"]

    def receive_all(self, timeout: float = 1.0) -> list[dict]:
        out = []
        while True:
            try:
                out.append(self.receive(timeout))
            except asyncio.TimeoutError:
                return out

    def close(self) -> None:
        self.loop.run_until_complete(self.layer.close_pools())
        self.loop.close()


@pytest.fixture
def staff_alerts(clean_redis):
    """What a staff `/ws` client subscribed to alerts receives."""
    listener = Listener(streams.ALERTS_GROUP)
    yield listener
    listener.close()
