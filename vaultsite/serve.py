"""`python -m vaultsite.serve [--processes N] [daphne options] vaultsite.asgi:application`: daphne,
answering in JSON at the HTTP layer too; with --processes, N daphne processes behind one port.

Some requests never reach the ASGI application: Twisted drops the connection on a header line
over 16 KB and answers a bare `400` to a header block over its total, and daphne answers its own
HTML pages (`Exception inside application`, timeouts, bad header names). Twisted also buffers a
whole request body before daphne sees it, so a body limit must act while it arrives. This
launcher gives daphne a channel and a request class that answer each of those in the API's JSON
shape: 431 for oversized headers, 413 as soon as a body is known to exceed
MAX_REQUEST_BODY_BYTES, 400/500/503 for the rest, and write their audit rows.
"""
from __future__ import annotations

import json
import logging
import os
import uuid

logger = logging.getLogger("vaultsite.serve")

STATUS_CODES = {400: "bad_request", 404: "not_found", 413: "body_too_large", 431: "headers_too_large",
                500: "internal_error", 503: "service_unavailable"}
REASONS = {400: b"Bad Request", 404: b"Not Found", 413: b"Content Too Large",
           431: b"Request Header Fields Too Large", 500: b"Internal Server Error", 503: b"Service Unavailable"}


def _limits():
    from django.conf import settings

    return settings.MAX_REQUEST_HEADER_BYTES, settings.MAX_REQUEST_BODY_BYTES


def raw_json_response(status: int, message: str) -> tuple[bytes, str]:
    request_id = uuid.uuid4().hex
    body = json.dumps({"success": False, "error": {"code": STATUS_CODES.get(status, "error"), "message": message,
                                                   "request_id": request_id}}).encode()
    head = (f"HTTP/1.1 {status} ".encode() + REASONS.get(status, b"Error") + b"\r\n"
            + b"Content-Type: application/json\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\nX-Request-ID: {request_id}\r\n\r\n".encode())
    return head + body, request_id


def _audit_later(reactor, **fields):
    from vaultsite.http_guard import audit_rejection

    reactor.callInThread(audit_rejection, **fields)


def build_factory_classes():
    """Imported lazily: Twisted's reactor must be the one daphne installs."""
    from daphne.http_protocol import HTTPFactory, WebRequest
    from twisted.internet import reactor
    from twisted.web import http

    class JsonWebRequest(WebRequest):
        def gotLength(self, length):
            _, max_body = _limits()
            if length is not None and length > max_body:
                self.channel.reject_request(413, f"request body exceeds {max_body} bytes")
                return
            super().gotLength(length)

        def handleContentChunk(self, data):
            _, max_body = _limits()
            self._received_body = getattr(self, "_received_body", 0) + len(data)
            if self._received_body > max_body:
                self.channel.reject_request(413, f"request body exceeds {max_body} bytes")
                return
            super().handleContentChunk(data)

        def basic_error(self, status, status_text, body):
            request_id = uuid.uuid4().hex
            payload = json.dumps({"success": False, "error": {
                "code": STATUS_CODES.get(status, "error"), "message": str(body).rstrip(".").lower() or "error",
                "request_id": request_id}}).encode()
            self.handle_reply({"type": "http.response.start", "status": status, "headers": [
                (b"Content-Type", b"application/json"), (b"X-Request-ID", request_id.encode())]})
            self.handle_reply({"type": "http.response.body", "body": payload})
            if status >= 500:
                _audit_later(reactor, method=self.method.decode("latin-1"), path=self.path.decode("latin-1")[:255],
                             ip=getattr(self.client, "host", None), user_agent="", status=status,
                             code=STATUS_CODES.get(status, "error"), request_id=request_id)

    class JsonHTTPChannel(http.HTTPChannel):
        """Twisted's channel, with JSON answers where it would drop the connection or answer a
        bare 400 (the limits come from the settings: MAX_REQUEST_HEADER_BYTES)."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            max_headers, _ = _limits()
            # One generous line limit, so the total decides and the answer is 431, not a drop.
            self.MAX_LENGTH = max_headers + 1024
            self.totalHeadersSize = max_headers
            self._rejected = False

        def lineReceived(self, line):
            if self._rejected:
                return
            received = getattr(self, "_receivedHeaderSize", 0) + len(line)
            if received > self.totalHeadersSize:
                self.reject_request(431, f"request headers exceed {self.totalHeadersSize} bytes")
                return
            super().lineReceived(line)

        def lineLengthExceeded(self, line):
            self.reject_request(431, f"request headers exceed {self.totalHeadersSize} bytes")

        def _respondToBadRequestAndDisconnect(self):
            self.reject_request(400, "malformed HTTP request")

        def reject_request(self, status, message):
            if self._rejected:
                return
            self._rejected = True
            payload, request_id = raw_json_response(status, message)
            self.transport.write(payload)
            method = (getattr(self, "_command", None) or b"").decode("latin-1")
            path = (getattr(self, "_path", None) or b"").decode("latin-1")[:255]
            peer = getattr(self.transport.getPeer(), "host", None)
            _audit_later(reactor, method=method or "?", path=path, ip=peer, user_agent="",
                         status=status, code=STATUS_CODES.get(status, "error"), request_id=request_id)
            self.dataReceived = lambda *args: None
            self.loseConnection()

    class JsonHTTPFactory(HTTPFactory):
        def protocol(self):
            # Twisted's wrapper (it negotiates HTTP/2) around our channel; buildProtocol then
            # sets the factory, timeouts and request class through it.
            return http._GenericHTTPChannelProtocol(JsonHTTPChannel())

        def buildProtocol(self, addr):
            protocol = super().buildProtocol(addr)
            protocol.requestFactory = JsonWebRequest
            return protocol

    return JsonHTTPFactory


def serve_processes(processes: int, host: str, port: int, daphne_args: list[str]) -> int:
    """Several daphne processes behind one port: this process binds the port once and starts
    `processes` servers on its socket (daphne `--fd`), which accept connections in turn. Each has
    its own /ws hub (monitoring/fanout.py); they share the channels-redis layer, so a message
    published anywhere reaches every process's clients. One server exiting stops them all."""
    import signal
    import socket
    import subprocess
    import sys
    import time

    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(1024)
    fd = listener.fileno()
    children = [subprocess.Popen([sys.executable, "-m", "vaultsite.serve", "--fd", str(fd), *daphne_args],
                                 pass_fds=(fd,)) for _ in range(processes)]
    stopping = []

    def stop(signum, _frame):
        stopping.append(signum)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM if signum == signal.SIGTERM else signal.SIGINT)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while all(child.poll() is None for child in children):
        time.sleep(0.2)
    if not stopping:
        stop(signal.SIGTERM, None)
    deadline = time.monotonic() + 15
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    return 0 if stopping else 1


def _split_processes(argv: list[str]) -> tuple[int, str, int, list[str]]:
    """`--processes N` (and the -b/-p it needs to bind itself) out of daphne's arguments."""
    processes, host, port, rest = 1, "127.0.0.1", 8000, []
    args = iter(argv)
    for arg in args:
        if arg == "--processes":
            processes = int(next(args))
        elif arg in ("-b", "--bind"):
            host = next(args)
        elif arg in ("-p", "--port"):
            port = int(next(args))
        else:
            rest.append(arg)
    return processes, host, port, rest


def plain_frame_logging() -> None:
    """autobahn builds the arguments of a debug log line on every frame it sends, whether or not
    debug logging is on, and with click installed (celery's CLI) those arguments are terminal
    colours: `hltype`/`hlval` cost a fifth of the web process's CPU under a /ws burst. The same
    values unformatted say the same in that (normally off) line."""
    from autobahn.websocket import protocol

    protocol.hltype = protocol.hlval = _unformatted


def _unformatted(value):
    return value


def main(argv=None):
    import sys

    argv = list(argv if argv is not None else sys.argv[1:])
    processes, host, port, rest = _split_processes(argv)
    if processes > 1:
        sys.exit(serve_processes(processes, host, port, rest))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vaultsite.settings.dev")
    import django

    django.setup()
    from daphne import cli, server

    server.HTTPFactory = build_factory_classes()
    plain_frame_logging()
    cli.CommandLineInterface().run(argv)


if __name__ == "__main__":
    main()
