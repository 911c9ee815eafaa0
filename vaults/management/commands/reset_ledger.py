"""`python manage.py reset_ledger --yes [--reason TEXT]`: development only. Empties the ledger (vaults,
transactions, snapshots, reconciliation logs, the indexer's records and cursors, the recorded
chain) so it can be rebuilt from a fresh chain. Staff accounts, API keys, schedules and the
append-only audit trail stay; the reset itself is an audit row."""
from django.conf import settings
from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from monitoring.models import IndexedEvent, IndexerCursor
from vaults.models import BalanceSnapshot, LedgerChain, ReconciliationLog, Transaction, Vault
from vaults.services.audit import record_audit_event
from vaults.services.chain_identity import recorded_identity

TABLES = (ReconciliationLog, BalanceSnapshot, Transaction, IndexedEvent, IndexerCursor, Vault, LedgerChain)


class Command(BaseCommand):
    help = "Development only: empty the ledger so it can be rebuilt from a fresh chain."

    def add_arguments(self, parser):
        parser.add_argument("--yes", action="store_true", help="really delete (without it, only show the counts)")
        parser.add_argument("--reason", default="reset by hand", help="recorded in the audit trail")

    def handle(self, *args, yes=False, reason="", **options):
        if not getattr(settings, "LEDGER_RESET_ALLOWED", False):
            raise CommandError("reset_ledger runs only with development settings (LEDGER_RESET_ALLOWED): "
                               "a production ledger is never emptied")
        counts = {model._meta.db_table: model.objects.count() for model in TABLES}
        if not yes:
            self.stdout.write(f"would delete {counts}; run again with --yes")
            raise SystemExit(1)
        previous = recorded_identity()
        with transaction.atomic():
            for model in TABLES:
                model.objects.all().delete()
            record_audit_event(
                actor_type="system", actor="reset_ledger", action="ledger.reset", method="COMMAND",
                path="manage.py reset_ledger", ip_address=None, user_agent="", status_code=200,
                details={"reason": reason, "deleted": counts,
                         "previous_chain": None if previous is None else vars(previous)},
            )
            transaction.on_commit(cache.clear)
        self.stdout.write(f"ledger reset ({reason}): deleted {counts}")
