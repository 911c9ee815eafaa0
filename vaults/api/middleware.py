"""One audit_trail row for every mutating request, whatever its outcome, written in the same
database transaction as the request's changes, or the request fails.

- The body is read and prepared for the audit (vaults.services.audit) *before* the view runs,
  so nothing the client sent (NUL, invalid Unicode, 500 levels of nesting, megabytes) can make
  the insert fail afterwards. A body too large to read is refused (413), audited.
- The view runs inside the request's transaction, in a savepoint. A 5xx answer rolls the
  savepoint back (no half-written change survives an error), and the audit row is then written
  in the request's transaction, which commits both or neither: if the row cannot be written, the
  changes are rolled back and the answer is a JSON 500 (`audit_unavailable`). Messages queued
  with `transaction.on_commit` leave only after both are committed.
- An exception that escapes Django altogether (a BaseException, the HTTP layer refusing the
  request) never reaches this middleware; the ASGI guard outside it audits those answers with
  `record_audit_event`.

What the database cannot undo, the chain can not either: a transaction the server already sent
stays sent when the audit insert fails. The row is prepared before the view, so only a database
failure can hit that window, and the indexer still records the chain's events.
"""
import json
import logging

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import transaction
from django.http import JsonResponse

from vaults.api.errors import error_body
from vaults.api.principals import describe_actor
from vaults.services.audit import bounded, record_audit_event, request_body_for_audit

logger = logging.getLogger(__name__)

MUTATING_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
ERROR_CODE_SCAN_BYTES = 64 * 1024


class AuditTrailMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method not in MUTATING_METHODS:
            return self.get_response(request)
        try:
            body = self._prepared_body(request)
        except RequestDataTooBig:
            response = JsonResponse(error_body("body_too_large", "the request body is too large"), status=413)
            return self._refused(request, response)
        except SuspiciousOperation as exc:
            response = JsonResponse(error_body("bad_request", f"bad request: {exc.__class__.__name__}"), status=400)
            return self._refused(request, response)
        try:
            with transaction.atomic():
                with transaction.atomic():  # the view's changes: undone on a 5xx answer
                    response = self.get_response(request)
                    if response.status_code >= 500:
                        transaction.set_rollback(True)
                self._record(request, response, body)
        except Exception:  # noqa: BLE001 - the audit row could not be written: nothing stands
            logger.exception("could not write the audit trail for %s %s; the request's changes were rolled back",
                             request.method, request.path)
            return JsonResponse(error_body("audit_unavailable",
                                           "the request could not be recorded and was not carried out"), status=500)
        return response

    @staticmethod
    def _prepared_body(request) -> dict:
        """Read now (Django caches it for the view's parser), prepared for the row now: both what
        an authenticated caller's row keeps and what an anonymous one's does (who the caller is
        is known only after the view has authenticated it)."""
        raw = request.body
        form = None
        if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = {key: request.POST.getlist(key) for key in request.POST}
        return {
            "authenticated": bounded({"request": request_body_for_audit(raw, request.content_type, form,
                                                                        anonymous=False)}),
            "anonymous": request_body_for_audit(raw, request.content_type, form, anonymous=True),
        }

    def _refused(self, request, response):
        try:
            self._record(request, response, {"authenticated": {"request": {"_refused": True}},
                                             "anonymous": {"_refused": True}})
        except Exception:  # noqa: BLE001
            logger.exception("could not audit the refusal of %s %s", request.method, request.path)
            return JsonResponse(error_body("audit_unavailable", "the request could not be recorded"), status=500)
        return response

    @staticmethod
    def _record(request, response, body):
        audit = getattr(request, "audit", {})
        actor_type, actor = describe_actor(getattr(request, "user", None))
        match = getattr(request, "resolver_match", None)
        action = audit.get("action") or (match.view_name if match else "unrouted")
        if actor_type == "anonymous":
            details = {"request": body["anonymous"]}
        else:
            details = dict(body["authenticated"])
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
            error_code=_error_code(response),
            vault_owner=audit.get("vault_owner", ""),
            signature=audit.get("signature", ""),
            details=details,
        )


def _error_code(response) -> str:
    data = getattr(response, "data", None)
    if not isinstance(data, dict) and response.get("Content-Type", "").startswith("application/json") \
            and not getattr(response, "streaming", False) and len(response.content) <= ERROR_CODE_SCAN_BYTES:
        try:
            data = json.loads(response.content)
        except ValueError:
            data = None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        return str(data["error"].get("code", ""))
    return ""
