"""Audit rows for what staff do in the console, through the one audit writer
(vaults/services/audit.py), inside the caller's database transaction."""
from vaults.services.audit import record_audit_event


def record_staff_action(request, action: str, *, status_code: int = 200, error_code: str = "", vault_owner: str = "",
                        signature: str = "", details: dict | None = None):
    user = getattr(request, "user", None)
    return record_audit_event(
        actor_type="staff",
        actor=user.get_username() if user is not None and user.is_authenticated else "",
        action=action,
        method=request.method or "POST",
        path=request.path,
        ip_address=request.META.get("REMOTE_ADDR") or None,
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
        status_code=status_code,
        error_code=error_code,
        vault_owner=vault_owner,
        signature=signature,
        details=details or {},
    )
