"""`python manage.py index`: the event indexer (monitoring/indexer/). A standalone async
process, not a Celery task: live logsSubscribe with a backfill always behind it."""
import asyncio
import json
import signal

from django.core.management.base import BaseCommand, CommandError

from monitoring.indexer.runner import Indexer, IndexerOptions
from vaults.services.chain_identity import ChainMismatch


class Command(BaseCommand):
    help = "Index the vault program's events into the database (live stream + backfill)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true",
                            help="one backfill round, gap repair and finalization pass, then exit")
        parser.add_argument("--no-live", action="store_true", help="poll only (no logsSubscribe)")
        parser.add_argument("--poll-seconds", type=float, help="default: INDEXER_POLL_SECONDS")
        parser.add_argument("--ws-url", help="default: WS_URL, else the RPC URL's websocket twin")

    def handle(self, *args, once=False, no_live=False, poll_seconds=None, ws_url=None, **options):
        indexer = Indexer(options=IndexerOptions.from_settings(poll_seconds=poll_seconds, ws_url=ws_url,
                                                              live=not no_live))
        if once:
            indexer.find_existing_gaps()
            indexer.options.finality_seconds = 0
            try:
                report = indexer.run_round()
            except ChainMismatch as exc:
                raise CommandError(f"refusing to index: {exc}") from None
            self.stdout.write(json.dumps({
                "signatures_seen": report.backfill.seen, "transactions_applied": report.backfill.indexed,
                "new_events": report.backfill.new_events, "gaps_repaired": report.gaps_repaired,
                "finality": report.finality,
            }))
            return
        asyncio.run(self._run(indexer))
        if indexer.failure is not None:
            raise CommandError(f"refusing to index: {indexer.failure}")

    async def _run(self, indexer: Indexer):
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, indexer.stop)
        await indexer.run()
