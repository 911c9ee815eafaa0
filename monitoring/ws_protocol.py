"""The `/ws` client protocol: parsing and validating what a client sends (pure, no I/O).

Client frames are JSON objects with an `action`:

    {"action": "auth", "token": "<wallet login token>"}        or {"action": "auth", "api_key": "<key>"}
    {"action": "subscribe", "vault": "<vault address>", "last_seq": 12}   (last_seq optional: replay)
    {"action": "subscribe", "user": "<owner wallet>", "last_seq": 12}
    {"action": "subscribe", "tvl": true}      public
    {"action": "subscribe", "feed": true}     public: every vault's event messages (no alerts)
    {"action": "subscribe", "all": true}      staff only: every vault message and every alert
    {"action": "subscribe", "alerts": true}   staff only
    {"action": "unsubscribe", ...the same target...}
    {"action": "ping"}

Every frame may carry an `id` (a string of at most 64 characters or an integer) that the server
echoes in its answer. Anything else is a `ProtocolError` with a stable code.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from vaults.chain.client import parse_pubkey
from vaults.fields import U64_MAX

ACTIONS = {"auth", "subscribe", "unsubscribe", "ping"}
KEY_TARGETS = ("vault", "user")  # take a public key
FLAG_TARGETS = ("all", "alerts", "tvl", "feed")  # take `true`
TARGETS = KEY_TARGETS + FLAG_TARGETS
MAX_ID_LENGTH = 64
MAX_CREDENTIAL_LENGTH = 256


class ProtocolError(Exception):
    def __init__(self, code: str, message: str, request_id=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


@dataclass(frozen=True)
class Target:
    """What a subscription is to: `kind` is one of TARGETS; `key` the public key for vault/user."""

    kind: str
    key: str | None = None

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.key}" if self.key else self.kind

    def describe(self) -> dict:
        return {self.kind: self.key if self.key else True}


@dataclass(frozen=True)
class Request:
    action: str
    id: str | int | None = None
    target: Target | None = None
    last_seq: int | None = None
    token: str | None = None
    api_key: str | None = None


def error(code: str, message: str, request_id=None, **extra) -> dict:
    frame = {"type": "error", "code": code, "message": message}
    if request_id is not None:
        frame["id"] = request_id
    frame.update(extra)
    return frame


def parse(text: str | None, *, max_bytes: int) -> Request:
    if text is None:
        raise ProtocolError("invalid_frame", "send text frames holding JSON objects; binary frames are not accepted")
    if len(text.encode()) > max_bytes:
        raise ProtocolError("frame_too_large", f"frames are limited to {max_bytes} bytes")
    try:
        data = json.loads(text)
    except ValueError:
        raise ProtocolError("invalid_json", "the frame is not valid JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError("invalid_request", "a frame must be a JSON object")
    request_id = _request_id(data.get("id"))
    try:
        return _parse_object(data, request_id)
    except ProtocolError as exc:
        exc.request_id = request_id
        raise


def _request_id(value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ProtocolError("invalid_request", "`id` must be a string or an integer")
    if isinstance(value, str) and len(value) > MAX_ID_LENGTH:
        raise ProtocolError("invalid_request", f"`id` is limited to {MAX_ID_LENGTH} characters")
    if isinstance(value, int) and not -(2**53) <= value <= 2**53:
        raise ProtocolError("invalid_request", "`id` is out of range")
    return value


def _parse_object(data: dict, request_id) -> Request:
    action = data.get("action")
    if not isinstance(action, str) or action not in ACTIONS:
        raise ProtocolError("unknown_action", f"`action` must be one of: {', '.join(sorted(ACTIONS))}")
    fields = set(data) - {"action", "id"}
    if action == "ping":
        _no_extra(fields, set())
        return Request(action, request_id)
    if action == "auth":
        return _parse_auth(data, fields, request_id)
    return _parse_subscription(action, data, fields, request_id)


def _parse_auth(data: dict, fields: set, request_id) -> Request:
    given = fields & {"token", "api_key"}
    if len(given) != 1:
        raise ProtocolError("invalid_request", "`auth` takes exactly one of `token` or `api_key`")
    _no_extra(fields, given)
    (name,) = given
    value = data[name]
    if not isinstance(value, str) or not 0 < len(value) <= MAX_CREDENTIAL_LENGTH:
        raise ProtocolError("invalid_request", f"`{name}` must be a non-empty string")
    return Request("auth", request_id, token=value if name == "token" else None,
                   api_key=value if name == "api_key" else None)


def _parse_subscription(action: str, data: dict, fields: set, request_id) -> Request:
    given = [t for t in TARGETS if t in fields]
    if len(given) != 1:
        raise ProtocolError("invalid_request",
                            f"`{action}` takes exactly one of: {', '.join(TARGETS)}")
    kind = given[0]
    allowed = {kind} | ({"last_seq"} if action == "subscribe" and kind in KEY_TARGETS else set())
    _no_extra(fields, allowed)
    value = data[kind]
    if kind in KEY_TARGETS:
        try:
            key = str(parse_pubkey(value))
        except ValueError:
            raise ProtocolError("invalid_pubkey", f"`{kind}` must be a base58 public key") from None
        target = Target(kind, key)
    else:
        if value is not True:
            raise ProtocolError("invalid_request", f"`{kind}` must be true")
        target = Target(kind)
    last_seq = data.get("last_seq")
    if last_seq is not None and (isinstance(last_seq, bool) or not isinstance(last_seq, int)
                                 or not 0 <= last_seq <= U64_MAX):
        raise ProtocolError("invalid_request", "`last_seq` must be an integer from 0 to 2^64-1")
    return Request(action, request_id, target=target, last_seq=last_seq)


def _no_extra(fields: set, allowed: set) -> None:
    extra = fields - allowed
    if extra:
        raise ProtocolError("invalid_request", f"unexpected field(s): {', '.join(sorted(extra))}")
