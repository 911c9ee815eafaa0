"""The audit trail: one append-only row per mutating request (who, what, from where, result),
and the monitors' alerts.

Every row goes through `record_audit_event`, which makes it storable whatever it was given:
- **sanitized**: NUL characters (PostgreSQL text and jsonb refuse them) and invalid Unicode (lone
  surrogates) are replaced by U+FFFD, in every column and in every key and value of `details`;
- **redacted by pattern**: in what the client sent (`details["request"]`, where every caller puts
  a request body), any field whose name contains `password`, `passwd`, `secret`, `token`,
  `key`, `signature`, `transaction` (a signed transaction carries signatures), `otp`,
  `authorization`, `cookie`, `session`, `mnemonic`, `seed` or `private` is stored as
  `[redacted]`, at any depth, whatever its value (the admin's forms included: `password1`,
  `password2`, `old_password`, `csrfmiddlewaretoken`);
- **bounded**: at most `MAX_DEPTH` (20) levels and `MAX_DETAILS_BYTES` (16 KB) of JSON; what is
  cut is replaced by a marker, and `details["_truncated"]` says so.

`request_body_for_audit` prepares a request's body *before* the view runs: an authenticated
caller's body is kept (sanitized, redacted, bounded); an anonymous caller gets only what traces
the request (its size, SHA-256 and first few field names), so nobody can fill an append-only
table for free.
"""
from __future__ import annotations

import hashlib
import json
import re

from vaults.models import AuditTrail

REDACTED = "[redacted]"
SENSITIVE_NAME = re.compile(
    r"password|passwd|secret|token|key|signature|transaction|otp|authorization|cookie|session|mnemonic|seed|private",
    re.IGNORECASE)
MAX_DEPTH = 20
MAX_DETAILS_BYTES = 16 * 1024
MAX_STRING_CHARS = 1024
MAX_ITEMS = 100  # per object or array
ANONYMOUS_FIELD_NAMES = 10
DEPTH_MARKER = "[truncated: deeper than 20 levels]"
TRUNCATED_KEY = "_truncated"
UNPARSED_PREVIEW_CHARS = 200


def clean_text(value, limit: int | None = None) -> str:
    """NUL and invalid Unicode (lone surrogates) replaced by U+FFFD; cut to `limit` characters."""
    value = str(value).replace("\x00", "\ufffd")
    if _has_surrogates(value):
        value = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in value)
    return value if limit is None else value[:limit]


def _has_surrogates(value: str) -> bool:
    try:
        value.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def is_sensitive(name) -> bool:
    return isinstance(name, str) and SENSITIVE_NAME.search(name) is not None


class _Walk:
    def __init__(self, max_string: int, max_items: int):
        self.max_string = max_string
        self.max_items = max_items
        self.cut = False

    def value(self, value, depth: int, *, redacting: bool = True):
        if isinstance(value, dict):
            if depth >= MAX_DEPTH:
                self.cut = True
                return DEPTH_MARKER
            out = {}
            for index, (key, item) in enumerate(value.items()):
                if index >= self.max_items:
                    self.cut = True
                    out["…"] = f"[truncated: {len(value) - index} more fields]"
                    break
                name = clean_text(str(key), 128)
                if redacting and is_sensitive(str(key)):
                    out[name] = REDACTED
                else:
                    # Below the top level of a row's details, only what a client sent is redacted:
                    # `request` (and everything under it); the rest is the system's own words.
                    out[name] = self.value(item, depth + 1, redacting=redacting or (depth == 0 and name == "request"))
            return out
        if isinstance(value, (list, tuple)):
            if depth >= MAX_DEPTH:
                self.cut = True
                return DEPTH_MARKER
            items = [self.value(item, depth + 1, redacting=redacting) for item in value[: self.max_items]]
            if len(value) > self.max_items:
                self.cut = True
                items.append(f"[truncated: {len(value) - self.max_items} more items]")
            return items
        if isinstance(value, str):
            text = clean_text(value)
            if len(text) > self.max_string:
                self.cut = True
                return text[: self.max_string] + f"…[truncated: {len(text)} characters]"
            return text
        if value is None or isinstance(value, (bool, int)):
            return value
        if isinstance(value, float):
            return value if value == value and value not in (float("inf"), float("-inf")) else str(value)
        return self.value(str(value), depth, redacting=redacting)


def bounded(details: dict) -> dict:
    """`details` sanitized and cut to MAX_DEPTH levels and MAX_DETAILS_BYTES of JSON, with
    `_truncated: true` when anything was cut, and `details["request"]` (what the client sent)
    redacted at every depth. Shrinks the per-string and per-collection limits until it fits; an
    object that cannot fit even then is replaced by a marker."""
    max_string, max_items = MAX_STRING_CHARS, MAX_ITEMS
    while True:
        walk = _Walk(max_string, max_items)
        out = walk.value(details, 0, redacting=False)
        if not isinstance(out, dict):
            out = {"value": out}
        if walk.cut:
            out[TRUNCATED_KEY] = True
        size = len(json.dumps(out, ensure_ascii=False).encode())
        if size <= MAX_DETAILS_BYTES:
            return out
        if max_string <= 16 and max_items <= 2:
            return {TRUNCATED_KEY: True, "note": f"details of {size} bytes could not be kept within "
                                                 f"{MAX_DETAILS_BYTES} bytes"}
        max_string, max_items = max(16, max_string // 4), max(2, max_items // 4)


def request_body_for_audit(raw: bytes, content_type: str, form: dict | None, *, anonymous: bool):
    """What the audit row keeps of a request body (see the module docstring)."""
    if anonymous:
        names = []
        if form:
            names = list(form)[:ANONYMOUS_FIELD_NAMES]
        elif raw and content_type == "application/json":
            names = _top_level_names(raw)
        return {"_anonymous": True, "bytes": len(raw or b""), "sha256": hashlib.sha256(raw or b"").hexdigest(),
                "fields": [clean_text(str(name), 32) for name in names]}
    if content_type == "application/json":
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            return {"_unparsed": clean_text(raw[:UNPARSED_PREVIEW_CHARS].decode("utf-8", "replace")),
                    "bytes": len(raw)}
    if form:
        return {key: (values if len(values) != 1 else values[0]) for key, values in form.items()}
    return {"bytes": len(raw)} if raw else {}


def _top_level_names(raw: bytes) -> list[str]:
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError):
        return []
    return list(parsed)[:ANONYMOUS_FIELD_NAMES] if isinstance(parsed, dict) else []


def record_audit_event(*, actor_type, actor, action, method, path, ip_address, user_agent, status_code,
                       error_code="", vault_owner="", signature="", details=None) -> AuditTrail:
    """Inserts one row, in the caller's database transaction (the request's, in the middleware)."""
    return AuditTrail.objects.create(
        actor_type=clean_text(actor_type, 16),
        actor=clean_text(actor or "", 128),
        action=clean_text(action, 64),
        method=clean_text(method, 8),
        path=clean_text(path, 255),
        ip_address=ip_address or None,
        user_agent=clean_text(user_agent or "", 255),
        status_code=status_code,
        outcome=AuditTrail.Outcome.SUCCESS if status_code < 400 else AuditTrail.Outcome.FAILURE,
        error_code=clean_text(error_code or "", 64),
        vault_owner=clean_text(vault_owner, 44) if isinstance(vault_owner, str) else "",
        signature=clean_text(signature or "", 88),
        details=bounded(details or {}),
    )
