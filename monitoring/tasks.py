"""The periodic jobs (scheduled by Celery beat from monitoring/schedules.py).

Every job:
- holds a Redis lock for its whole run (monitoring/locks.py): a run that starts while another
  holds the lock does nothing and returns {"skipped": "locked"};
- retries with exponential back-off on the failures that pass (RPC unreachable, Redis or
  PostgreSQL connection lost): countdown = MONITOR_RETRY_BACKOFF_FACTOR * 2**retries seconds,
  capped at MONITOR_RETRY_BACKOFF_MAX_SECONDS, at most MONITOR_MAX_RETRIES times. The lock is
  released before the retry is scheduled, and each job is idempotent, so a retry never doubles
  work.

The indexer's passes are the indexer's code (monitoring/indexer/); these jobs only call them:
- `monitoring.indexer.backfill.run_backfill_once()`: one backfill pass (getSignaturesForAddress
  back to the stored cursor, then store what is missing), the safety net behind `manage.py index`;
- `monitoring.indexer.finality.run_finalization_pass()`: mark rows finalized, roll back the
  ones the chain no longer knows.
"""
from __future__ import annotations

import logging
from functools import wraps

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from monitoring.locks import job_lock
from monitoring.schedules import JOBS_BY_TASK
from vaults.chain.client import ChainError
from vaults.services.chain_identity import ChainMismatch, ensure_same_chain

logger = logging.getLogger(__name__)

RETRYABLE = (ChainError, RedisConnectionError, RedisTimeoutError, OperationalError, InterfaceError)

def monitoring_job(task_name: str):
    """Registers `fn` as the Celery task `task_name`, run under its job's lock, with back-off."""
    job = JOBS_BY_TASK[task_name]

    def decorate(fn):
        @shared_task(
            name=task_name, bind=True, ignore_result=True,
            autoretry_for=RETRYABLE,
            retry_backoff=settings.MONITOR_RETRY_BACKOFF_FACTOR,
            retry_backoff_max=settings.MONITOR_RETRY_BACKOFF_MAX_SECONDS,
            retry_jitter=False,
            max_retries=settings.MONITOR_MAX_RETRIES,
        )
        @wraps(fn)
        def task(self):
            with job_lock(task_name, job.lock_seconds) as held:
                if not held:
                    logger.info("%s: another run holds the lock; skipped", task_name)
                    return {"skipped": "locked"}
                try:
                    ensure_same_chain()
                except ChainMismatch as exc:
                    logger.critical("%s refused: %s", task_name, exc)
                    return {"skipped": "chain_mismatch", "error": str(exc)}
                return fn()

        return task

    return decorate


@monitoring_job("monitoring.backfill")
def backfill():
    from monitoring.indexer.backfill import run_backfill_once

    return {"result": run_backfill_once()}


@monitoring_job("monitoring.finalize")
def finalize():
    from monitoring.indexer.finality import run_finalization_pass

    return {"result": run_finalization_pass()}


@monitoring_job("monitoring.reconcile")
def reconcile():
    from monitoring.services.balance_tracker import BalanceTracker

    logs = BalanceTracker().reconcile_all()
    counts: dict[str, int] = {}
    for log in logs:
        counts[str(log.status)] = counts.get(str(log.status), 0) + 1
    return counts


@monitoring_job("monitoring.discover_vaults")
def discover_vaults():
    from monitoring.services.balance_tracker import BalanceTracker

    logs = BalanceTracker().reconcile_unknown_vaults()
    return {"unknown_vaults": len(logs),
            "missing_from_ledger": sum(1 for log in logs if log.status == log.Status.MISMATCH)}


@monitoring_job("monitoring.snapshot_hourly")
def snapshot_hourly():
    from monitoring.services.balance_tracker import BalanceTracker

    return {"snapshots": len(BalanceTracker().take_snapshots("hourly"))}


@monitoring_job("monitoring.snapshot_daily")
def snapshot_daily():
    from monitoring.services.balance_tracker import BalanceTracker

    return {"snapshots": len(BalanceTracker().take_snapshots("daily"))}


@monitoring_job("monitoring.tvl_update")
def tvl_update():
    from monitoring.services.vault_monitor import VaultMonitor

    return VaultMonitor().broadcast_tvl()


@monitoring_job("monitoring.monitor_vaults")
def monitor_vaults():
    from monitoring.services.vault_monitor import VaultMonitor

    return VaultMonitor().monitor_vaults()
