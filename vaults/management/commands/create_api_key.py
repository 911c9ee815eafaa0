from django.core.management.base import BaseCommand

from vaults.services.api_keys import create_api_key


class Command(BaseCommand):
    help = "Create an API key for a service client and print it (once)."

    def add_arguments(self, parser):
        parser.add_argument("name")

    def handle(self, *args, name, **options):
        raw, _ = create_api_key(name)
        self.stdout.write(raw)
