"""The Celery app. Schedules live in the database (django-celery-beat's DatabaseScheduler)."""
import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vaultsite.settings.dev")

app = Celery("vaultsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _verify_chain(**_):
    """One chain per ledger: a worker pointed at another chain does not start."""
    from vaults.services.chain_identity import verify_at_startup

    verify_at_startup("celery worker")
