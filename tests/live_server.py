"""The real HTTP stack for tests: `python -m vaultsite.serve` (daphne with the project's JSON
HTTP layer) serving vaultsite.asgi on the test database, the test Redis and the session's local
validator, on a free loopback port."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url() -> str:
    from django.conf import settings

    db = settings.DATABASES["default"]  # the test database pytest-django created
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    if db["HOST"].startswith("/"):
        return f"postgresql://{credentials}@/{db['NAME']}?host={db['HOST']}"
    return f"postgresql://{credentials}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@contextmanager
def serve(workdir: Path, localnet=None, wallets=None, **env_overrides):
    """Yields the base URL; the server's output is in workdir/server.log. `wallets` (keypairs)
    replace the localnet's dev wallets as the ones the dev signer holds, so a test never moves
    the shared dev wallets other tests rely on."""
    from django.conf import settings

    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "vaultsite.settings.test", "DATABASE_URL": database_url(),
           "TEST_REDIS_URL": settings.REDIS_URL, "PYTHONUNBUFFERED": "1"}
    if localnet is not None:
        description = workdir / "localnet.json"
        described = dict(localnet.description)
        if wallets is not None:
            described["wallets"] = [{"pubkey": str(k.pubkey()), "secret_key": list(bytes(k))} for k in wallets]
        description.write_text(json.dumps(described))
        env.update({"TEST_SERVER_LOCALNET": "1", "LOCALNET_FILE": str(description)})
    env.update({k: str(v) for k, v in env_overrides.items()})
    log_path = workdir / "server.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "vaultsite.serve", "-b", "127.0.0.1", "-p", str(port), "vaultsite.asgi:application"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"the server exited:\n{log_path.read_text()}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not listen within {STARTUP_SECONDS} s:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def raw_http(base_url: str, request: bytes, timeout: float = 10) -> tuple[int, dict, bytes]:
    """Sends raw bytes and reads the whole answer: status, headers (lower-case), body."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading everything
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    data = b"".join(chunks)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    if not lines or not lines[0].startswith(b"HTTP/"):
        raise AssertionError(f"no HTTP answer: {data[:200]!r}")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode()] = value.strip().decode("latin-1")
    if headers.get("transfer-encoding") == "chunked":
        body = _dechunk(body)
    return status, headers, body


def _dechunk(body: bytes) -> bytes:
    out, rest = [], body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out.append(rest[:size])
        rest = rest[size + 2:]
    return b"".join(out)
