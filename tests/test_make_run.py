"""`make run` on embedded defaults: the API and the admin login answer, Ctrl-C stops everything,
and the data survives a restart, the local chain's included: balances, history, TVL and sequence
numbers agree after it, with no mismatch. A chain that cannot be restored gives a fresh ledger,
said out loud, never a mix."""
import base64
import json
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


TOTP_STEP_SECONDS = 30
_last_totp_step = [-1]


def totp_code(secret: str) -> str:
    """What the authenticator app shows for the printed secret. A code is accepted once, and the
    next step's code is accepted too: each sign-in uses a step later than the last one used."""
    from django_otp.oath import totp

    while int(time.time() // TOTP_STEP_SECONDS) + 1 <= _last_totp_step[0]:
        time.sleep(1)
    step = int(time.time() // TOTP_STEP_SECONDS)
    drift = 0 if step > _last_totp_step[0] else 1
    _last_totp_step[0] = step + drift
    return f"{totp(base64.b32decode(secret), drift=drift):06d}"


def admin_login(base: str, login: tuple[str, str], *, with_code: bool = True) -> tuple[int, str]:
    password, secret = login
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/admin/login/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    fields = {"username": "admin", "password": password, "csrfmiddlewaretoken": token, "next": "/admin/"}
    if with_code:
        fields["otp_token"] = totp_code(secret)
    form = urllib.parse.urlencode(fields).encode()
    response = opener.open(urllib.request.Request(f"{base}/admin/login/", data=form,
                                                  headers={"Referer": f"{base}/admin/login/"}))
    return response.status, response.geturl()


def api(base: str, path: str, *, key: str | None = None, body: dict | None = None):
    """(status, JSON answer)."""
    headers = {"Content-Type": "application/json"} | ({"X-API-Key": key} if key else {})
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base}{path}", data=data, headers=headers, method="POST" if body else "GET")
    try:
        with urllib.request.urlopen(request, timeout=90) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_for(predicate, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    pytest.fail("timed out")


LEDGER_REPORT = """
import json
from monitoring.models import IndexedEvent
from monitoring.services.balance_tracker import BalanceTracker
from vaults.models import AuditTrail, Transaction
# Vault program v2 numbers a vault's events from (generation << 20) + 1: report them within it.
within = lambda seqs: [seq % (1 << 20) for seq in seqs]
print(json.dumps({
    "seqs": within(Transaction.objects.order_by("event_seq").values_list("event_seq", flat=True)),
    "announced": within(IndexedEvent.objects.filter(announced=True).order_by("seq").values_list("seq", flat=True)),
    "reconciliation": [(log.status, int(log.difference)) for log in BalanceTracker().reconcile_all()],
    "alerts": list(AuditTrail.objects.filter(action__startswith="alert.").values_list("action", flat=True)),
}))
"""


def ledger_report(data_dir: Path) -> dict:
    """Reconciliation and the stored sequence numbers, from beside the running system (the
    embedded services' addresses are in DATA_DIR/services.json)."""
    services = json.loads((data_dir / "services.json").read_text())
    env = {**{k: v for k, v in os.environ.items() if k not in {"RPC_URL", "DJANGO_SETTINGS_MODULE"}},
           "DJANGO_SETTINGS_MODULE": "vaultsite.settings.dev", "LOG_LEVEL": "ERROR",
           **{k: v for k, v in services.items() if v}}
    out = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "manage.py", "shell", "-c", LEDGER_REPORT],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_make_run_serves_keeps_its_ledger_and_chain_across_restarts_and_never_mixes_two(tmp_path):
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
        # Authenticated by the dev API key, then validated.
        assert api(base, "/vault/initialize", key=api_key, body={"user": "bad"})[0] == 400
        owner = json.loads((tmp_path / "localnet.json").read_text())["wallets"][0]["pubkey"]
        assert api(base, "/vault/initialize", key=api_key, body={"user": owner})[0] == 200
        assert api(base, "/vault/deposit", key=api_key, body={"user": owner, "amount": 1_000_000})[0] == 200
        wait_for(lambda: ledger_report(tmp_path)["announced"] == [1, 2])  # the indexer has them too
    finally:
        stop(process, output)
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "the web server still listens"

    # Restart: the dev API key is reused only if its row is still in PostgreSQL, so an equal key
    # proves the data survived; the chain is the one saved at the clean stop.
    process, second_password, second_key, output = start(tmp_path, port)
    try:
        assert second_password == password and second_key == api_key
        status, landed = admin_login(base, password)
        assert status == 200 and landed.rstrip("/").endswith("/admin")
        assert "local chain restored" in "".join(output)
        assert api(base, f"/vault/balance/{owner}")[1]["total_balance"] == 1_000_000
        assert api(base, "/vault/tvl")[1]["total_value_locked"] == 1_000_000
        assert api(base, "/vault/deposit", key=api_key, body={"user": owner, "amount": 2_000_000})[0] == 200
        balance = api(base, f"/vault/balance/{owner}")[1]
        assert (balance["total_balance"], balance["total_deposited"]) == (3_000_000, 3_000_000)
        history = api(base, f"/vault/transactions/{owner}")[1]
        assert [(t["transaction_type"], t["amount"]) for t in history] == [
            ("deposit", 2_000_000), ("deposit", 1_000_000), ("initialize", 0)]
        tvl = api(base, "/vault/tvl")[1]
        assert (tvl["total_value_locked"], tvl["total_vaults"]) == (3_000_000, 1)
        report = wait_for(lambda: (r := ledger_report(tmp_path))["announced"] == [1, 2, 3] and r)
        assert report["seqs"] == [1, 2, 3]
        assert report["reconciliation"] == [["matched", 0]] and report["alerts"] == []
    finally:
        stop(process, output)

    # A saved chain that cannot be loaded: said, and a fresh ledger for the fresh chain.
    (tmp_path / "localnet-state.json").write_text("{}")
    process, _, api_key, output = start(tmp_path, port)
    try:
        text = "".join(output)
        assert "could not be restored" in text and "starting a fresh ledger" in text
        assert api(base, f"/vault/balance/{owner}")[0] == 404
        assert api(base, f"/vault/transactions/{owner}")[0] == 404
        assert api(base, "/vault/tvl")[1]["total_value_locked"] == 0
        status, landed = admin_login(base, password)
        assert status == 200 and landed.rstrip("/").endswith("/admin")  # staff logins are kept
    finally:
        stop(process, output)
