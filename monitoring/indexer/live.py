"""The live path: `logsSubscribe` (mentions the program, at `confirmed`) and the watchdog that
decides when a subscription has gone bad.

Websocket subscriptions die silently: no error, no close, just no more notifications. So the
stream is never trusted for completeness (the backfill is), and the watchdog resubscribes when
it has been quiet for INDEXER_STREAM_IDLE_SECONDS, or when the backfill keeps finding
transactions the stream should have delivered but did not."""
from __future__ import annotations

import threading
import time
from collections import OrderedDict

from vaults.chain.client import SignatureInfo

# Consecutive backfill rounds that found transactions the stream missed before it is declared
# dead. One round is not enough: the backfill can see a brand-new transaction a few ms before
# its notification arrives.
MISSED_ROUNDS_BEFORE_RESUBSCRIBE = 2


class RecentSignatures:
    """A bounded, thread-safe set of recently seen signatures (a duplicate-drop cache), with when
    each was last seen."""

    def __init__(self, capacity: int = 20_000, clock=time.monotonic):
        self.capacity = capacity
        self.clock = clock
        self._items: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, signature: str) -> None:
        with self._lock:
            self._items[signature] = self.clock()
            self._items.move_to_end(signature)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def __contains__(self, signature: str) -> bool:
        with self._lock:
            return signature in self._items

    def seen_within(self, signature: str, seconds: float) -> bool:
        with self._lock:
            seen = self._items.get(signature)
        return seen is not None and self.clock() - seen < seconds


class StreamWatchdog:
    def __init__(self, idle_seconds: float, clock=time.monotonic):
        self.idle_seconds = idle_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._last_heard = clock()
        self._subscribed_slot: int | None = None
        self._missed_rounds = 0
        self._last_missed = 0

    def subscribed(self, slot: int | None) -> None:
        """A fresh subscription: it covers transactions after `slot` (None: unknown)."""
        with self._lock:
            self._last_heard = self.clock()
            self._subscribed_slot = slot
            self._missed_rounds = 0

    def heard(self) -> None:
        with self._lock:
            self._last_heard = self.clock()

    def backfill_applied(self, applied: list[SignatureInfo], delivered: RecentSignatures) -> int:
        """The backfill applied these itself; those after the subscription began and never
        delivered by it are what the stream missed. Returns how many."""
        with self._lock:
            since = self._subscribed_slot
            if since is None:
                return 0
            missed = [info for info in applied if info.slot > since and info.signature not in delivered]
            self._missed_rounds = self._missed_rounds + 1 if missed else 0
            self._last_missed = len(missed)
            return len(missed)

    def resubscribe_reason(self) -> str | None:
        with self._lock:
            quiet = self.clock() - self._last_heard
            if quiet >= self.idle_seconds:
                return f"no notification for {quiet:.1f} s"
            if self._missed_rounds >= MISSED_ROUNDS_BEFORE_RESUBSCRIBE:
                return (f"the backfill found transactions the stream missed in {self._missed_rounds} rounds "
                        f"in a row ({self._last_missed} in the last)")
            return None
