"""The indexer process: a live stream, a backfill loop always behind it, gap repair and the
finalization pass, with retries that back off exponentially. Nothing here lets an exception end
the process: every failure is logged, waited out and retried.

All database and RPC work runs on Django's one thread for synchronous code (sync_to_async with
thread_sensitive=True), so the live path and the backfill never write at the same time and
share one database connection; the event loop only moves websocket frames and timers."""
from __future__ import annotations

import asyncio
import logging
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError, InterfaceError, connection

from monitoring.indexer.backfill import BackfillReport, backfill_program
from monitoring.indexer.finality import run_finalization_pass
from monitoring.indexer.gaps import fill_vault_gap
from monitoring.indexer.live import RecentSignatures, StreamWatchdog
from monitoring.indexer.sequence import missing_seqs, vaults_with_gaps
from monitoring.indexer.store import (
    TransactionNotVisible,
    apply_transactions,
    indexed_signatures,
    read_transaction,
)
from vaults.chain.client import ChainClient, ChainUnavailable, LogNotification, get_chain_client
from vaults.services.chain_identity import ChainMismatch, ensure_same_chain

logger = logging.getLogger("monitoring.indexer")

GAP_REPAIR_ATTEMPTS = 3  # rounds a vault's hole is retried before it is reported and dropped
LIVE_FETCH_ATTEMPTS = 3  # getTransaction right after a notification can be a little early
LIVE_FETCH_RETRY_SECONDS = 0.3
LIVE_QUEUE_SIZE = 10_000  # beyond this, notifications are dropped: the backfill has them anyway
LIVE_BATCH = 64  # notifications applied in one database transaction
FETCH_THREADS = 8  # getTransaction calls in flight for one live batch or one backfill round
LIVE_GRACE_SECONDS = 5.0  # what the stream announced this recently, the backfill leaves to the live path
SHUTDOWN_SECONDS = 5


class Backoff:
    """Exponential back-off with jitter: initial, 2x, 4x, ... up to maximum."""

    def __init__(self, initial: float = 0.5, maximum: float = 30.0):
        self.initial = initial
        self.maximum = maximum
        self.failures = 0

    def next_delay(self) -> float:
        delay = min(self.maximum, self.initial * 2 ** self.failures)
        self.failures += 1
        return delay * random.uniform(0.8, 1.0)

    def reset(self) -> None:
        self.failures = 0


@dataclass
class IndexerOptions:
    poll_seconds: float = 2.0
    idle_seconds: float = 60.0
    backoff_max_seconds: float = 30.0
    finality_seconds: float = 30.0
    page_limit: int = 1000
    live: bool = True
    ws_url: str | None = None

    @classmethod
    def from_settings(cls, **overrides) -> "IndexerOptions":
        values = {
            "poll_seconds": settings.INDEXER_POLL_SECONDS,
            "idle_seconds": settings.INDEXER_STREAM_IDLE_SECONDS,
            "backoff_max_seconds": settings.INDEXER_BACKOFF_MAX_SECONDS,
            "finality_seconds": settings.INDEXER_FINALITY_SECONDS,
            "page_limit": settings.INDEXER_SIGNATURE_PAGE_LIMIT,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@dataclass
class LiveBatch:
    applied: int = 0
    gaps: bool = False
    not_visible: list[str] = field(default_factory=list)


@dataclass
class RoundReport:
    backfill: BackfillReport
    gaps_repaired: list[str] = field(default_factory=list)
    finality: dict | None = None


class Indexer:
    def __init__(self, chain: ChainClient | None = None, options: IndexerOptions | None = None):
        self.chain = chain or get_chain_client()
        self.options = options or IndexerOptions.from_settings()
        self.delivered = RecentSignatures()  # what the live stream announced
        self.watchdog = StreamWatchdog(self.options.idle_seconds)
        self.suspect_vaults: dict[str, int] = {}  # vault address -> repair attempts
        self._last_finality = float("-inf")
        self.failure: ChainMismatch | None = None  # set when the indexer stopped because it must not go on
        self._stopping: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None
        self._fetch_pool: ThreadPoolExecutor | None = None

    # ---- synchronous work (runs on the sync thread) ----

    def run_round(self) -> RoundReport:
        """One backfill round, then gap repair, then (when due) the finalization pass. First of
        all, the RPC must still serve the ledger's chain (ChainMismatch otherwise)."""
        ensure_same_chain(self.chain)
        report = RoundReport(backfill_program(
            self.chain, page_limit=self.options.page_limit, fetch_pool=self._fetch_threads(),
            # What the stream announced moments ago is on its way through the live path: applying
            # it here would hold that path up (they share one thread) for work it is about to do.
            defer=lambda signature: self.delivered.seen_within(signature, LIVE_GRACE_SECONDS)))
        missed = self.watchdog.backfill_applied(report.backfill.indexed_signatures, self.delivered)
        if missed:
            logger.warning("backfill applied %d transactions the live stream did not deliver", missed)
        for vault in report.backfill.gaps:
            self.suspect_vaults.setdefault(vault, 0)
        report.gaps_repaired = self._repair_gaps()
        report.finality = self._finalize_when_due()
        return report

    def find_existing_gaps(self) -> None:
        for vault, missing in vaults_with_gaps().items():
            logger.warning("vault %s has holes in its stored sequence: %s", vault, missing[:10])
            self.suspect_vaults.setdefault(vault, 0)

    def _repair_gaps(self) -> list[str]:
        """Runs after a full backfill round, so a hole still open here is not just a live
        notification that overtook the backfill."""
        repaired = []
        for vault in list(self.suspect_vaults):
            if not missing_seqs(vault):
                del self.suspect_vaults[vault]
                continue
            repair = fill_vault_gap(self.chain, vault, page_limit=self.options.page_limit)
            if not repair.missing_after:
                repaired.append(vault)
                del self.suspect_vaults[vault]
                continue
            self.suspect_vaults[vault] += 1
            if self.suspect_vaults[vault] >= GAP_REPAIR_ATTEMPTS:
                logger.error("vault %s: seq %s not found on chain after %d attempts; reconciliation will report it",
                             vault, repair.missing_after[:10], GAP_REPAIR_ATTEMPTS)
                del self.suspect_vaults[vault]
        return repaired

    def _finalize_when_due(self) -> dict | None:
        if time.monotonic() - self._last_finality < self.options.finality_seconds:
            return None
        self._last_finality = time.monotonic()
        try:
            return run_finalization_pass(self.chain)
        except Exception as exc:  # noqa: BLE001 - finality must not hold up ingestion
            logger.warning("finalization pass failed: %s", exc)
            return None

    def _fetch_threads(self) -> ThreadPoolExecutor:
        if self._fetch_pool is None:
            self._fetch_pool = ThreadPoolExecutor(FETCH_THREADS, thread_name_prefix="indexer-fetch")
        return self._fetch_pool

    def index_live_batch(self, signatures: list[str]) -> LiveBatch:
        """What the stream announced meanwhile, each transaction once: one query for what is known,
        the transactions fetched concurrently, then applied in the order announced, in one
        database transaction (store.apply_transactions). Under a burst the cost per
        transaction falls as the batch grows; a quiet stream gives batches of one."""
        batch = LiveBatch()
        known = indexed_signatures(signatures)
        pending = [signature for signature in dict.fromkeys(signatures) if signature not in known]
        if not pending:
            return batch
        reads = [self._fetch_threads().submit(read_transaction, self.chain, signature) for signature in pending]
        fetched = []
        for signature, read in zip(pending, reads):
            try:
                fetched.append(read.result())
            except TransactionNotVisible:
                batch.not_visible.append(signature)
            except Exception as exc:  # noqa: BLE001 - the backfill applies what the live path could not
                _left_to_backfill(signature, exc)
        if not fetched:
            return batch
        for confirmed, result in zip(fetched, apply_transactions(self.chain, fetched, source="live")):
            if isinstance(result, Exception):
                _left_to_backfill(confirmed.signature, result)
                continue
            batch.applied += 1
            for vault in result.gaps:
                self.suspect_vaults.setdefault(vault, 0)
                batch.gaps = True
        return batch

    def current_slot(self) -> int | None:
        try:
            return self.chain.get_slot()
        except ChainUnavailable:
            return None

    # ---- the process ----

    async def run(self) -> None:
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        queue: asyncio.Queue[LogNotification] = asyncio.Queue(LIVE_QUEUE_SIZE)
        tasks = [asyncio.create_task(self._backfill_loop(), name="backfill")]
        if self.options.live:
            tasks += [asyncio.create_task(self._live_loop(queue), name="live"),
                      asyncio.create_task(self._live_consumer(queue), name="live-consumer")]
        logger.info("indexer started: program %s, poll %.1f s, live %s", self.chain.program_id,
                    self.options.poll_seconds, "on" if self.options.live else "off")
        try:
            await self._stopping.wait()
        finally:
            for task in tasks:
                task.cancel()
            _, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_SECONDS)
            for task in pending:
                logger.warning("task %s did not stop within %s s", task.get_name(), SHUTDOWN_SECONDS)
            if self._fetch_pool is not None:
                self._fetch_pool.shutdown(wait=False, cancel_futures=True)
            logger.info("indexer stopped")

    def stop(self) -> None:
        if self._stopping is not None:
            self._stopping.set()

    async def _sync(self, fn, *args):
        return await sync_to_async(_with_fresh_connection_on_error(fn), thread_sensitive=True)(*args)

    async def _backfill_loop(self) -> None:
        backoff = Backoff(maximum=self.options.backoff_max_seconds)
        started = False
        while not self._stopping.is_set():
            try:
                if not started:
                    await self._sync(self.find_existing_gaps)
                    started = True
                await self._sync(self.run_round)
                backoff.reset()
                delay = self.options.poll_seconds
            except ChainMismatch as exc:
                # Not an outage: indexing another chain into this ledger would mix two chains.
                logger.critical("indexer stopped: %s", exc)
                self.failure = exc
                self.stop()
                return
            except Exception as exc:  # noqa: BLE001 - an outage is waited out, never fatal
                delay = backoff.next_delay()
                logger.warning("backfill round failed (%s: %s); retrying in %.1f s", exc.__class__.__name__, exc, delay)
            await self._sleep_or_wake(delay)

    async def _sleep_or_wake(self, delay: float) -> None:
        """Until the poll interval ends, a gap asks for a round now, or the process stops."""
        waits = [asyncio.create_task(self._wake.wait()), asyncio.create_task(self._stopping.wait())]
        try:
            await asyncio.wait(waits, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waits:
                waiter.cancel()
        self._wake.clear()

    async def _pause(self, delay: float) -> None:
        """A back-off sleep that ends early when the process stops. (Library code, websockets'
        connect among it, can swallow a task's cancellation, so loops also check the flag.)"""
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=delay)
        except asyncio.TimeoutError:
            pass

    async def _live_loop(self, queue: asyncio.Queue) -> None:
        backoff = Backoff(initial=1.0, maximum=self.options.backoff_max_seconds)
        heartbeat = min(20.0, self.options.idle_seconds)
        while not self._stopping.is_set():
            try:
                subscription = self.chain.subscribe_program_logs(self.options.ws_url, ping_interval=heartbeat,
                                                                 ping_timeout=heartbeat)
                async with subscription as live:
                    self.watchdog.subscribed(await self._sync(self.current_slot))
                    logger.info("live: subscribed to %s", live.ws_url)
                    backoff.reset()
                    await self._pump(live, queue)
            except ChainUnavailable as exc:
                delay = backoff.next_delay()
                logger.warning("live: %s; resubscribing in %.1f s", exc, delay)
                await self._pause(delay)
            except Exception as exc:  # noqa: BLE001
                delay = backoff.next_delay()
                logger.exception("live: unexpected failure (%s); resubscribing in %.1f s", exc, delay)
                await self._pause(delay)

    async def _pump(self, live, queue: asyncio.Queue) -> None:
        """Moves notifications to the queue until the watchdog calls the stream dead."""
        while not self._stopping.is_set():
            for note in await live.next_notifications(timeout=0.5):
                self.watchdog.heard()
                self.delivered.add(note.signature)
                if note.failed:
                    continue
                try:
                    queue.put_nowait(note)
                except asyncio.QueueFull:
                    logger.warning("live: queue full, leaving %s to the backfill", note.signature)
            reason = self.watchdog.resubscribe_reason()
            if reason:
                logger.warning("live: resubscribing: %s", reason)
                return

    async def _live_consumer(self, queue: asyncio.Queue) -> None:
        """Takes what the stream announced (up to LIVE_BATCH at a time, waiting for none) and
        applies it as one batch; a transaction the node does not return yet is asked again
        after a moment (LIVE_FETCH_ATTEMPTS in all), together with what was announced meanwhile."""
        not_yet: list[tuple[str, int]] = []  # not returned by the node yet: (signature, attempts so far)
        while not self._stopping.is_set():
            if not_yet:
                await asyncio.sleep(LIVE_FETCH_RETRY_SECONDS)
                batch = not_yet
            else:
                batch = [((await queue.get()).signature, 0)]
            while len(batch) < LIVE_BATCH and not queue.empty():
                batch.append((queue.get_nowait().signature, 0))
            attempts = dict(batch)
            try:
                result = await self._sync(self.index_live_batch, [signature for signature, _ in batch])
            except Exception as exc:  # noqa: BLE001 - the backfill applies what the live path could not
                logger.warning("live: %d transactions not applied (%s: %s); the backfill will", len(batch),
                               exc.__class__.__name__, exc)
                not_yet = []
                continue
            if result.gaps:
                self._wake.set()  # repair now rather than at the next poll
            not_yet = []
            for signature in result.not_visible:
                if attempts[signature] + 1 >= LIVE_FETCH_ATTEMPTS:
                    logger.info("live: %s not visible yet; the backfill will apply it", signature)
                else:
                    not_yet.append((signature, attempts[signature] + 1))


def _left_to_backfill(signature: str, exc: Exception) -> None:
    logger.warning("live: %s not applied (%s: %s); the backfill will", signature, exc.__class__.__name__, exc)


def _with_fresh_connection_on_error(fn):
    """After a database error the connection may be broken (server restarted, network cut):
    drop it so the next call opens a new one."""
    def call(*args):
        try:
            return fn(*args)
        except (DatabaseError, InterfaceError):
            connection.close()
            raise
    call.__name__ = getattr(fn, "__name__", "call")
    return call
