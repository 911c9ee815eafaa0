"""Idempotency-Key for the API's writes, kept in Redis.

The first request with a key claims it atomically (SET NX) and runs; its answer is stored under
the key for IDEMPOTENCY_TTL_SECONDS. A later request with the same key and the same body gets
that answer again without running; with another body it is refused (422); while the first is
still running, a concurrent one is refused (409, retry later). Answers that say "try again"
(429, 5xx) are not kept, so the key stays usable for the retry.

Keys are scoped to the caller (its credential) and the endpoint: two clients cannot collide or
read each other's answers.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from django.conf import settings

from vaults.errors import IdempotencyKeyInUse, IdempotencyKeyReused, InvalidRequest
from vaults.redis_client import get_redis

HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII, as most APIs accept
KEY_PATTERN_TEXT = r"^[\x21-\x7E]{1,255}$"


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: object


@dataclass(frozen=True)
class Claim:
    redis_key: str
    fingerprint: str


def validate_key(raw: str) -> str:
    if not KEY_PATTERN.fullmatch(raw):
        raise InvalidRequest("Idempotency-Key must be 1 to 255 visible ASCII characters",
                             code="invalid_idempotency_key")
    return raw


def fingerprint(method: str, path: str, body: bytes, parsed=None) -> str:
    """The request's identity: the parsed JSON in canonical form when it parses (so spacing and
    key order do not matter), else the raw bytes."""
    if isinstance(parsed, (dict, list)):
        canonical = json.dumps(parsed, sort_keys=True, separators=(",", ":")).encode()
    else:
        canonical = body
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).hexdigest()


def _pending_seconds() -> int:
    """How long a claim outlives a server that died while running it."""
    return settings.CONFIRM_TIMEOUT_SECONDS + 4 * settings.RPC_TIMEOUT_SECONDS + 60


def claim(scope: str, key: str, request_fingerprint: str) -> Claim | StoredAnswer:
    """Claims the key for this request, or returns the stored answer of the same request.
    Raises IdempotencyKeyReused (other body) or IdempotencyKeyInUse (still running)."""
    redis = get_redis()
    redis_key = "idempotency:" + hashlib.sha256(f"{scope}\0{key}".encode()).hexdigest()
    pending = json.dumps({"fingerprint": request_fingerprint, "state": "pending"})
    for _ in range(3):  # the stored record can expire between SET NX and GET
        if redis.set(redis_key, pending, nx=True, ex=_pending_seconds()):
            return Claim(redis_key, request_fingerprint)
        stored = redis.get(redis_key)
        if stored is None:
            continue
        record = json.loads(stored)
        if record["fingerprint"] != request_fingerprint:
            raise IdempotencyKeyReused("this Idempotency-Key was used with another request body")
        if record["state"] == "pending":
            raise IdempotencyKeyInUse("a request with this Idempotency-Key is still being processed; retry later")
        return StoredAnswer(record["status"], record["body"])
    raise IdempotencyKeyInUse("this Idempotency-Key is contended; retry later")


def complete(held: Claim, status: int, body) -> None:
    redis = get_redis()
    if status == 429 or status >= 500:
        redis.delete(held.redis_key)  # a transient answer: the key stays free for the retry
        return
    record = {"fingerprint": held.fingerprint, "state": "done", "status": status, "body": body}
    redis.set(held.redis_key, json.dumps(record), ex=settings.IDEMPOTENCY_TTL_SECONDS)
