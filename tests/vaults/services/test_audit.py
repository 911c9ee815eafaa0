"""vaults.services.audit: whatever a row is given, it is storable, redacted and bounded."""
import json

import pytest

from vaults.models import AuditTrail
from vaults.services.audit import (
    DEPTH_MARKER, MAX_DETAILS_BYTES, MAX_DEPTH, REDACTED, bounded, record_audit_event, request_body_for_audit,
)


def _depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _nested(levels: int):
    value = "bottom"
    for _ in range(levels):
        value = {"x": value}
    return value


def test_secrets_are_redacted_by_name_at_any_depth():
    details = bounded({"request": {
        "password1": "hunter2", "password2": "hunter2", "old_password": "x", "new_password1": "y",
        "csrfmiddlewaretoken": "t", "api_key": "k", "X-Api-Key": "k", "clientSecret": "s", "otp_token": "123456",
        "signature": "sig", "transaction": "AQ...", "nested": [{"refresh_token": "r", "amount": 5}],
        "user": "7xKX", "amount": 10,
    }})["request"]
    secret_names = [k for k in details if k not in ("nested", "user", "amount")]
    assert all(details[name] == REDACTED for name in secret_names)
    assert details["nested"] == [{"refresh_token": REDACTED, "amount": 5}]
    assert (details["user"], details["amount"]) == ("7xKX", 10)


def test_nul_and_invalid_unicode_are_replaced_in_keys_and_values():
    details = bounded({"a\x00b": "c\x00d", "lone": "\ud800x", "request": {"\udfffkey": 1, "x\x00": "\x00"}})
    assert details == {"a\ufffdb": "c\ufffdd", "lone": "\ufffdx", "request": {"\ufffdkey": REDACTED, "x\ufffd": "\ufffd"}}
    json.dumps(details).encode("utf-8")


def test_the_systems_own_details_are_not_redacted():
    # An alert's dedupe key and a transaction signature are the monitors' words, not a secret.
    details = {"dedupe_key": "vault:1:2", "signature": "5j7s", "request_id": "r1"}
    assert bounded(details) == details


def test_depth_is_cut_at_twenty_levels_with_a_marker():
    details = bounded({"request": _nested(500)})
    assert _depth(details) == MAX_DEPTH
    assert DEPTH_MARKER in json.dumps(details) and details["_truncated"] is True


def test_size_is_cut_to_sixteen_kilobytes_with_a_marker():
    huge = {f"k{i}": "v" * 100 for i in range(125_000)}
    details = bounded({"request": huge, "amount": 5})
    assert len(json.dumps(details, ensure_ascii=False).encode()) <= MAX_DETAILS_BYTES
    assert details["_truncated"] is True and details["amount"] == 5
    assert details["request"]["…"].startswith("[truncated:")
    long_string = bounded({"note": "z" * 100_000})
    assert len(json.dumps(long_string).encode()) <= MAX_DETAILS_BYTES and long_string["_truncated"] is True


def test_small_details_are_kept_whole_and_unmarked():
    assert bounded({"request": {"user": "u", "amount": 1}}) == {"request": {"user": "u", "amount": 1}}


def test_an_anonymous_body_keeps_only_what_traces_it():
    raw = json.dumps({f"k{i}": i for i in range(125_000)}).encode()
    kept = request_body_for_audit(raw, "application/json", None, anonymous=True)
    assert kept["bytes"] == len(raw) and len(kept["sha256"]) == 64 and kept["fields"][:2] == ["k0", "k1"]
    assert len(json.dumps(kept)) < 1024


@pytest.mark.django_db
def test_every_column_is_sanitized_before_the_insert():
    row = record_audit_event(actor_type="anonymous", actor="a\x00", action="x\x00" * 100, method="POST",
                             path="/p\x00ath", ip_address=None, user_agent="ua\x00\ud800", status_code=400,
                             details={"k": "\x00"})
    row = AuditTrail.objects.get(pk=row.pk)
    assert (row.actor, row.path, row.user_agent, row.details) == ("a\ufffd", "/p\ufffdath", "ua\ufffd\ufffd",
                                                                  {"k": "\ufffd"})
    assert len(row.action) == 64
