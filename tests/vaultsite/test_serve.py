"""The HTTP layer, probed as an attacker would, against the real server (`python -m vaultsite.serve`):
every answer is JSON with a request id, never a dropped connection or an HTML page."""
import json

import pytest

from tests.live_server import raw_http, serve
from vaults.models import AuditTrail

pytestmark = [pytest.mark.localnet]


@pytest.fixture(scope="module")
def server(tmp_path_factory, django_db_setup, django_db_blocker, localnet):
    with serve(tmp_path_factory.mktemp("server"), localnet, SERVE_STATIC="1") as url:
        yield url


def assert_json_error(status, headers, body, expected_status, code):
    assert status == expected_status, (status, body[:300])
    assert headers.get("content-type", "").startswith("application/json"), headers
    payload = json.loads(body)
    assert payload["success"] is False and payload["error"]["code"] == code, payload
    assert payload["error"]["message"]
    assert payload["error"]["request_id"] == headers["x-request-id"]
    return payload


def get(path, *headers):
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def test_a_60kb_authorization_header_gets_431_in_json(server):
    status, headers, body = raw_http(server, get("/vault/tvl", "Authorization: Bearer " + "a" * 60_000))
    assert_json_error(status, headers, body, 431, "headers_too_large")


def test_many_headers_over_the_total_get_431(server):
    many = [f"X-Filler-{i}: {'b' * 1000}" for i in range(20)]  # each line is fine, the total is not
    status, headers, body = raw_http(server, get("/vault/tvl", *many))
    assert_json_error(status, headers, body, 431, "headers_too_large")


def test_a_body_over_the_limit_gets_413_before_it_is_read(server, transactional_db):
    before = AuditTrail.objects.filter(status_code=413).count()
    head = ("POST /vault/deposit HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            "Content-Type: application/json\r\nContent-Length: 3000000\r\n\r\n").encode()
    status, headers, body = raw_http(server, head + b"[" * 65536)
    assert_json_error(status, headers, body, 413, "body_too_large")
    assert_audited(413, before)


def test_a_chunked_body_over_the_limit_gets_413(server):
    chunk = b"a" * 60000
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(20)) + b"0\r\n\r\n"
    head = (b"POST /vault/deposit HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    status, headers, body = raw_http(server, head + chunks)
    assert_json_error(status, headers, body, 413, "body_too_large")


def test_static_path_traversal_is_json(server):
    for path in ["/static/..%2f..%2fmanage.py", "/static/..%2f..", "/static/%2e%2e/%2e%2e/manage.py"]:
        status, headers, body = raw_http(server, get(path))
        assert status in (400, 404), (path, status, body[:200])
        assert_json_error(status, headers, body, status, "bad_request" if status == 400 else "not_found")
        assert b"import" not in body


def test_a_static_file_is_still_served(server):
    status, headers, _ = raw_http(server, get("/static/admin/css/base.css"))
    assert status == 200 and "text/css" in headers["content-type"]


def test_multipart_without_boundary_is_json(server):
    request = (b"POST /vault/deposit HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
               b"Content-Type: multipart/form-data\r\nContent-Length: 5\r\n\r\nhello")
    status, headers, body = raw_http(server, request)
    assert status in (400, 401, 415), body
    assert_json_error(status, headers, body, status, json.loads(body)["error"]["code"])


def test_a_malformed_request_line_is_json(server):
    status, headers, body = raw_http(server, b"GARBAGE\r\n\r\n")
    assert_json_error(status, headers, body, 400, "bad_request")


def test_the_client_request_id_is_echoed(server):
    status, headers, _ = raw_http(server, get("/vault/tvl", "X-Request-ID: trace-42"))
    assert status == 200 and headers["x-request-id"] == "trace-42"
    _, headers, _ = raw_http(server, get("/vault/tvl", "X-Request-ID: <script>"))
    assert headers["x-request-id"] != "<script>" and len(headers["x-request-id"]) == 32


def assert_audited(status, before, timeout=5.0):
    import time

    deadline = time.monotonic() + timeout
    while AuditTrail.objects.filter(status_code=status).count() <= before:
        assert time.monotonic() < deadline, f"no audit row for the {status} answer"
        time.sleep(0.1)


def test_frames_are_sent_without_formatting_an_unused_log_line(monkeypatch):
    """autobahn formats (in terminal colours, through click) the arguments of a debug line on
    every frame it sends; the server's patch leaves them unformatted, and the frame is sent."""
    from collections import deque

    import click
    from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
    from autobahn.websocket import protocol as autobahn_protocol
    from twisted.internet.testing import StringTransport

    from vaultsite.serve import plain_frame_logging

    styled = []
    real_style = click.style
    monkeypatch.setattr(click, "style", lambda *args, **kwargs: styled.append(args) or real_style(*args, **kwargs))
    monkeypatch.setattr(autobahn_protocol, "hltype", autobahn_protocol.hltype)  # undone after the test
    monkeypatch.setattr(autobahn_protocol, "hlval", autobahn_protocol.hlval)
    connection = WebSocketServerProtocol()
    connection.factory = WebSocketServerFactory()
    connection.transport = StringTransport()
    connection.send_queue = deque()
    connection.peer = "tcp:127.0.0.1:1"
    connection.state = WebSocketServerProtocol.STATE_CLOSED
    connection.logOctets = False

    connection.sendData(b"before")
    assert styled  # what the patch is for: the stock code styles every frame's log arguments
    styled.clear()
    plain_frame_logging()
    connection.sendData(b"after")
    assert styled == []
    assert connection.transport.value() == b"beforeafter"
