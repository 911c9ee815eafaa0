"""Local runs only: keeps one API key in a file so curl examples work after every restart."""
import secrets
from pathlib import Path

from django.core.management.base import BaseCommand

from vaults.services.api_keys import api_key_for, create_api_key


class Command(BaseCommand):
    help = "Create a dev API key unless the one stored in KEY_FILE is still valid; print it."

    def add_arguments(self, parser):
        parser.add_argument("key_file")

    def handle(self, *args, key_file, **options):
        path = Path(key_file)
        raw = path.read_text().strip() if path.exists() else ""
        if not raw or api_key_for(raw) is None:
            raw, _ = create_api_key(f"dev-{secrets.token_hex(3)}")
            path.write_text(raw)
            path.chmod(0o600)
        self.stdout.write(raw)
