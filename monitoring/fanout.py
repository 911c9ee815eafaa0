"""One channel-layer member per web process for the `/ws` streams, fanning out in memory.

With every connection a member of its groups, one stream message to a vault followed by 1,000
clients is 1,000 copies in Redis and 1,000 BZPOPMIN round trips in the receiving process, and
each copy then costs a thread hop in Channels' dispatch. Here the process's `StreamHub` is the
only member of each group (one copy per process), and it hands the message, already encoded
once by the publisher, to the local connections that subscribed.

Guarantees kept from per-connection membership:
- *Join, then read.* `join` returns once the hub's membership is stored in Redis (channels-redis
  `group_add` is a confirmed ZADD), so a message published afterwards reaches the connection: a
  consumer that joins before reading its replay from the database misses nothing.
- *One message at a time per connection, in order.* Each connection has its own bounded inbox,
  read by its own dispatch loop (monitoring.consumers), between its client frames. What one read
  of the hub's channel brought is handed over as one batch per connection (a burst costs one
  wake-up per connection per read, not one per message).
- *A slow client cannot hold up the others.* Its inbox fills, and it is told to close and
  reconnect (with `last_seq`, the replay fills the gap) instead of silently losing messages.

Hubs are per event loop (a channel layer's connections are), created on first use and stopped
when their last member leaves.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref

from channels.layers import get_channel_layer

from monitoring.streams import groups_for

logger = logging.getLogger(__name__)

RENEW_SECONDS = 3600  # channels-redis forgets a membership after `group_expiry` (a day)
RECEIVE_RETRY_SECONDS = 1.0
RECEIVE_BATCH = 256  # messages taken from the hub's channel per round trip under a burst
BLOCK_SECONDS = 5  # below the layer connections' 30 s socket timeout (settings.channel_layers)


class StreamHub:
    def __init__(self, layer):
        self.layer = layer
        self.channel: str | None = None
        self.members: dict[str, set] = {}  # group -> local members (objects with `deliver(envelopes)`)
        self._lock = asyncio.Lock()
        self._task: asyncio.Task | None = None
        self._renewed = time.monotonic()

    async def join(self, group: str, member) -> None:
        async with self._lock:
            if self.channel is None:
                # A plain channel of its own (not a "!" process-local one): its receive needs none
                # of the layer's shared per-process receive state, so a hub never waits on another.
                self.channel = f"stream-hub.{uuid.uuid4().hex}"
                self._task = asyncio.create_task(self._receive_loop(self.channel), name="stream-hub")
            if group not in self.members:
                await self.layer.group_add(group, self.channel)
                self.members[group] = set()
            self.members[group].add(member)

    async def leave(self, group: str, member) -> None:
        async with self._lock:
            members = self.members.get(group)
            if members is None or member not in members:
                return
            members.discard(member)
            if members:
                return
            del self.members[group]
            channel = self.channel
            try:
                await self.layer.group_discard(group, channel)
            except Exception:  # noqa: BLE001 - the layer may be gone; the membership expires
                logger.warning("could not leave %s", group, exc_info=True)
            if not self.members:
                await self._stop()

    def groups_of(self, member) -> set[str]:
        return {group for group, members in self.members.items() if member in members}

    async def _stop(self) -> None:
        """Ends the receive loop without waiting for it under the hub's lock: a cancelled blocking
        read can take its time to unwind (or lose the cancellation to the Redis client's own read
        timeout), and a connection joining meanwhile must not wait on it. The loop also ends by
        itself once its channel is no longer the hub's; every start uses a new channel, so an old
        loop never reads what a new one should."""
        task, self._task, self.channel = self._task, None, None
        if task is not None:
            task.cancel()

    async def _receive_loop(self, channel: str) -> None:
        while self.channel == channel:
            try:
                envelopes = await self._receive_batch(channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - Redis away: wait and read again
                if self.channel != channel:
                    return  # stopped while reading
                logger.warning("stream hub: receive failed; retrying", exc_info=True)
                await asyncio.sleep(RECEIVE_RETRY_SECONDS)
                continue
            if self.channel != channel:
                return  # stopped: its members have left
            self._dispatch(envelopes)
            if time.monotonic() - self._renewed > RENEW_SECONDS:
                self._renewed = time.monotonic()
                asyncio.create_task(self._renew(channel))

    async def _receive_batch(self, channel: str) -> list[dict]:
        """What is waiting in the hub's channel, oldest first: one blocking pop, then the rest
        of the burst in one more round trip.

        The layer's own `receive` takes one message per call and keeps a backup copy of each
        until it is handled (four round trips a message, one message at a time): a burst to a
        busy process queued behind it for seconds. The hub's channel is read here directly, in
        the layer's own storage (a sorted set per channel, scored by send time, serialized by
        the layer). A message the hub took is handed to the connections at once; if the
        process dies in between, its clients' connections die with it and they resume by
        replay, so the backup copy bought nothing."""
        key = self.layer.prefix + channel
        connection = self.layer.connection(self.layer.consistent_hash(channel))
        first = await connection.bzpopmin(key, timeout=BLOCK_SECONDS)
        if first is None:
            return []
        members = [first[1]]
        members += [member for member, _ in await connection.zpopmin(key, RECEIVE_BATCH - 1)]
        return [self.layer.deserialize(member) for member in members]

    def _dispatch(self, envelopes: list[dict]) -> None:
        """Each local member gets, in one call, the messages of this read that are for its
        groups, in order: under a burst, one wake-up of a connection sends several frames."""
        batches: dict = {}
        for envelope in envelopes:
            group = envelope.get("group")
            if group is None:
                continue  # not a stream message of monitoring.streams
            members = self.members.get(group)
            if not members:
                continue
            message = envelope.get("message")
            if isinstance(message, dict) and "type" in message:
                # Every member needs the message's groups (to drop extra copies): computed once here.
                envelope["groups"] = groups_for(message)
            for member in members:
                batch = batches.get(member)
                if batch is None:
                    batches[member] = [envelope]
                else:
                    batch.append(envelope)
        for member, batch in batches.items():
            member.deliver(batch)

    async def _renew(self, channel: str) -> None:
        async with self._lock:
            if channel != self.channel:
                return
            for group in list(self.members):
                await self.layer.group_add(group, channel)


_hubs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> StreamHub


def hub() -> StreamHub:
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is None:
        found = _hubs[loop] = StreamHub(get_channel_layer())
    return found
