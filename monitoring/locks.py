"""Redis locks for the periodic jobs: one run of a job at a time, across every worker.

A run that finds the lock held does nothing (beat will start the job again at its next tick).
The lock expires after the job's `lock_seconds` (monitoring/schedules.py), so a worker killed in
the middle of a run never blocks the job for good; a run that outlives its lock is logged.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager

from redis.exceptions import LockError

from vaults.redis_client import get_redis

logger = logging.getLogger(__name__)

PREFIX = "monitoring:lock:"


def lock_key(job_name: str) -> str:
    return f"{PREFIX}{job_name}"


@contextmanager
def job_lock(job_name: str, ttl_seconds: int):
    """Yields True when this run holds the lock, False when another run does."""
    lock = get_redis().lock(lock_key(job_name), timeout=ttl_seconds, blocking=False)
    acquired = lock.acquire(blocking=False)
    try:
        yield acquired
    finally:
        if acquired:
            try:
                lock.release()
            except LockError:
                logger.warning("job %s outlived its %d s lock", job_name, ttl_seconds)
