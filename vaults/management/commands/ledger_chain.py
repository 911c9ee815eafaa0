"""`python manage.py ledger_chain [--check | --adopt]`: the chain this ledger belongs to."""
import json

from django.core.management.base import BaseCommand, CommandError

from vaults.chain.client import ChainError
from vaults.services.chain_identity import ChainMismatch, current_identity, ensure_same_chain, recorded_identity

MISMATCH_EXIT = 2


class Command(BaseCommand):
    help = "Show the ledger's recorded chain and the RPC's; --check records it on an empty ledger or fails (exit 2)."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--check", action="store_true",
                           help="record the RPC's chain on an empty ledger; exit 2 when it is another chain")
        group.add_argument("--adopt", action="store_true",
                           help="record the RPC's chain for a ledger that holds data but no recorded chain")

    def handle(self, *args, check=False, adopt=False, **options):
        try:
            if check or adopt:
                ensure_same_chain(adopt=adopt)
            current = current_identity()
        except ChainMismatch as exc:
            self.stderr.write(f"ledger chain mismatch: {exc}")
            raise SystemExit(MISMATCH_EXIT) from None
        except ChainError as exc:
            raise CommandError(f"the RPC does not answer: {exc}") from exc
        recorded = recorded_identity()
        self.stdout.write(json.dumps({
            "recorded": None if recorded is None else vars(recorded),
            "rpc": vars(current),
        }))
