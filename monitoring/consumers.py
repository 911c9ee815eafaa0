"""`/ws`: the live streams (protocol in monitoring/ws_protocol.py, README "WebSocket streams").

One `StreamConsumer` per connection. It joins the Channels groups of what the client subscribed
to (`monitoring.streams` names them) and forwards each `stream.message` as it is, once:

- **Replay without gaps or doubles.** On `subscribe` with `last_seq`, the consumer joins the
  group first, then reads the missed events from the database and sends them. Live messages
  that arrive meanwhile wait in the channel (a consumer handles one message at a time). Every
  vault message whose `seq` is at or below what the client has already got (`last_seq`, or the
  last replayed seq) is dropped afterwards, so the boundary neither loses nor repeats one.
- **One copy.** A message goes to several groups (vault, user, everything); a client in more
  than one of them still gets it once.
- **Heartbeat.** `{"type": "heartbeat"}` every WS_HEARTBEAT_SECONDS; a client that sends
  nothing for WS_IDLE_TIMEOUT_SECONDS is closed (4408), as is one whose login was revoked or
  expired (4401). Clients answer heartbeats with `{"action": "ping"}`.
- **Limits.** Subscribe/unsubscribe/auth churn is a token bucket per connection (error
  `rate_limited`; closed with 4429 after repeated abuse); at most WS_MAX_SUBSCRIPTIONS.
- **Fan-out.** Connections do not join channel-layer groups themselves: the process's
  `monitoring.fanout.StreamHub` does, once, and puts each message (encoded once, by the
  publisher) into the inbox of every local connection that subscribed. A connection reads its
  inbox and its client's frames in one loop, one message at a time. A connection that falls
  WS_CHANNEL_CAPACITY messages behind is closed (1013) rather than silently losing messages:
  its client reconnects with `last_seq` and the replay fills the gap.
- **Credentials without queries.** A login's expiry is checked in memory at every heartbeat;
  revocation (a revoked token, a deactivated key or staff account) is checked for all the
  process's connections at once, one query per kind every WS_CREDENTIAL_RECHECK_SECONDS
  (`monitoring.ws_auth.CredentialCheck`), so a revoked login is closed within that interval
  plus one heartbeat, and idle heartbeats cost no query.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings

from monitoring import replay, streams, ws_auth
from monitoring.fanout import hub
from monitoring.ws_protocol import ProtocolError, Request, Target, error, parse

logger = logging.getLogger(__name__)

CLOSE_UNAUTHORIZED = 4401
CLOSE_IDLE = 4408
CLOSE_RATE_LIMITED = 4429
CLOSE_TOO_SLOW = 1013  # "try again later": reconnect and resume with last_seq
DUPLICATE_MEMORY_SECONDS = 30
DUPLICATE_MEMORY_SIZE = 2048
_READER_DONE = {"type": "stream.reader_done"}


class TokenBucket:
    def __init__(self, capacity: int, per_second: float):
        self.capacity = capacity
        self.per_second = per_second
        self.tokens = float(capacity)
        self.updated = time.monotonic()

    def take(self) -> float:
        """0 when a token was taken; otherwise the seconds until one is available."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.per_second)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.per_second if self.per_second > 0 else float("inf")


def _group_for(target: Target) -> str:
    return {
        "vault": lambda: streams.vault_group(target.key),
        "user": lambda: streams.user_group(target.key),
        "all": lambda: streams.ALL_GROUP,
        "alerts": lambda: streams.ALERTS_GROUP,
        "tvl": lambda: streams.TVL_GROUP,
        "feed": lambda: streams.FEED_GROUP,
    }[target.kind]()


def _connections(delta: int) -> None:
    """Open /ws connections, for /metrics (console/metrics.py)."""
    try:
        from console.metrics import WS_CONNECTIONS

        WS_CONNECTIONS.inc(delta)
    except Exception:  # noqa: BLE001 - metrics never break a connection
        logger.debug("connection metric failed", exc_info=True)


class StreamConsumer(AsyncWebsocketConsumer):
    # ---- the message loop -------------------------------------------------------------------

    async def __call__(self, scope, receive, send):
        """Channels' `AsyncConsumer.__call__` reads the client and the connection's own channel;
        here the client's frames and the hub's stream messages share one inbox, handled one at
        a time by `dispatch`."""
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.channel_name = None  # the hub is the channel-layer member, not the connection
        self.base_send = send
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.queued_stream_messages = 0
        self.overflowed = False
        self.closing = False
        self.subscriptions: dict[str, str] = {}
        self.joined_groups: frozenset = frozenset()
        self.capacity = settings.WS_CHANNEL_CAPACITY
        self.copies: OrderedDict[str, tuple[int, float]] = OrderedDict()  # extra copies to drop
        self.event_marks: dict[str, int] = {}  # vault -> highest event seq the client has
        self.balance_marks: dict[str, int] = {}  # vault -> seq of the balance the client has
        reader = asyncio.create_task(self._read_client(receive))
        try:
            while True:
                message = await self.inbox.get()
                if message is _READER_DONE:
                    reader.result()  # the reader's exception, if it had one
                    break
                await self.dispatch(message)
        except StopConsumer:
            pass
        finally:
            reader.cancel()
            await self._leave_all()

    async def _read_client(self, receive):
        try:
            while True:
                self.inbox.put_nowait(await receive())
        finally:
            self.inbox.put_nowait(_READER_DONE)

    async def dispatch(self, message):
        """Channels' dispatch without its `aclose_old_connections()` before every handler (a
        thread hop per delivered message): these handlers reach the database only through
        `database_sync_to_async`, which closes old connections around each call itself."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    def deliver(self, envelopes: list[dict]) -> None:
        """Called by the hub with the stream messages of subscribed groups, in order (never
        blocks). What does not fit in the inbox is not queued: the client is told it fell behind."""
        if self.closing or self.overflowed:
            return
        room = self.capacity - self.queued_stream_messages
        fitted = envelopes if len(envelopes) <= room else envelopes[:max(room, 0)]
        if fitted:
            self.queued_stream_messages += len(fitted)
            self.inbox.put_nowait({"type": "stream.batch", "envelopes": fitted})
        if len(fitted) < len(envelopes):
            self.overflowed = True
            self.inbox.put_nowait({"type": "stream.overflow"})

    async def stream_batch(self, event):
        for envelope in event["envelopes"]:
            await self.stream_message(envelope)

    async def stream_overflow(self, event):
        logger.warning("/ws client %s fell %d messages behind; closing it", self.principal.describe(),
                       settings.WS_CHANNEL_CAPACITY)
        await self._close_with(error("too_slow", "the connection fell too far behind; reconnect and "
                                     "subscribe with last_seq to resume"), CLOSE_TOO_SLOW)

    # ---- connection -------------------------------------------------------------------------

    async def connect(self):
        self.principal = ws_auth.ANONYMOUS_PRINCIPAL
        self.last_heard = time.monotonic()
        self.heartbeat_seconds = float(settings.WS_HEARTBEAT_SECONDS)
        self.idle_timeout = float(settings.WS_IDLE_TIMEOUT_SECONDS)
        self.churn = TokenBucket(settings.WS_SUBSCRIBE_BURST, settings.WS_SUBSCRIBE_PER_MINUTE / 60)
        self.strikes = 0
        self.heartbeat_task = None

        principal, failure = await self._principal_from_handshake()
        await self.accept()
        self.counted = True
        _connections(+1)
        if failure:
            await self._close_with(failure, CLOSE_UNAUTHORIZED)
            return
        self._set_principal(principal)
        if self._query_flag("tvl", default=True):
            await self._join(Target("tvl"))
        await self._send_json({
            "type": "welcome",
            "principal": self.principal.describe(),
            "subscriptions": sorted(self.subscriptions),
            "heartbeat_seconds": self.heartbeat_seconds,
            "idle_timeout_seconds": self.idle_timeout,
        })
        if self.heartbeat_seconds > 0:
            self.heartbeat_task = asyncio.create_task(self._heartbeat())

    async def disconnect(self, code):
        self.closing = True
        if getattr(self, "counted", False):
            self.counted = False
            _connections(-1)
        task, self.heartbeat_task = getattr(self, "heartbeat_task", None), None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        await self._leave_all()

    async def _leave_all(self):
        self.closing = True
        ws_auth.credential_check.forget(self)
        groups, self.subscriptions, self.joined_groups = set(self.subscriptions.values()), {}, frozenset()
        for group in groups:
            try:
                await hub().leave(group, self)
            except Exception:  # noqa: BLE001 - the layer may be gone; the membership expires
                logger.warning("could not leave %s", group, exc_info=True)

    def _set_principal(self, principal):
        self.principal = principal
        ws_auth.credential_check.watch(self, principal)

    def _query(self) -> dict[str, list[str]]:
        try:
            return parse_qs(self.scope.get("query_string", b"").decode("ascii"), max_num_fields=10)
        except (UnicodeDecodeError, ValueError):
            return {}

    def _query_flag(self, name: str, *, default: bool) -> bool:
        values = self._query().get(name)
        return default if not values else values[-1].lower() not in {"0", "false", "no", "off"}

    def _header(self, name: bytes) -> str | None:
        for key, value in self.scope.get("headers", []):
            if key.lower() == name:
                return value.decode("latin1")
        return None

    async def _principal_from_handshake(self):
        """Explicit credentials (`?token=`, `Authorization: Bearer`, `X-API-Key`) take precedence
        over the session cookie. Returns (principal, failure frame or None)."""
        token = (self._query().get("token") or [None])[-1]
        authorization = self._header(b"authorization")
        if token is None and authorization and authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
        api_key = self._header(b"x-api-key")
        if token is not None:
            principal = await self._principal("token", token)
            return principal, None if principal else error("invalid_token", "invalid or expired login token")
        if api_key is not None:
            principal = await self._principal("api_key", api_key)
            return principal, None if principal else error("invalid_api_key", "invalid or inactive API key")
        session_key = self._cookie(settings.SESSION_COOKIE_NAME)
        if not session_key:
            return ws_auth.ANONYMOUS_PRINCIPAL, None
        return await database_sync_to_async(ws_auth.principal_for_session)(session_key), None

    def _cookie(self, name: str) -> str | None:
        from django.http.cookie import parse_cookie

        raw = self._header(b"cookie")
        return parse_cookie(raw).get(name) if raw else None

    async def _principal(self, kind: str, value: str):
        if not value or len(value) > 256:
            return None
        lookup = ws_auth.principal_for_token if kind == "token" else ws_auth.principal_for_api_key
        return await database_sync_to_async(lookup)(value)

    # ---- client frames ----------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        self.last_heard = time.monotonic()
        if self.closing:
            return
        request = None
        try:
            request = parse(text_data, max_bytes=settings.WS_MAX_FRAME_BYTES)
            if request.action == "ping":
                await self._send_json(self._reply({"type": "pong", "timestamp": int(time.time())}, request))
                return
            if not await self._allow_churn(request):
                return
            if request.action == "auth":
                await self._authenticate(request)
            elif request.action == "subscribe":
                await self._subscribe(request)
            else:
                await self._unsubscribe(request)
        except ProtocolError as exc:
            request_id = exc.request_id if exc.request_id is not None else getattr(request, "id", None)
            await self._send_json(error(exc.code, exc.message, request_id))
        except Exception:  # noqa: BLE001 - one bad frame must not kill the connection
            logger.exception("/ws frame failed")
            await self._send_json(error("internal_error", "the request failed; try again", getattr(request, "id", None)))

    async def _allow_churn(self, request: Request) -> bool:
        wait = self.churn.take()
        if not wait:
            self.strikes = 0
            return True
        self.strikes += 1
        if self.strikes >= settings.WS_RATE_LIMIT_STRIKES:
            await self._close_with(error("rate_limited", "too many requests; closing"), CLOSE_RATE_LIMITED)
        else:
            await self._send_json(error("rate_limited", "too many subscription changes; slow down", request.id,
                                        retry_after=round(wait, 3)))
        return False

    async def _authenticate(self, request: Request):
        if self.principal.is_authenticated:
            raise ProtocolError("already_authenticated", "this connection is already authenticated")
        principal = await self._principal("token" if request.token else "api_key", request.token or request.api_key)
        if principal is None:
            kind = "invalid_token" if request.token else "invalid_api_key"
            raise ProtocolError(kind, "invalid or expired credentials")
        self._set_principal(principal)
        await self._send_json(self._reply({"type": "authenticated", "principal": principal.describe()}, request))

    def _authorize(self, target: Target) -> None:
        allowed = {
            "tvl": lambda: True,
            "feed": lambda: True,
            "all": self.principal.can_read_all,
            "alerts": self.principal.can_read_all,
            # Public reads (WS_PUBLIC_VAULT_STREAMS): a vault's stream shows what GET
            # /vault/balance and /vault/transactions show anyone.
            "vault": lambda: settings.WS_PUBLIC_VAULT_STREAMS or self.principal.can_read_vault(target.key),
            "user": lambda: settings.WS_PUBLIC_VAULT_STREAMS or self.principal.can_read_user(target.key),
        }[target.kind]()
        if allowed:
            return
        if not self.principal.is_authenticated:
            raise ProtocolError("not_authenticated", f"subscribing to {target.kind} needs authentication "
                                "(a wallet login token, an API key or a staff session)")
        if target.kind in ("all", "alerts"):
            raise ProtocolError("forbidden", f"only staff may subscribe to {target.kind}")
        raise ProtocolError("forbidden", f"this login may only subscribe to its own wallet's {target.kind} stream")

    async def _subscribe(self, request: Request):
        target = request.target
        self._authorize(target)
        if target.name not in self.subscriptions and len(self.subscriptions) >= settings.WS_MAX_SUBSCRIPTIONS:
            raise ProtocolError("too_many_subscriptions",
                                f"at most {settings.WS_MAX_SUBSCRIPTIONS} subscriptions per connection")
        newly = target.name not in self.subscriptions
        # Join first: whatever commits after the replay's read is then already on its way here.
        await self._join(target)
        answer = {"type": "subscribed", **target.describe()}
        if request.last_seq is not None:
            try:
                result = await self._replay(target, request.last_seq)
            except replay.ReplayTooLarge as exc:
                if newly:
                    await self._leave(target)
                raise ProtocolError("replay_too_large",
                                    f"more than {exc.limit} events were missed: resync from the REST API "
                                    "(GET /vault/transactions) and subscribe again with a newer last_seq") from None
            answer.update(vault=result.vault, replayed=result.event_count, last_seq=result.last_event_seq)
        await self._send_json(self._reply(answer, request))

    async def _replay(self, target: Target, last_seq: int) -> replay.Replay:
        def read():
            row = replay.vault_for(**({"vault": target.key} if target.kind == "vault" else {"owner": target.key}))
            return replay.missed_since(row, last_seq, limit=settings.WS_REPLAY_MAX_EVENTS)

        result = await database_sync_to_async(read)()
        if result.vault is not None:
            # What the client has from now on: live copies at or below these are doubles. Marks
            # come only from what the ledger announced (never from the client's own number when
            # it is beyond that), so no genuine event can fall below a mark it never passed.
            self.event_marks[result.vault] = max(result.from_seq, result.last_event_seq or 0)
            self.balance_marks[result.vault] = result.balance_seq
        for message in result.messages:
            await self._send_json(message)
        return result

    async def _unsubscribe(self, request: Request):
        target = request.target
        if target.name not in self.subscriptions:
            raise ProtocolError("not_subscribed", f"not subscribed to {target.name}")
        await self._leave(target)
        await self._send_json(self._reply({"type": "unsubscribed", **target.describe()}, request))

    async def _join(self, target: Target):
        group = _group_for(target)
        await hub().join(group, self)  # returns once stored in Redis: what is published next comes here
        self.subscriptions[target.name] = group
        self.joined_groups = frozenset(self.subscriptions.values())

    async def _leave(self, target: Target):
        group = self.subscriptions.pop(target.name)
        self.joined_groups = frozenset(self.subscriptions.values())
        if group not in self.subscriptions.values():
            await hub().leave(group, self)

    # ---- live messages ----------------------------------------------------------------------

    async def stream_message(self, event):
        """A message from `streams.publish_now`: forward it once, unless the client has it. The
        publisher encoded it once (`text`); every copy and every connection sends that text.
        This runs once per message per connection: it reads no settings and builds nothing that
        the hub could build once for all (`groups`)."""
        self.queued_stream_messages -= 1
        message = event.get("message")
        if self.closing or not isinstance(message, dict) or "type" not in message:
            return
        text = event.get("text")
        if not isinstance(text, str):
            text = json.dumps(message, default=str)
        if self.copies and self._is_extra_copy(text):
            return
        groups = event.get("groups") or streams.groups_for(message)
        joined = self.joined_groups
        copies = sum(1 for group in groups if group in joined)
        if copies == 0:
            return  # from a group left after it was sent
        if copies > 1:
            self._remember_copies(text, copies - 1)
        if (self.event_marks or self.balance_marks) and self._already_has(message):
            return
        await self.base_send({"type": "websocket.send", "text": text})

    def _already_has(self, message: dict) -> bool:
        vault, seq = message.get("vault"), message.get("seq")
        if not vault or not isinstance(seq, int):
            return False
        marks = self.balance_marks if message["type"] == "balance_update" else self.event_marks
        mark = marks.get(vault)
        return mark is not None and seq <= mark

    def _is_extra_copy(self, identity: str) -> bool:
        entry = self.copies.get(identity)
        if entry is None:
            return False
        remaining, _ = entry
        if remaining <= 1:
            del self.copies[identity]
        else:
            self.copies[identity] = (remaining - 1, entry[1])
        return True

    def _remember_copies(self, identity: str, extra: int):
        now = time.monotonic()
        while self.copies:
            oldest, (_, seen) = next(iter(self.copies.items()))
            if len(self.copies) < DUPLICATE_MEMORY_SIZE and now - seen < DUPLICATE_MEMORY_SECONDS:
                break
            del self.copies[oldest]
        self.copies[identity] = (extra, now)

    # ---- heartbeat --------------------------------------------------------------------------

    async def _heartbeat(self):
        try:
            while not self.closing:
                await asyncio.sleep(self.heartbeat_seconds)
                if self.closing:
                    return
                if self.idle_timeout > 0 and time.monotonic() - self.last_heard > self.idle_timeout:
                    await self._close_with(error("idle_timeout", "nothing heard from the client; "
                                                 "answer heartbeats with {\"action\": \"ping\"}"), CLOSE_IDLE)
                    return
                if not await ws_auth.credential_check.still_valid(self, self.principal):
                    await self._close_with(error("session_expired", "the login was revoked or has expired"),
                                           CLOSE_UNAUTHORIZED)
                    return
                await self._send_json({"type": "heartbeat", "timestamp": int(time.time())})
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001
            logger.exception("/ws heartbeat failed; closing")
            await self.close(code=1011)

    # ---- sending ----------------------------------------------------------------------------

    @staticmethod
    def _reply(frame: dict, request: Request) -> dict:
        if request.id is not None:
            frame["id"] = request.id
        return frame

    async def _send_json(self, frame: dict):
        if not self.closing:
            await self.send(text_data=json.dumps(frame, default=str))

    async def _close_with(self, frame: dict, code: int):
        await self._send_json(frame)
        self.closing = True
        await self.close(code=code)
