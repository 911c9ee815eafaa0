"""Prometheus metrics (prometheus-client), served at /metrics by the web process.

Web, indexer and Celery are separate processes. When PROMETHEUS_MULTIPROC_DIR is set (`make run`
sets it; set it in production for every process, an empty directory per deployment start), each
process writes its samples there and /metrics merges them (prometheus-client's multiprocess
mode), so the counters of the indexer and of the workers reach the scrape of any web worker.
Without it (tests, one process) the default registry is served.

Two kinds of numbers:
- counted where they happen: HTTP latency per route, RPC latency and errors per method, events
  indexed per type (events per second = rate()), reconciliation results, Celery job outcomes,
  open /ws connections;
- read at scrape time from the database and the chain (ScrapeTimeCollector): the indexer's lag
  in slots and seconds, the latest reconciliation run, the open alerts. These are cheap (a few
  indexed queries, two RPC calls) and true whatever process is scraped.
"""
from __future__ import annotations

import logging
import os
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)

SECONDS_PER_SLOT = 0.4  # Solana's target slot time: the lag in seconds when block times are unknown
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

HTTP_REQUEST_SECONDS = Histogram(
    "cvms_http_request_duration_seconds", "HTTP request latency by route (URL pattern), method and status class",
    ["route", "method", "status"], buckets=LATENCY_BUCKETS)
RPC_REQUEST_SECONDS = Histogram(
    "cvms_rpc_request_duration_seconds", "Solana JSON-RPC call latency by method", ["method"], buckets=LATENCY_BUCKETS)
RPC_ERRORS = Counter("cvms_rpc_errors_total", "Solana JSON-RPC calls that failed, by method", ["method"])
INDEXED_EVENTS = Counter("cvms_indexed_events_total", "Vault events stored by the indexer, by type", ["type"])
INDEXER_EVENT_DELAY_SECONDS = Histogram(
    "cvms_indexer_event_delay_seconds", "Block time of a transaction to its events committed by the indexer",
    buckets=(0.25, 0.5, 1, 2, 3, 5, 10, 30, 60, 300))
RECONCILIATION_RESULTS = Counter(
    "cvms_reconciliation_results_total", "Vault reconciliations by status (matched, mismatch, error)", ["status"])
WS_CONNECTIONS = Gauge("cvms_ws_connections", "Open /ws connections", multiprocess_mode="livesum")
CELERY_TASKS = Counter("cvms_celery_tasks_total", "Celery task runs by task and outcome", ["task", "outcome"])
CELERY_TASK_SECONDS = Histogram("cvms_celery_task_duration_seconds", "Celery task run time", ["task"],
                                buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300))


def observe_rpc(method: str, seconds: float, failed: bool) -> None:
    try:
        RPC_REQUEST_SECONDS.labels(method).observe(seconds)
        if failed:
            RPC_ERRORS.labels(method).inc()
    except Exception:  # noqa: BLE001 - metrics never break a caller
        logger.debug("metric failed", exc_info=True)


def count_indexed_events(event_types, block_time: int | None) -> None:
    for event_type in event_types:
        INDEXED_EVENTS.labels(event_type).inc()
    if block_time and event_types:
        INDEXER_EVENT_DELAY_SECONDS.observe(max(0.0, time.time() - block_time))


def count_reconciliation(statuses) -> None:
    for status in statuses:
        RECONCILIATION_RESULTS.labels(str(status)).inc()


# ---- Celery: every task's outcome, from the worker process ----

_task_started: dict[str, float] = {}


def install_signal_handlers() -> None:
    from celery.signals import task_failure, task_postrun, task_prerun, task_retry

    def started(task_id=None, **_):
        _task_started[task_id] = time.monotonic()

    def finished(task_id=None, task=None, state=None, **_):
        began = _task_started.pop(task_id, None)
        name = getattr(task, "name", "unknown")
        if began is not None:
            CELERY_TASK_SECONDS.labels(name).observe(time.monotonic() - began)
        if state == "SUCCESS":
            CELERY_TASKS.labels(name, "success").inc()

    def failed(sender=None, **_):
        CELERY_TASKS.labels(getattr(sender, "name", "unknown"), "failure").inc()

    def retried(sender=None, **_):
        CELERY_TASKS.labels(getattr(sender, "name", "unknown"), "retry").inc()

    task_prerun.connect(started, weak=False, dispatch_uid="console.metrics.prerun")
    task_postrun.connect(finished, weak=False, dispatch_uid="console.metrics.postrun")
    task_failure.connect(failed, weak=False, dispatch_uid="console.metrics.failure")
    task_retry.connect(retried, weak=False, dispatch_uid="console.metrics.retry")


# ---- read at scrape time ----

class ScrapeTimeCollector:
    """The indexer's lag against the chain, the latest reconciliation and the open alerts."""

    def collect(self):
        from django.db.models import Count, Max

        from console.selectors import open_alert_counts
        from monitoring.models import IndexerCursor
        from vaults.chain.client import ChainError, get_chain_client
        from vaults.models import ReconciliationLog

        chain_up = GaugeMetricFamily("cvms_chain_rpc_up", "1 when the Solana RPC answered this scrape")
        chain_slot = GaugeMetricFamily("cvms_chain_slot", "The chain's current slot (at the configured commitment)")
        lag_slots = GaugeMetricFamily(
            "cvms_indexer_lag_slots",
            "Slots between the vault program's newest transaction on chain and the newest one the indexer stored "
            "(0: caught up)")
        lag_seconds = GaugeMetricFamily(
            "cvms_indexer_lag_seconds", "The same lag in seconds of block time (0: caught up)")
        cursor_slot = GaugeMetricFamily("cvms_indexer_cursor_slot", "The indexer's stored cursor slot", labels=["stream"])
        cursor_age = GaugeMetricFamily("cvms_indexer_cursor_age_seconds",
                                       "Seconds since the indexer last moved a cursor", labels=["stream"])
        now = time.time()
        for cursor in IndexerCursor.objects.exclude(last_signature=""):
            cursor_slot.add_metric([cursor.name], cursor.last_slot)
            cursor_age.add_metric([cursor.name], max(0.0, now - cursor.updated_at.timestamp()))
        try:
            from monitoring.indexer.store import cursor_name

            chain = get_chain_client()
            slot = chain.get_slot()
            newest = chain.list_program_signatures(limit=1)
            chain_up.add_metric([], 1)
            chain_slot.add_metric([], slot)
            stored = IndexerCursor.objects.filter(name=cursor_name(chain)).first()
            if newest and (stored is None or stored.last_signature != newest[0].signature):
                stored_slot = stored.last_slot if stored else 0
                behind = max(1, newest[0].slot - stored_slot)
                lag_slots.add_metric([], behind)
                stored_time = self._block_time(stored.last_signature) if stored and stored.last_signature else None
                if newest[0].block_time is not None and stored_time is not None:
                    lag_seconds.add_metric([], max(0, newest[0].block_time - stored_time))
                else:
                    lag_seconds.add_metric([], behind * SECONDS_PER_SLOT)
            else:
                lag_slots.add_metric([], 0)
                lag_seconds.add_metric([], 0)
        except ChainError:
            chain_up.add_metric([], 0)
        yield from (chain_up, chain_slot, lag_slots, lag_seconds, cursor_slot, cursor_age)

        last_run = ReconciliationLog.objects.aggregate(at=Max("timestamp"))["at"]
        latest = GaugeMetricFamily("cvms_reconciliation_latest_vaults",
                                   "Vaults by status in the latest reconciliation run (the last minute of logs)",
                                   labels=["status"])
        age = GaugeMetricFamily("cvms_reconciliation_age_seconds", "Seconds since the latest reconciliation log")
        if last_run is not None:
            from datetime import timedelta

            counts = dict(ReconciliationLog.objects.filter(timestamp__gte=last_run - timedelta(seconds=60))
                          .values_list("status").annotate(n=Count("id")))
            for status in ReconciliationLog.Status.values:
                latest.add_metric([status], counts.get(status, 0))
            age.add_metric([], max(0.0, now - last_run.timestamp()))
        yield latest
        yield age

        alerts = GaugeMetricFamily("cvms_alerts", "Alerts by workflow status (resolved ones are not counted)",
                                   labels=["status"])
        for status, count in open_alert_counts().items():
            alerts.add_metric([status], count)
        yield alerts

    @staticmethod
    def _block_time(signature: str) -> int | None:
        from vaults.models import Transaction

        row = Transaction.objects.filter(signature=signature).values_list("timestamp", flat=True).first()
        return int(row.timestamp()) if row else None


def render() -> bytes:
    """The /metrics body: every process's samples (multiprocess) or this process's, then the
    scrape-time collector's."""
    from prometheus_client import REGISTRY, generate_latest

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)
    else:
        counted = REGISTRY
    scraped = CollectorRegistry()
    scraped.register(ScrapeTimeCollector())
    return generate_latest(counted) + generate_latest(scraped)
