"""Every periodic job, declared once: what runs, how often, and for how long it may hold its lock.

Celery beat runs with django-celery-beat's DatabaseScheduler, so the schedule that actually runs
is the `django_celery_beat_periodictask` table, which staff edit in the admin ("Periodic
tasks"). `sync_schedules()` brings the declarations below into that table. It runs after every
`migrate` (a post_migrate hook, so a fresh database is scheduled with no extra step) and on
demand (`python manage.py sync_schedules [--reset]`). It is idempotent, and it never clobbers a
staff edit:
- a declared job with no row gets one, with the declared schedule, enabled;
- an existing row keeps its schedule, its enabled flag and everything else staff may have
  changed; only its `task` (the code path, which staff cannot meaningfully change) is corrected;
- `--reset` (reset=True) puts the declared schedule back and re-enables the job;
- a row for a `monitoring.*` task that is no longer declared is disabled, never deleted.

The snapshot jobs run every few minutes but take at most one snapshot per vault per hour (day),
the first run in each period does it: a missed tick (worker down at :00) costs nothing.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

logger = logging.getLogger(__name__)

DECLARED_NOTE = "[declared in monitoring/schedules.py]"


@dataclass(frozen=True)
class Job:
    name: str  # the PeriodicTask name staff see in the admin
    task: str  # the Celery task name (monitoring/tasks.py)
    lock_seconds: int  # the Redis lock's lifetime: longer than a run ever takes
    description: str
    every_seconds: int | None = None
    crontab: dict | None = None  # minute / hour / day_of_week / day_of_month / month_of_year

    @property
    def expire_seconds(self) -> int:
        """A run still queued after this long is dropped: the next tick replaces it."""
        return self.every_seconds or 600


JOBS: tuple[Job, ...] = (
    Job("monitoring: indexer backfill", "monitoring.backfill", lock_seconds=300, every_seconds=30,
        description="Safety net behind the live stream: getSignaturesForAddress back to the indexer's cursor, "
                    "then stores what the stream missed (monitoring/indexer/backfill.py)."),
    Job("monitoring: finalization pass", "monitoring.finalize", lock_seconds=300, every_seconds=60,
        description="Marks confirmed rows finalized; rolls back rows whose transaction the chain no longer "
                    "knows (monitoring/indexer/finality.py)."),
    Job("monitoring: reconciliation", "monitoring.reconcile", lock_seconds=600, every_seconds=300,
        description="Chain vault accounts vs token accounts vs the database ledger; one reconciliation_logs row "
                    "per vault; alerts on a mismatch."),
    Job("monitoring: vault discovery", "monitoring.discover_vaults", lock_seconds=600, every_seconds=900,
        description="getProgramAccounts for every vault account; a vault on chain that the database never "
                    "stored (past the lag grace period) is a critical alert."),
    Job("monitoring: hourly snapshots", "monitoring.snapshot_hourly", lock_seconds=600, crontab={"minute": "*/10"},
        description="One hourly balance_snapshots row per open vault, taken by the first run of each hour."),
    Job("monitoring: daily snapshots", "monitoring.snapshot_daily", lock_seconds=1200, crontab={"minute": "*/30"},
        description="One daily balance_snapshots row per open vault, taken by the first run of each day (UTC)."),
    Job("monitoring: TVL update", "monitoring.tvl_update", lock_seconds=60, every_seconds=30,
        description="Computes the TVL, caches it for the API (TVL_CACHE_SECONDS) and broadcasts tvl_update."),
    Job("monitoring: security watch", "monitoring.monitor_vaults", lock_seconds=300, every_seconds=60,
        description="Failed unauthorized lock/unlock/withdraw attempts; large withdrawals; fast outflow."),
)
JOBS_BY_TASK = {job.task: job for job in JOBS}
TASK_PREFIX = "monitoring."


def _schedule_for(job: Job) -> dict:
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule

    if job.every_seconds:
        interval, _ = IntervalSchedule.objects.get_or_create(every=job.every_seconds, period=IntervalSchedule.SECONDS)
        return {"interval": interval, "crontab": None, "solar": None, "clocked": None}
    fields = {"minute": "*", "hour": "*", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*", **job.crontab}
    crontab = CrontabSchedule.objects.filter(**fields, timezone="UTC").first()
    if crontab is None:
        crontab = CrontabSchedule.objects.create(**fields, timezone="UTC")
    return {"interval": None, "crontab": crontab, "solar": None, "clocked": None}


def sync_schedules(*, reset: bool = False) -> dict[str, list[str]]:
    """Brings JOBS into django-celery-beat's table (see the module docstring). Returns the job
    names per outcome: created, updated, reset, unchanged, disabled."""
    from django.db import transaction
    from django_celery_beat.models import PeriodicTask

    outcome = {"created": [], "updated": [], "reset": [], "unchanged": [], "disabled": []}
    with transaction.atomic():
        for job in JOBS:
            row = PeriodicTask.objects.select_for_update().filter(name=job.name).first()
            description = f"{job.description} {DECLARED_NOTE}"
            if row is None:
                PeriodicTask.objects.create(name=job.name, task=job.task, enabled=True, description=description,
                                            expire_seconds=job.expire_seconds, **_schedule_for(job))
                outcome["created"].append(job.name)
                continue
            if reset:
                for name, value in _schedule_for(job).items():
                    setattr(row, name, value)
                row.task, row.enabled, row.description = job.task, True, description
                row.expires, row.expire_seconds = None, job.expire_seconds
                row.save()
                outcome["reset"].append(job.name)
            elif row.task != job.task:
                row.task = job.task
                row.save(update_fields=["task"])
                outcome["updated"].append(job.name)
            else:
                outcome["unchanged"].append(job.name)
        declared = {job.name for job in JOBS}
        stale = (PeriodicTask.objects.filter(task__startswith=TASK_PREFIX, enabled=True)
                 .exclude(name__in=declared))
        for row in stale:
            row.enabled = False
            row.save(update_fields=["enabled"])
            outcome["disabled"].append(row.name)
    if outcome["created"] or outcome["disabled"] or outcome["reset"] or outcome["updated"]:
        logger.info("beat schedules synced: %s", {k: v for k, v in outcome.items() if v and k != "unchanged"})
    return outcome
