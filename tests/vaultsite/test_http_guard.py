"""The ASGI guard in front of the application: whatever escapes it (a pyo3 panic is a
BaseException, past Django's handlers) is logged, audited and answered in JSON."""
import json
import logging

import pytest
from solders.rpc.responses import SendTransactionResp

from vaults.models import AuditTrail
from vaultsite.http_guard import JsonErrorGuard

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


ALREADY_PROCESSED = ('{"jsonrpc":"2.0","id":1,"error":{"code":-32002,'
                     '"message":"Transaction simulation failed: This transaction has already been processed"}}')


def a_real_panic():
    """The issue's failure: solders' parser panics on a -32002 answer without `data`."""
    try:
        SendTransactionResp.from_json(ALREADY_PROCESSED)
    except BaseException as exc:  # noqa: BLE001
        return exc
    return RuntimeError("no panic")


async def call(app, method="POST", path="/vault/deposit", headers=(), body=b"{}"):
    sent = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": list(headers), "client": ("10.9.8.7", 5),
             "query_string": b""}
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body


async def test_an_escaping_base_exception_is_a_json_500_logged_and_audited(caplog):
    panic = a_real_panic()
    assert not isinstance(panic, Exception)  # the case Django's handler500 never sees

    async def exploding_app(scope, receive, send):
        raise panic

    with caplog.at_level(logging.ERROR, logger="vaultsite.http_guard"):
        status, headers, body = await call(JsonErrorGuard(exploding_app))
    assert status == 500 and headers[b"content-type"] == b"application/json"
    payload = json.loads(body)
    assert payload["error"]["code"] == "internal_error"
    assert payload["error"]["request_id"] == headers[b"x-request-id"].decode()
    assert "Traceback" not in body.decode()
    assert any(record.exc_info for record in caplog.records), "the traceback must be logged"
    from channels.db import database_sync_to_async

    row = await database_sync_to_async(AuditTrail.objects.get)(status_code=500)
    assert row.ip_address == "10.9.8.7" and row.error_code == "internal_error" and row.method == "POST"


async def test_an_error_after_the_answer_started_is_not_answered_twice():
    async def half_answer(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("mid-stream")

    status, headers, _ = await call(JsonErrorGuard(half_answer), method="GET")
    assert status == 200 and b"x-request-id" in headers


async def test_oversized_declared_body_and_headers_are_refused_before_the_app_runs(settings):
    ran = []

    async def app(scope, receive, send):
        ran.append(scope)

    settings.MAX_REQUEST_BODY_BYTES = 100
    status, _, body = await call(JsonErrorGuard(app), headers=[(b"content-length", b"101")])
    assert status == 413 and json.loads(body)["error"]["code"] == "body_too_large"
    status, _, body = await call(JsonErrorGuard(app), headers=[(b"x-big", b"x" * 20000)])
    assert status == 431 and json.loads(body)["error"]["code"] == "headers_too_large"
    assert ran == []


async def test_a_streamed_body_over_the_limit_is_413_in_front_of_django(settings):
    """No Content-Length (chunked through another ASGI server): counted as it arrives."""
    from django.core.asgi import get_asgi_application

    settings.MAX_REQUEST_BODY_BYTES = 1000
    app = JsonErrorGuard(get_asgi_application())
    sent, chunks = [], [{"type": "http.request", "body": b"x" * 600, "more_body": True} for _ in range(3)]

    async def receive():
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/vault/deposit", "headers": [], "client": ("10.0.0.1", 1),
             "query_string": b"", "server": ("testserver", 80), "scheme": "http", "asgi": {"version": "3.0"},
             "http_version": "1.1", "root_path": ""}
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert start["status"] == 413 and json.loads(body)["error"]["code"] == "body_too_large"
