"""One way to raise an alert, used by every monitoring component.

An alert is three things, all tied to the caller's database transaction:
- an `audit_trail` row (append-only; action `alert.<kind>`, actor_type `system`), written now;
- a staff WebSocket `alert` message (monitoring.streams), sent after commit;
- a log line (WARNING, or ERROR for critical alerts), also after commit.
If the caller's transaction rolls back, none of the three happen.

`details["dedupe_key"]` names the thing alerted about (a signature and event index, a vault and
its ledger state...): `already_alerted` lets a job that runs again skip what it has reported.
"""
from __future__ import annotations

import logging

from django.db import transaction

from monitoring import streams
from vaults.models import AuditTrail
from vaults.services.audit import record_audit_event

logger = logging.getLogger("monitoring.alerts")

ACTION_PREFIX = "alert."


class Severity:
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


def raise_alert(*, kind: str, message: str, source: str, severity: str = Severity.WARNING, vault: str | None = None,
                vault_owner: str = "", signature: str = "", details: dict | None = None,
                status_code: int = 409) -> AuditTrail:
    """`status_code` says what the alert is about, as HTTP would: 409 the books disagree, 403 an
    unauthorized attempt, 200 an allowed but unusual operation (so the audit row's outcome is
    `failure` for the first two and `success` for the last)."""
    details = dict(details or {})
    row = record_audit_event(
        actor_type="system",
        actor=source,
        action=f"{ACTION_PREFIX}{kind}",
        method="TASK",
        path=f"monitoring/{source}",
        ip_address=None,
        user_agent="",
        status_code=status_code,
        error_code=kind,
        vault_owner=vault_owner or "",
        signature=signature or "",
        details={"message": message, "severity": severity, "vault": vault, **details},
    )
    payload = streams.alert(kind=kind, message=message, severity=severity, vault=vault,
                            details={**details, "audit_id": row.pk, "signature": signature or None},
                            timestamp=row.timestamp)
    streams.publish_on_commit([payload])
    level = logging.ERROR if severity == Severity.CRITICAL else logging.WARNING
    transaction.on_commit(lambda: logger.log(level, "ALERT %s [%s] %s", kind, severity, message))
    return row


def already_alerted(kind: str, dedupe_keys) -> set[str]:
    """The dedupe keys among `dedupe_keys` that an earlier alert of `kind` already covered."""
    keys = list(dedupe_keys)
    if not keys:
        return set()
    found = AuditTrail.objects.filter(action=f"{ACTION_PREFIX}{kind}", details__dedupe_key__in=keys)
    return set(found.values_list("details__dedupe_key", flat=True))
