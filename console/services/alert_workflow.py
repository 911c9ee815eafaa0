"""The alert workflow: open -> acknowledged -> resolved (and reopened if it comes back), with an
assignee and a note. Each step is one database transaction holding the case's new state and its
audit row (action `alert_case.<step>`)."""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from console.models import AlertCase
from console.services.staff_audit import record_staff_action
from monitoring.models import Alert
from vaults.errors import InvalidRequest

S = AlertCase.Status
# step -> (statuses it may start from, status it leads to)
STEPS = {
    "acknowledge": ({S.OPEN}, S.ACKNOWLEDGED),
    "resolve": ({S.OPEN, S.ACKNOWLEDGED}, S.RESOLVED),
    "reopen": ({S.ACKNOWLEDGED, S.RESOLVED}, S.OPEN),
    "update": ({S.OPEN, S.ACKNOWLEDGED, S.RESOLVED}, None),  # assignee / note only
}
MAX_NOTE = 4000


def case_for(alert: Alert) -> AlertCase | None:
    return AlertCase.objects.filter(alert=alert).select_related("assignee").first()


def apply_step(request, alert: Alert, step: str, *, assignee=None, note: str | None = None) -> AlertCase:
    if step not in STEPS:
        raise InvalidRequest(f"unknown step {step!r}", code="invalid_step")
    if note is not None and len(note) > MAX_NOTE:
        raise InvalidRequest(f"the note is limited to {MAX_NOTE} characters", code="invalid_note")
    if step == "resolve" and not (note or "").strip():
        raise InvalidRequest("say how it was resolved: a note is required", code="note_required")
    allowed_from, to_status = STEPS[step]
    with transaction.atomic():
        case, _ = AlertCase.objects.select_for_update().get_or_create(alert=alert)
        before = {"status": case.status, "assignee": case.assignee.get_username() if case.assignee else None}
        if case.status not in allowed_from:
            raise InvalidRequest(f"an alert that is {case.status} cannot be {step}d", code="invalid_transition")
        now = timezone.now()
        if to_status == S.ACKNOWLEDGED:
            case.acknowledged_by, case.acknowledged_at = request.user, now
            if assignee is None and case.assignee is None:
                assignee = request.user  # whoever acknowledges owns it unless someone else is named
        elif to_status == S.RESOLVED:
            case.resolved_by, case.resolved_at = request.user, now
        elif to_status == S.OPEN:
            case.resolved_by = case.resolved_at = None
        if to_status is not None:
            case.status = to_status
        if assignee is not None:
            case.assignee = assignee
        if note is not None and note.strip():
            case.note = note.strip()
        case.save()
        record_staff_action(
            request, f"alert_case.{step if step != 'update' else 'updated'}",
            vault_owner=alert.vault_owner, signature=alert.signature,
            details={"alert_id": alert.pk, "alert_kind": alert.error_code, "from": before,
                     "to": {"status": case.status, "assignee": case.assignee.get_username() if case.assignee else None},
                     "note": note.strip() if note else ""},
        )
    return case
