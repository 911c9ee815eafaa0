"""One chain per ledger: the ledger records its chain; a back office pointed at another chain
refuses to start (web, worker) and to index (indexer, jobs), naming both chains; a restored
local chain is the same chain; `reset_ledger` empties a development ledger only."""
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from solders.signature import Signature

from monitoring.indexer.finality import run_finalization_pass
from tests.localnet import start_localnet
from tests.monitoring.indexer_support import chain, vault_user  # noqa: F401 - fixtures
from vaults.chain.client import ChainClient
from vaults.models import AuditTrail, LedgerChain, Transaction, Vault
from vaults.services.chain_identity import (
    ChainMismatch, current_identity, ensure_same_chain, recorded_identity, verify_at_startup,
)

pytestmark = [pytest.mark.localnet, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def other_localnet(tmp_path_factory):
    """A second local validator: another chain, with the same programs, mint and keys."""
    net = start_localnet(tmp_path_factory.mktemp("other-chain"))
    yield net
    net.stop()


def _client(net, settings) -> ChainClient:
    return ChainClient(rpc_url=net.rpc_url, program_id=settings.PROGRAM_ID, usdt_mint=net.mint,
                       position_manager_id=settings.POSITION_MANAGER_PROGRAM_ID)


def _process_env(net, **extra):
    from django.db import connection

    db = connection.settings_dict
    return {
        **{k: v for k, v in os.environ.items() if k not in {"LOCALNET_FILE", "DJANGO_SETTINGS_MODULE"}},
        "DJANGO_SETTINGS_MODULE": "vaultsite.settings.dev",
        "DATABASE_URL": f"postgresql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
        "RPC_URL": net.rpc_url, "WS_URL": net.description["ws_url"], "USDT_MINT": net.mint,
        "LOCALNET_FILE": "/nonexistent/localnet.json", **extra,
    }


def test_the_first_check_records_the_chain_and_the_same_chain_passes(chain, localnet):
    assert recorded_identity() is None
    identity = ensure_same_chain(chain)
    assert identity.instance == localnet.description["chain_instance"] and len(identity.genesis_hash) >= 32
    assert recorded_identity() == identity and ensure_same_chain(chain) == identity


def test_another_chain_is_refused_with_both_chains_named(chain, other_localnet, settings):
    ensure_same_chain(chain)
    other = _client(other_localnet, settings)
    with pytest.raises(ChainMismatch) as refused:
        ensure_same_chain(other)
    mine, theirs = recorded_identity(), current_identity(other)
    assert mine.instance != theirs.instance
    message = str(refused.value)
    assert mine.genesis_hash in message and theirs.genesis_hash in message
    assert mine.instance in message and theirs.instance in message


def test_the_indexer_and_the_web_refuse_to_start_against_another_chain(chain, other_localnet, settings):
    ensure_same_chain(chain)
    env = _process_env(other_localnet)
    indexer = subprocess.run([sys.executable, "manage.py", "index", "--once"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
    assert indexer.returncode != 0 and "refusing to index" in indexer.stderr
    assert recorded_identity().genesis_hash in indexer.stderr
    web = subprocess.run([sys.executable, "-c", "import vaultsite.asgi"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert web.returncode != 0 and "web refuses to start" in web.stderr
    # And a Celery worker's start hook, and every job, refuse too.
    settings.CHAIN_CHECK_AT_STARTUP = True
    with pytest.raises(SystemExit):
        verify_at_startup("celery worker", _client(other_localnet, settings))
    assert Transaction.objects.count() == 0


def test_a_ledger_without_a_recorded_chain_is_adopted_only_when_its_vaults_are_on_the_chain(
        chain, vault_user, other_localnet, settings):
    user = vault_user()
    user.open_vault()
    state = chain.get_vault(user.owner)
    Vault.objects.create(owner=user.owner, address=user.vault, token_account=state.token_account,
                         event_seq=state.event_seq, onchain_created_at=state.created_at)
    with pytest.raises(ChainMismatch):
        ensure_same_chain(_client(other_localnet, settings))  # that vault is not on the other chain
    assert recorded_identity() is None
    assert ensure_same_chain(chain) == current_identity(chain)


def test_rows_older_than_a_restored_chains_history_are_final_not_rolled_back(chain, vault_user):
    user = vault_user()
    user.open_vault()
    state = chain.get_vault(user.owner)
    vault = Vault.objects.create(owner=user.owner, address=user.vault, token_account=state.token_account,
                                 event_seq=state.event_seq, onchain_created_at=state.created_at)
    finalized = chain.get_finalized_slot()
    before, after = (str(Signature(secrets.token_bytes(64))) for _ in range(2))
    for signature, slot in ((before, finalized - 10), (after, finalized - 1)):
        Transaction.objects.create(vault=vault, transaction_type="deposit", amount=5, signature=signature,
                                   event_index=0, event_seq=None, slot=slot, timestamp=timezone.now())
    ensure_same_chain(chain)
    LedgerChain.objects.update(history_start_slot=finalized - 5)  # as a restore records it

    counts = run_finalization_pass(chain)

    assert Transaction.objects.get(signature=before).status == "finalized"  # carried by the restored state
    assert not Transaction.objects.filter(signature=after).exists()  # the chain's own history: unknown, dropped
    assert counts["rolled_back"] == 1


def test_reset_ledger_empties_a_development_ledger_and_is_audited(chain, vault_user, settings):
    user = vault_user()
    user.open_vault()
    state = chain.get_vault(user.owner)
    Vault.objects.create(owner=user.owner, address=user.vault, token_account=state.token_account,
                         onchain_created_at=state.created_at)
    ensure_same_chain(chain)
    with pytest.raises(SystemExit):
        call_command("reset_ledger")  # without --yes: counts only
    assert Vault.objects.count() == 1

    call_command("reset_ledger", "--yes", "--reason", "test")

    assert (Vault.objects.count(), LedgerChain.objects.count()) == (0, 0)
    row = AuditTrail.objects.get(action="ledger.reset")
    assert row.details["reason"] == "test" and row.details["deleted"]["vaults"] == 1
    assert row.details["previous_chain"]["instance"] == current_identity(chain).instance


def test_reset_ledger_refuses_outside_development_settings(settings, localnet):
    settings.LEDGER_RESET_ALLOWED = False
    with pytest.raises(CommandError, match="development settings"):
        call_command("reset_ledger", "--yes")
    # The production settings, whatever the environment says.
    env = _process_env(localnet, DJANGO_SETTINGS_MODULE="vaultsite.settings.production", DJANGO_SECRET_KEY="x" * 50,
                       LEDGER_RESET_ALLOWED="1")
    refused = subprocess.run([sys.executable, "manage.py", "reset_ledger", "--yes"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "development settings" in refused.stderr
