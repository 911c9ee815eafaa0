from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_beat_schedules(sender, using="default", **kwargs):
    """After `migrate`: the declared periodic jobs exist in beat's table (monitoring/schedules.py)."""
    from django.db import connections

    if "django_celery_beat_periodictask" not in connections[using].introspection.table_names():
        return
    from monitoring.schedules import sync_schedules

    sync_schedules()


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self):
        post_migrate.connect(_sync_beat_schedules, sender=self, dispatch_uid="monitoring.sync_beat_schedules")
