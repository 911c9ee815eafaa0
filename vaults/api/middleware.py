"""Writes one audit_trail row for every mutating request, whatever its outcome."""
import json
import logging

from vaults.api.principals import describe_actor
from vaults.services.audit import record_audit_event

logger = logging.getLogger(__name__)

MUTATING_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class AuditTrailMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method not in MUTATING_METHODS:
            return self.get_response(request)
        body = self._body(request)  # read now: Django caches it for the view's parser
        response = self.get_response(request)
        try:
            self._record(request, response, body)
        except Exception:  # noqa: BLE001 - the response stands; the failure is loud in the log
            logger.exception("could not write the audit trail for %s %s", request.method, request.path)
        return response

    @staticmethod
    def _body(request):
        try:
            raw = request.body
        except Exception:  # noqa: BLE001 - oversized or already-consumed bodies
            return {}
        if request.content_type == "application/json":
            try:
                return json.loads(raw or b"{}")
            except (ValueError, RecursionError):
                return {"_unparsed": raw[:200].decode(errors="replace")}
        return {k: v for k, v in request.POST.items()} if request.POST else {}

    @staticmethod
    def _record(request, response, body):
        audit = getattr(request, "audit", {})
        actor_type, actor = describe_actor(getattr(request, "user", None))
        error_code = ""
        data = getattr(response, "data", None)
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            error_code = str(data["error"].get("code", ""))
        match = getattr(request, "resolver_match", None)
        action = audit.get("action") or (match.view_name if match else "unrouted")
        details = {"request": body if isinstance(body, dict) else {"_body": body}}
        if "amount" in audit:
            details["amount"] = audit["amount"]
        record_audit_event(
            actor_type=actor_type,
            actor=actor,
            action=action,
            method=request.method,
            path=request.path,
            ip_address=request.META.get("REMOTE_ADDR") or None,
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
            status_code=response.status_code,
            error_code=error_code,
            vault_owner=audit.get("vault_owner", ""),
            signature=audit.get("signature", ""),
            details=details,
        )
