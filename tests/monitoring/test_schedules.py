"""The beat schedule: declared once (monitoring/schedules.py), synced into django-celery-beat's
tables after migrate and on demand, idempotent, and never clobbering what staff changed."""
import pytest
from django.conf import settings
from django.core.management import call_command
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from monitoring.schedules import JOBS, JOBS_BY_TASK, sync_schedules
from monitoring.services.balance_tracker import BalanceTracker
from vaultsite.celery import app

pytestmark = pytest.mark.django_db(transaction=True)

REQUIRED_TASKS = {"monitoring.backfill", "monitoring.finalize", "monitoring.reconcile", "monitoring.discover_vaults",
                  "monitoring.snapshot_hourly", "monitoring.snapshot_daily", "monitoring.tvl_update",
                  "monitoring.monitor_vaults"}


@pytest.fixture
def empty_schedule():
    PeriodicTask.objects.all().delete()


def test_the_issue_jobs_are_all_declared():
    assert {job.task for job in JOBS} == REQUIRED_TASKS
    assert len({job.name for job in JOBS}) == len(JOBS)
    import monitoring.tasks  # noqa: F401 - registers the tasks

    assert REQUIRED_TASKS <= set(app.tasks)


def test_sync_creates_every_job_with_its_declared_schedule(empty_schedule):
    outcome = sync_schedules()
    assert sorted(outcome["created"]) == sorted(job.name for job in JOBS)
    for job in JOBS:
        row = PeriodicTask.objects.get(name=job.name)
        assert row.task == job.task and row.enabled
        assert row.expire_seconds == job.expire_seconds
        if job.every_seconds:
            assert (row.interval.every, row.interval.period, row.crontab) == (job.every_seconds, "seconds", None)
        else:
            assert row.interval is None and row.crontab.minute == job.crontab["minute"]
            assert str(row.crontab.timezone) == "UTC"


def test_sync_is_idempotent(empty_schedule):
    sync_schedules()
    counts = (PeriodicTask.objects.count(), IntervalSchedule.objects.count(), CrontabSchedule.objects.count())
    outcome = sync_schedules()
    assert sorted(outcome["unchanged"]) == sorted(job.name for job in JOBS)
    assert not (outcome["created"] or outcome["updated"] or outcome["reset"] or outcome["disabled"])
    assert (PeriodicTask.objects.count(), IntervalSchedule.objects.count(), CrontabSchedule.objects.count()) == counts


def test_staff_edits_survive_a_sync_and_reset_restores_the_declaration(empty_schedule):
    sync_schedules()
    reconcile = PeriodicTask.objects.get(task="monitoring.reconcile")
    reconcile.interval, _ = IntervalSchedule.objects.get_or_create(every=15, period=IntervalSchedule.MINUTES)
    reconcile.save()
    tvl = PeriodicTask.objects.get(task="monitoring.tvl_update")
    tvl.enabled = False
    tvl.save()
    backfill = PeriodicTask.objects.get(task="monitoring.backfill")
    PeriodicTask.objects.filter(pk=backfill.pk).update(task="monitoring.renamed_backfill")  # code moved on

    outcome = sync_schedules()
    assert outcome["updated"] == [backfill.name] and not outcome["created"]
    assert PeriodicTask.objects.get(pk=backfill.pk).task == "monitoring.backfill"
    reconcile.refresh_from_db()
    assert (reconcile.interval.every, reconcile.interval.period) == (15, "minutes")
    assert PeriodicTask.objects.get(pk=tvl.pk).enabled is False

    call_command("sync_schedules", "--reset", verbosity=0)
    reconcile.refresh_from_db()
    declared = JOBS_BY_TASK["monitoring.reconcile"].every_seconds
    assert (reconcile.interval.every, reconcile.interval.period) == (declared, "seconds")
    assert PeriodicTask.objects.get(pk=tvl.pk).enabled is True


def test_a_job_no_longer_declared_is_disabled_not_deleted(empty_schedule):
    sync_schedules()
    every, _ = IntervalSchedule.objects.get_or_create(every=5, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name="monitoring: retired job", task="monitoring.retired", interval=every)
    foreign = PeriodicTask.objects.create(name="staff's own job", task="vaults.something", interval=every)
    outcome = sync_schedules()
    assert outcome["disabled"] == ["monitoring: retired job"]
    assert PeriodicTask.objects.get(name="monitoring: retired job").enabled is False
    assert PeriodicTask.objects.get(pk=foreign.pk).enabled is True  # not ours: untouched


def test_migrate_syncs_the_schedule(empty_schedule):
    call_command("migrate", verbosity=0, interactive=False)
    assert set(PeriodicTask.objects.values_list("task", flat=True)) >= REQUIRED_TASKS


def test_start_monitoring_schedules_the_jobs(empty_schedule):
    names = BalanceTracker().start_monitoring()
    assert sorted(names) == sorted(job.name for job in JOBS)
    assert PeriodicTask.objects.filter(name__in=names, enabled=True).count() == len(JOBS)


def test_beat_runs_the_database_schedule(empty_schedule):
    """Beat is configured with django-celery-beat's DatabaseScheduler, and that scheduler reads
    the synced rows (what staff edit in the admin)."""
    assert settings.CELERY_BEAT_SCHEDULER == "django_celery_beat.schedulers:DatabaseScheduler"
    sync_schedules()
    scheduler = DatabaseScheduler(app=app, lazy=True)
    entries = scheduler.all_as_schedule()
    for job in JOBS:
        assert entries[job.name].task == job.task
    tvl = entries["monitoring: TVL update"]
    assert tvl.schedule.run_every.total_seconds() == JOBS_BY_TASK["monitoring.tvl_update"].every_seconds
