"""A small asyncio client for `/ws` (the `websockets` package): subscribe, receive timestamped
messages, answer heartbeats, reconnect with replay. For scripts, benchmarks and tests.

    async with StreamClient("ws://127.0.0.1:3000/ws", token=token) as client:
        await client.subscribe(user=wallet)
        async for received in client.messages():
            print(received.received_ns, received.message)

`received_ns` is `time.time_ns()` when the frame was read (wall clock, comparable with block
times and database timestamps); `received_monotonic_ns` is for intervals. The client keeps the
highest `seq` seen per vault; `reconnect()` opens a new connection and subscribes again with
those as `last_seq`, so the server replays what was missed in between.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import websockets

CONTROL_TYPES = {"welcome", "subscribed", "unsubscribed", "authenticated", "pong", "heartbeat"}


class StreamError(Exception):
    def __init__(self, frame: dict):
        super().__init__(f"{frame.get('code')}: {frame.get('message')}")
        self.code = frame.get("code")
        self.frame = frame


@dataclass(frozen=True)
class Received:
    message: dict
    received_ns: int
    received_monotonic_ns: int


class StreamClient:
    def __init__(self, url: str, *, token: str | None = None, api_key: str | None = None, tvl: bool = False,
                 headers: dict | None = None, open_timeout: float = 10):
        self.url = url
        self.token = token
        self.api_key = api_key
        self.tvl = tvl
        self.headers = dict(headers or {})
        self.open_timeout = open_timeout
        self.last_seq: dict[str, int] = {}  # vault -> highest event seq received
        self.welcome: dict | None = None
        self._subscriptions: list[dict] = []  # targets, in the order subscribed
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._queue: asyncio.Queue = asyncio.Queue()
        self._connection = None
        self._reader: asyncio.Task | None = None
        self._owners: dict[str, str] = {}  # vault -> owner, learned from messages

    # ---- connection ---------------------------------------------------------------------------

    async def connect(self) -> dict:
        query = {} if self.tvl else {"tvl": "0"}
        headers = dict(self.headers)
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.api_key:
            headers["X-API-Key"] = self.api_key
        url = self.url + ("&" if "?" in self.url else "?") + urlencode(query) if query else self.url
        self._connection = await websockets.connect(url, additional_headers=headers, open_timeout=self.open_timeout,
                                                    max_size=2**20)
        welcome = json.loads(await asyncio.wait_for(self._connection.recv(), self.open_timeout))
        if welcome.get("type") != "welcome":
            await self._connection.close()
            raise StreamError(welcome)
        self.welcome = welcome
        self._reader = asyncio.create_task(self._read())
        return welcome

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        self._connection = self._reader = None

    async def __aenter__(self):
        await self.connect()
        return self

    async def __aexit__(self, *exc):
        await self.close()

    async def reconnect(self) -> None:
        """A new connection with the same subscriptions; vault and user streams resume from the
        last seq seen (the server replays the gap)."""
        targets = list(self._subscriptions)
        await self.close()
        # Keep the messages not yet taken; drop the old connection's end-of-stream marker.
        kept = [item for item in _drain(self._queue) if isinstance(item, Received)]
        for item in kept:
            self._queue.put_nowait(item)
        self._subscriptions = []
        await self.connect()
        for target in targets:
            last = self._last_seq_for(target)
            await self.subscribe(**target, last_seq=last)

    def _last_seq_for(self, target: dict) -> int | None:
        if "vault" in target:
            return self.last_seq.get(target["vault"])
        if "user" in target:
            seqs = [seq for vault, seq in self.last_seq.items() if self._owners.get(vault) == target["user"]]
            return max(seqs) if seqs else None
        return None

    # ---- requests -----------------------------------------------------------------------------

    async def request(self, frame: dict, timeout: float = 10) -> dict:
        request_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        await self._connection.send(json.dumps({**frame, "id": request_id}))
        try:
            answer = await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(request_id, None)
        if answer.get("type") == "error":
            raise StreamError(answer)
        return answer

    async def authenticate(self, *, token: str | None = None, api_key: str | None = None) -> dict:
        return await self.request({"action": "auth", **({"token": token} if token else {"api_key": api_key})})

    async def subscribe(self, *, vault: str | None = None, user: str | None = None, all: bool = False,  # noqa: A002
                        alerts: bool = False, tvl: bool = False, last_seq: int | None = None) -> dict:
        target = _target(vault=vault, user=user, all=all, alerts=alerts, tvl=tvl)
        frame = {"action": "subscribe", **target}
        if last_seq is not None:
            frame["last_seq"] = last_seq
        answer = await self.request(frame)
        if target not in self._subscriptions:
            self._subscriptions.append(target)
        return answer

    async def unsubscribe(self, **target) -> dict:
        target = _target(**target)
        answer = await self.request({"action": "unsubscribe", **target})
        if target in self._subscriptions:
            self._subscriptions.remove(target)
        return answer

    # ---- messages -----------------------------------------------------------------------------

    async def receive(self, timeout: float | None = None) -> Received:
        """The next stream message (control frames are handled here)."""
        item = await asyncio.wait_for(self._queue.get(), timeout)
        if isinstance(item, BaseException):
            raise item
        return item

    async def messages(self):
        while True:
            try:
                yield await self.receive()
            except websockets.ConnectionClosed:
                return

    async def wait_for(self, predicate, timeout: float) -> Received:
        """The first message satisfying `predicate(message)`; others are skipped."""
        deadline = time.monotonic() + timeout
        while True:
            received = await self.receive(timeout=max(0.0, deadline - time.monotonic()))
            if predicate(received.message):
                return received

    async def _read(self):
        try:
            async for raw in self._connection:
                now, mono = time.time_ns(), time.monotonic_ns()
                frame = json.loads(raw)
                kind = frame.get("type")
                request_id = frame.get("id")
                if request_id in self._pending and kind in {"subscribed", "unsubscribed", "authenticated", "pong", "error"}:
                    future = self._pending.pop(request_id)
                    if not future.done():
                        future.set_result(frame)
                    continue
                if kind == "heartbeat":
                    await self._connection.send(json.dumps({"action": "ping"}))
                    continue
                if kind in CONTROL_TYPES:
                    continue
                if kind == "error":
                    self._queue.put_nowait(StreamError(frame))
                    continue
                self._track(frame)
                self._queue.put_nowait(Received(frame, now, mono))
        except websockets.ConnectionClosed as closed:
            self._queue.put_nowait(closed)
        else:
            self._queue.put_nowait(websockets.ConnectionClosedOK(None, None))
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("the /ws connection closed"))

    def _track(self, message: dict) -> None:
        vault, seq = message.get("vault"), message.get("seq")
        owner = message.get("owner") or message.get("user")
        if vault and owner:
            self._owners[vault] = owner
        if vault and isinstance(seq, int) and message.get("type") != "balance_update":
            self.last_seq[vault] = max(seq, self.last_seq.get(vault, 0))


def _drain(queue: asyncio.Queue) -> list:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


def _target(*, vault=None, user=None, all=False, alerts=False, tvl=False) -> dict:  # noqa: A002
    chosen = {k: v for k, v in {"vault": vault, "user": user, "all": all or None, "alerts": alerts or None,
                                "tvl": tvl or None}.items() if v}
    if len(chosen) != 1:
        raise ValueError("choose exactly one of vault, user, all, alerts, tvl")
    return chosen
