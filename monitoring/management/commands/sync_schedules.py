"""Brings the periodic jobs declared in monitoring/schedules.py into Celery beat's database
schedule (also done after every `migrate`)."""
from django.core.management.base import BaseCommand

from monitoring.schedules import sync_schedules


class Command(BaseCommand):
    help = "Create the declared periodic jobs that are missing; --reset restores their declared schedules."

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true",
                            help="put back the declared schedule and re-enable every declared job (undoes staff edits)")

    def handle(self, *args, reset=False, **options):
        outcome = sync_schedules(reset=reset)
        for kind, names in outcome.items():
            for name in names:
                self.stdout.write(f"{kind}: {name}")
