"""The outermost ASGI layer for HTTP: every answer is JSON, whatever fails underneath.

Django turns a view's exception into `handler500`, but some failures never reach it: a
`BaseException` that is not an `Exception` (pyo3's PanicException from solders), an error in the
static files handler, a body larger than allowed. Without this layer the ASGI server answers
those with its own HTML page. Here every request gets a request id (echoed in `X-Request-ID` and
in error bodies), oversized headers get 431 and oversized bodies 413 before the application reads
them, and anything that escapes the application is logged with its traceback, audited, and
answered `{"success": false, "error": {"code", "message", "request_id"}}`.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation

logger = logging.getLogger("vaultsite.http_guard")

REQUEST_ID_HEADER = b"x-request-id"
CLIENT_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")
MUTATING_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Not errors of the request: the server is stopping or the client went away.
PASS_THROUGH = (asyncio.CancelledError, KeyboardInterrupt, SystemExit, GeneratorExit)


class BodyTooLarge(Exception):
    pass


def error_json(status: int, code: str, message: str, request_id: str) -> bytes:
    body = {"success": False, "error": {"code": code, "message": message, "request_id": request_id}}
    return json.dumps(body).encode()


def request_id_for(headers) -> str:
    """The client's X-Request-ID when it is a short token, else a fresh one."""
    for name, value in headers:
        if name.lower() == REQUEST_ID_HEADER and CLIENT_REQUEST_ID.fullmatch(value):
            return value.decode()
    return uuid.uuid4().hex


def header_bytes(headers) -> int:
    return sum(len(name) + len(value) + 4 for name, value in headers)


def declared_length(headers) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def audit_rejection(*, method: str, path: str, ip: str | None, user_agent: str, status: int, code: str,
                    request_id: str) -> None:
    """An audit row for an answer the application never produced (413, 431, escaped 500)."""
    from django.db import close_old_connections

    from vaults.services.audit import record_audit_event

    if method not in MUTATING_METHODS and status < 500:
        return
    try:
        record_audit_event(
            actor_type="anonymous", actor="", action=f"http.{code}", method=method or "?", path=path or "?",
            ip_address=ip, user_agent=user_agent, status_code=status, error_code=code,
            details={"request_id": request_id},
        )
    except Exception:  # noqa: BLE001 - the answer stands; the failure is loud in the log
        logger.exception("could not audit the %s answer to %s %s", status, method, path)
    finally:
        close_old_connections()


class JsonErrorGuard:
    """Wraps the HTTP application (Django, with the static files handler in front of it)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = list(scope.get("headers") or [])
        request_id = request_id_for(headers)
        rid = request_id.encode()
        context = {
            "method": scope.get("method", ""), "path": scope.get("path", ""),
            "ip": (scope.get("client") or [None])[0],
            "user_agent": next((v.decode("latin-1")[:255] for n, v in headers if n.lower() == b"user-agent"), ""),
            "request_id": request_id,
        }

        if header_bytes(headers) > settings.MAX_REQUEST_HEADER_BYTES:
            return await self._reject(send, context, 431, "headers_too_large",
                                      f"request headers exceed {settings.MAX_REQUEST_HEADER_BYTES} bytes")
        length = declared_length(headers)
        if length is not None and length > settings.MAX_REQUEST_BODY_BYTES:
            return await self._reject(send, context, 413, "body_too_large",
                                      f"request body exceeds {settings.MAX_REQUEST_BODY_BYTES} bytes")

        scope = {**scope, "headers": [(n, v) for n, v in headers if n.lower() != REQUEST_ID_HEADER]
                 + [(REQUEST_ID_HEADER, rid)]}
        state = {"started": False, "received": 0}

        async def guarded_receive():
            message = await receive()
            if message.get("type") == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > settings.MAX_REQUEST_BODY_BYTES:
                    raise BodyTooLarge()
            return message

        async def guarded_send(message):
            if message["type"] == "http.response.start":
                state["started"] = True
                response_headers = list(message.get("headers") or [])
                if not any(n.lower() == REQUEST_ID_HEADER for n, _ in response_headers):
                    message = {**message, "headers": response_headers + [(REQUEST_ID_HEADER, rid)]}
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except PASS_THROUGH:
            raise
        except (BodyTooLarge, RequestDataTooBig):
            await self._answer_unless_started(state, send, context, 413, "body_too_large",
                                              f"request body exceeds {settings.MAX_REQUEST_BODY_BYTES} bytes")
        except SuspiciousOperation as exc:
            logger.warning("suspicious request %s %s: %s", context["method"], context["path"], exc)
            await self._answer_unless_started(state, send, context, 400, "bad_request", "bad request")
        except BaseException:  # noqa: BLE001 - pyo3's PanicException is a BaseException
            logger.exception("unhandled error in %s %s (request %s)", context["method"], context["path"], request_id)
            await self._answer_unless_started(state, send, context, 500, "internal_error", "internal server error")

    async def _answer_unless_started(self, state, send, context, status, code, message):
        if state["started"]:
            logger.error("request %s failed after its answer started; the connection is closed", context["request_id"])
            return
        await self._reject(send, context, status, code, message)

    async def _reject(self, send, context, status, code, message):
        await send_json_error(send, status, code, message, context["request_id"])
        await sync_to_async(audit_rejection, thread_sensitive=False)(
            method=context["method"], path=context["path"], ip=context["ip"], user_agent=context["user_agent"],
            status=status, code=code, request_id=context["request_id"],
        )


async def send_json_error(send, status: int, code: str, message: str, request_id: str) -> None:
    body = error_json(status, code, message, request_id)
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (REQUEST_ID_HEADER, request_id.encode()),
        ],
    })
    await send({"type": "http.response.body", "body": body})
