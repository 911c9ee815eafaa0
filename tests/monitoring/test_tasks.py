"""The periodic jobs, run through Celery (eagerly, `apply()`) against the real local validator,
PostgreSQL and Redis: the Redis lock, the back-off schedule, the TVL job, the snapshots and the
indexer's entry points."""
import threading

import pytest
from celery.signals import task_retry
from django.core.cache import cache
from django.db import connections
from rest_framework.test import APIClient

from monitoring import streams, tasks
from monitoring.locks import job_lock, lock_key
from monitoring.schedules import JOBS
from tests.monitoring.monitor_fixtures import Listener, chain, dev_vault, staff_alerts  # noqa: F401
from vaults.cache_keys import TVL_KEY
from vaults.chain.client import ChainUnavailable
from vaults.models import BalanceSnapshot, ReconciliationLog, ReconciliationRun, Transaction, Vault
from vaults.redis_client import get_redis

pytestmark = [pytest.mark.django_db(transaction=True)]
TASKS = {job.task: getattr(tasks, job.task.split(".", 1)[1]) for job in JOBS}


@pytest.fixture(autouse=True)
def _clean(clean_redis):
    """Locks and cached values never leak between tests."""


def test_every_declared_job_is_a_registered_task():
    from vaultsite.celery import app

    for job in JOBS:
        assert job.task in app.tasks, job.task
        assert TASKS[job.task].name == job.task


def test_every_job_is_a_no_op_while_another_run_holds_its_lock():
    for job in JOBS:
        with job_lock(job.task, 30) as held:
            assert held
            assert get_redis().exists(lock_key(job.task))
            result = TASKS[job.task].apply()
            assert result.successful() and result.result == {"skipped": "locked"}, job.task
    assert not any(get_redis().exists(lock_key(job.task)) for job in JOBS)  # all released


@pytest.mark.localnet
def test_the_lock_is_taken_for_the_run_and_released_after_it(dev_vault):
    dev_vault(deposit=1_000)
    with job_lock("monitoring.reconcile", 30):
        assert tasks.reconcile.apply().result == {"skipped": "locked"}
    assert ReconciliationRun.objects.count() == 0  # the skipped run wrote nothing
    assert tasks.reconcile.apply().result == {"matched": 1}
    assert ReconciliationRun.objects.get().matched == 1
    assert ReconciliationLog.objects.count() == 0  # a matched vault has no row of its own
    assert not get_redis().exists(lock_key("monitoring.reconcile"))


@pytest.mark.localnet
def test_concurrent_runs_do_the_work_once(dev_vault):
    """Two workers start the same job at the same moment: one runs, the other is a no-op."""
    for deposit in (1_000, 2_000, 3_000):
        dev_vault(deposit=deposit)
    start = threading.Barrier(2)
    results = []

    def worker():
        start.wait()
        try:
            results.append(tasks.reconcile.apply().result)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(results, key=str) == sorted([{"matched": 3}, {"skipped": "locked"}], key=str)
    assert ReconciliationRun.objects.get().vaults_checked == 3


def test_retries_back_off_exponentially_while_the_rpc_is_down(settings):
    """The RPC is unreachable (nothing listens on the port): each attempt fails with
    ChainUnavailable and is retried after factor * 2**n seconds (capped), up to the limit, then
    the job fails. (Run eagerly, Celery performs the retries at once; the countdowns are those a
    worker would wait.)"""
    settings.SOLANA_RPC_URL = "http://127.0.0.1:9"
    settings.RPC_TIMEOUT_SECONDS = 2
    Vault.objects.create(owner="o" * 43, address="a" * 43, token_account="t" * 43, onchain_created_at=0)
    factor, cap = settings.MONITOR_RETRY_BACKOFF_FACTOR, settings.MONITOR_RETRY_BACKOFF_MAX_SECONDS
    retries = []

    def on_retry(sender, request, reason, **kwargs):
        retries.append((request.retries, reason.when, type(reason.exc)))
        assert not get_redis().exists(lock_key("monitoring.reconcile"))  # released before the retry

    task_retry.connect(on_retry, sender=tasks.reconcile, weak=False)
    try:
        result = tasks.reconcile.apply()
    finally:
        task_retry.disconnect(on_retry, sender=tasks.reconcile)
    limit = settings.MONITOR_MAX_RETRIES
    assert [r[0] for r in retries] == list(range(limit))
    assert [r[1] for r in retries] == [min(cap, factor * 2**n) for n in range(limit)] == [2, 4, 8, 16, 32, 64]
    assert {r[2] for r in retries} == {ChainUnavailable}
    assert result.state == "FAILURE" and isinstance(result.result, ChainUnavailable)
    assert ReconciliationLog.objects.count() == 0  # all-or-nothing: no partial run was written
    assert ReconciliationRun.objects.count() == 0
    assert not get_redis().exists(lock_key("monitoring.reconcile"))


@pytest.mark.localnet
def test_tvl_job_caches_for_the_api_and_broadcasts(dev_vault, chain, settings):
    first, second = dev_vault(deposit=123_456), dev_vault(deposit=7)
    everyone = Listener(streams.TVL_GROUP)
    try:
        summary = tasks.tvl_update.apply().result
        assert summary["total_value_locked"] == 123_463 == sum(chain.get_vault(v.owner).total_balance
                                                               for v in (first, second))
        assert summary["total_vaults"] == 2
        assert cache.get(TVL_KEY) == summary
        ttl = get_redis().ttl(cache.make_key(TVL_KEY))
        assert settings.TVL_CACHE_SECONDS - 5 <= ttl <= settings.TVL_CACHE_SECONDS == 60
        message = everyone.receive()
        assert message == {"type": "tvl_update", **summary}
    finally:
        everyone.close()
    # The API serves the cached value (the seeds' GET /vault/tvl).
    answer = APIClient().get("/vault/tvl").json()
    assert answer["total_value_locked"] == 123_463 and answer["timestamp"] == summary["timestamp"]


@pytest.mark.localnet
def test_snapshot_jobs_take_one_snapshot_per_vault_per_period(dev_vault):
    dev_vault(deposit=10)
    dev_vault(deposit=20)
    assert tasks.snapshot_hourly.apply().result == {"snapshots": 2}
    assert tasks.snapshot_hourly.apply().result == {"snapshots": 0}
    assert tasks.snapshot_daily.apply().result == {"snapshots": 2}
    assert sorted(BalanceSnapshot.objects.filter(kind="hourly").values_list("total_balance", flat=True)) == [10, 20]


@pytest.mark.localnet
def test_monitor_job_runs_the_security_watch(dev_vault, settings, staff_alerts):
    settings.MONITOR_LARGE_WITHDRAWAL_AMOUNT = 1
    dev_vault(deposit=1_000)
    result = tasks.monitor_vaults.apply().result
    assert set(result) == {"unauthorized", "anomalies"} and result["anomalies"] == 0  # deposits only


@pytest.mark.localnet
def test_backfill_job_stores_a_deposit_nobody_recorded(chain, localnet, settings):
    """The safety net stores what no live stream delivered (no indexer process runs here)."""
    from solders.keypair import Keypair

    from tests.localnet import fund_wallet
    from vaults.services.transaction_builder import TransactionBuilder

    user = Keypair()
    fund_wallet(chain, localnet, user.pubkey(), tokens=50_000)
    builder = TransactionBuilder(chain)
    signatures = []
    for instruction in (chain.initialize_vault_instruction(user.pubkey()),
                        chain.deposit_instruction(user.pubkey(), 50_000, chain.associated_token_address(user.pubkey()))):
        built = builder.build([instruction], user.pubkey(), [user])
        signatures.append(chain.send(built.transaction))
        chain.confirm(signatures[-1], built.last_valid_block_height)
    assert not Transaction.objects.filter(signature__in=signatures).exists()  # sent, never recorded
    result = tasks.backfill.apply()
    assert result.successful(), result.result
    assert Transaction.objects.filter(signature=signatures[1], transaction_type="deposit", amount=50_000).count() == 1
    assert tasks.backfill.apply().successful()
    assert Transaction.objects.filter(signature=signatures[1]).count() == 1  # idempotent


@pytest.mark.localnet
def test_finalization_job_keeps_rows_the_chain_knows(dev_vault):
    user = dev_vault(deposit=9_000)
    result = tasks.finalize.apply()
    assert result.successful(), result.result
    assert Transaction.objects.filter(vault__owner=user.owner, transaction_type="deposit", amount=9_000).count() == 1



@pytest.mark.localnet
def test_vault_discovery_job_reports_vaults_the_database_never_stored(chain, localnet, settings):
    from tests.monitoring.test_balance_tracker import _vault_the_database_never_saw

    settings.MONITOR_RECONCILIATION_LAG_GRACE_SECONDS = 0
    vault, _ = _vault_the_database_never_saw(chain, localnet, 5_000)
    result = tasks.discover_vaults.apply()
    assert result.successful(), result.result
    assert result.result["missing_from_ledger"] >= 1
    assert ReconciliationLog.objects.filter(details__vault=vault, status="mismatch").count() == 1
