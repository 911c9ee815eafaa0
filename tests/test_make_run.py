"""`make run` on embedded defaults: the API and the admin login answer, Ctrl-C stops everything,
and the data survives a restart."""
import base64
import os
import re
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 300  # includes creating the venv on a fresh clone


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(data_dir: Path, port: int):
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "REDIS_URL", "RPC_URL", "DJANGO_SETTINGS_MODULE", "LOCALNET_FILE"}}
    env.update(DATA_DIR=str(data_dir), PORT=str(port))
    process = subprocess.Popen(["make", "--no-print-directory", "run"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    output = []
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        output.append(line)
        if line.startswith("[run] ready"):
            text = "".join(output)
            password = re.search(r"login: admin / (\S+)", text).group(1)
            totp_secret = re.search(r"2FA \(TOTP\)\s+secret (\S+)", text).group(1)
            api_key = re.search(r"API key\s+(\S+)", text).group(1)
            return process, (password, totp_secret), api_key, output
    process.kill()
    pytest.fail("make run did not become ready:\n" + "".join(output))


def stop(process, output):
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
    rest, _ = process.communicate(timeout=90)
    output.append(rest)
    assert "[run] stopped" in "".join(output), "".join(output)


def totp_code(secret: str, steps_ahead: int = 0) -> str:
    """What the authenticator app shows for the printed secret (a code is accepted once; the
    next step's code is accepted too)."""
    from django_otp.oath import totp

    return f"{totp(base64.b32decode(secret), drift=steps_ahead):06d}"


def admin_login(base: str, login: tuple[str, str], *, steps_ahead: int = 0, with_code: bool = True) -> tuple[int, str]:
    password, secret = login
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/admin/login/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    fields = {"username": "admin", "password": password, "csrfmiddlewaretoken": token, "next": "/admin/"}
    if with_code:
        fields["otp_token"] = totp_code(secret, steps_ahead)
    form = urllib.parse.urlencode(fields).encode()
    response = opener.open(urllib.request.Request(f"{base}/admin/login/", data=form,
                                                  headers={"Referer": f"{base}/admin/login/"}))
    return response.status, response.geturl()


def test_make_run_serves_api_and_admin_and_stops_cleanly(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process, password, api_key, output = start(tmp_path, port)
    try:
        with urllib.request.urlopen(f"{base}/vault/tvl") as response:
            assert response.status == 200 and b"total_value_locked" in response.read()
        with urllib.request.urlopen(f"{base}/health") as response:
            assert b'"rpc":true' in response.read()
        status, landed = admin_login(base, password, with_code=False)
        assert landed.endswith("/admin/login/"), "signed in without the authenticator code"
        status, landed = admin_login(base, password)
        assert status == 200 and landed.rstrip("/").endswith("/admin")
        request = urllib.request.Request(f"{base}/vault/initialize", data=b'{"user": "bad"}', method="POST",
                                         headers={"Content-Type": "application/json", "X-API-Key": api_key})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request)
        assert refused.value.code == 400  # authenticated by the dev API key, then validated
    finally:
        stop(process, output)
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "the web server still listens"

    # Restart: the dev API key is reused only if its row is still in PostgreSQL, so an equal key
    # proves the data survived.
    process, second_password, second_key, output = start(tmp_path, port)
    try:
        assert second_password == password and second_key == api_key
        status, landed = admin_login(base, password, steps_ahead=1)
        assert status == 200 and landed.rstrip("/").endswith("/admin")
    finally:
        stop(process, output)
