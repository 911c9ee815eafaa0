"""The audit trail: one append-only row per mutating request (who, what, from where, result)."""
from vaults.models import AuditTrail

SENSITIVE_KEYS = {"password", "signature", "token", "transaction", "secret", "api_key", "csrfmiddlewaretoken"}
MAX_DETAIL_CHARS = 2000


def redact(payload):
    if isinstance(payload, dict):
        return {k: ("[redacted]" if k.lower() in SENSITIVE_KEYS else redact(v)) for k, v in payload.items()}
    if isinstance(payload, list):
        return [redact(v) for v in payload[:20]]
    if isinstance(payload, str) and len(payload) > 200:
        return payload[:200] + "…"
    return payload


def record_audit_event(*, actor_type, actor, action, method, path, ip_address, user_agent, status_code,
                       error_code="", vault_owner="", signature="", details=None) -> AuditTrail:
    return AuditTrail.objects.create(
        actor_type=actor_type,
        actor=actor[:128],
        action=action[:64],
        method=method[:8],
        path=path[:255],
        ip_address=ip_address,
        user_agent=user_agent[:255],
        status_code=status_code,
        outcome=AuditTrail.Outcome.SUCCESS if status_code < 400 else AuditTrail.Outcome.FAILURE,
        error_code=error_code[:64],
        vault_owner=vault_owner[:44] if isinstance(vault_owner, str) else "",
        signature=signature[:88],
        details=redact(details or {}),
    )
