"""/ws fan-out: N clients subscribed to one vault, a burst of deposits published at a fixed rate
the way the indexer publishes them (after each commit: `deposit` + `balance_update`). Measures
publish → client arrival for every (client, message), checks that every client got every
message once and in order, and counts the database transactions idle heartbeats cost.

    python scripts/bench/fanout_bench.py [--code-dir DIR] [--clients 1000] [--deposits 100] [--rate 50]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    HARNESS_ROOT,
    SCRIPTS_DIR,
    code_env,
    database_name,
    flush_redis,
    log,
    machine_load,
    manage,
    percentile,
    process_tree_cpu_seconds,
    recreate_database,
    save_json,
    start_redis,
    start_web,
)

OWNER = "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"


def vault_of(owner: str, code_dir: Path, env: dict) -> str:
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from monitoring.ws_auth import vault_address_of; "
                               f"print(vault_address_of({owner!r}))"],
        cwd=code_dir, env=env, check=True, capture_output=True, text=True).stdout.strip()


def database_transactions(database: str) -> int:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        return admin.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
                             [database]).fetchone()[0]


def start_clients(base: str, clients: int, api_key: str, vault: str, expected: int, out: Path,
                  timeout: float) -> subprocess.Popen:
    ws_url = base.replace("http://", "ws://") + "/ws"
    process = subprocess.Popen(
        ["node", "--experimental-websocket", "--no-warnings", str(SCRIPTS_DIR / "bench" / "ws_clients.js"), ws_url,
         str(clients), api_key, vault, str(expected), str(out), str(timeout)],
        stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline().strip()
    if line != "READY":
        process.kill()
        raise SystemExit(f"the websocket clients did not connect: {line!r}")
    return process


def run_burst(code_dir: Path, env: dict, work: Path, *, database: str, processes: int, clients: int, deposits: int, rate: float,
              api_key: str, vault: str, idle_seconds: float) -> dict:
    server = start_web(code_dir, env, work, processes=processes, name=f"ws-{processes}p-{clients}c")
    out = work / f"arrivals-{processes}p-{clients}c.json"
    published_path = work / f"published-{processes}p-{clients}c.json"
    try:
        connect_started = time.monotonic()
        node = start_clients(server.base, clients, api_key, vault, deposits, out, timeout=180)
        connect_seconds = time.monotonic() - connect_started
        idle = None
        if idle_seconds:
            # Idle clients answering heartbeats (WS_HEARTBEAT_SECONDS=2 here): database work they cause.
            # PostgreSQL publishes an idle session's counters up to 10 s late: let the connect
            # phase's own transactions land first.
            time.sleep(11)
            before = database_transactions(database)
            time.sleep(idle_seconds)
            idle = (database_transactions(database) - before) / idle_seconds
        load = machine_load()
        cpu_before = process_tree_cpu_seconds(server.process.pid)
        subprocess.run([sys.executable, "-m", "bench.publish", "--owner", OWNER, "--vault", vault, "--count",
                        str(deposits), "--rate", str(rate), "--out", str(published_path)],
                       cwd=code_dir, env=env, check=True)
        node.wait(timeout=240)
        cpu_seconds = process_tree_cpu_seconds(server.process.pid) - cpu_before
    finally:
        server.stop()
    published = json.loads(published_path.read_text())
    received = json.loads(out.read_text())
    latencies, complete, doubled, out_of_order = [], 0, 0, 0
    for client in received:
        signatures = [signature for signature, _ in client["deposits"]]
        doubled += len(signatures) - len(set(signatures))
        out_of_order += client["seqs"] != sorted(client["seqs"])
        complete += set(signatures) >= set(published)
        latencies += [at - published[signature] for signature, at in client["deposits"] if signature in published]
    delivered = sum(len(c["deposits"]) for c in received)
    result = {
        "processes": processes, "clients": clients, "deposits": deposits, "rate": rate,
        "messages_published": 2 * deposits, "frames_expected": 2 * deposits * clients,
        "deposit_messages_delivered": delivered, "deposit_messages_expected": deposits * clients,
        "clients_complete": complete, "doubled": doubled, "clients_out_of_order": out_of_order,
        "p50_ms": percentile(latencies, 0.5), "p90_ms": percentile(latencies, 0.9),
        "p99_ms": percentile(latencies, 0.99), "max_ms": max(latencies) if latencies else None,
        "idle_db_transactions_per_s": idle,
        # Load-independent: the web server's CPU time for the whole burst, per frame it had to send.
        "server_cpu_seconds": cpu_seconds, "server_cpu_us_per_frame": cpu_seconds * 1e6 / (2 * deposits * clients), "connect_seconds": connect_seconds, "load": load,
    }
    log(f"{processes} process(es), {clients} clients, {deposits} deposits at {rate:g}/s: "
        f"{delivered}/{deposits * clients} delivered, {complete} clients complete, doubled {doubled}, "
        f"p50 {result['p50_ms']:.0f} ms p99 {result['p99_ms']:.0f} ms max {result['max_ms']:.0f} ms; "
        f"server CPU {result['server_cpu_us_per_frame']:.0f} µs/frame; "
        f"idle db tx/s {idle if idle is None else round(idle, 1)}; {load}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--code-dir", type=Path, default=HARNESS_ROOT)
    parser.add_argument("--label", default="after")
    parser.add_argument("--clients", default="1000")
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--deposits", type=int, default=100)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--idle-seconds", type=float, default=10)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    code_dir = args.code_dir.resolve()
    work = Path(tempfile.mkdtemp(prefix=f"bench-ws-{args.label}-"))
    log(f"{args.label}: code {code_dir}, work {work}, {machine_load()}")
    start_redis(work)
    database = database_name("ws", args.label)
    database_url = recreate_database(database)
    flush_redis()
    env = code_env(code_dir, DATABASE_URL=database_url, RPC_URL="http://127.0.0.1:9", WS_HEARTBEAT_SECONDS=2,
                   WS_IDLE_TIMEOUT_SECONDS=60, WS_SUBSCRIBE_BURST=100)
    manage(code_dir, env, "migrate", "--noinput")
    api_key = subprocess.run([sys.executable, "manage.py", "create_api_key", "bench"], cwd=code_dir, env=env,
                             check=True, capture_output=True, text=True).stdout.strip()
    vault = vault_of(OWNER, code_dir, env)
    runs = []
    for processes in [int(p) for p in args.processes.split(",")]:
        for clients in [int(c) for c in args.clients.split(",")]:
            try:
                runs.append(run_burst(code_dir, env, work, database=database, processes=processes, clients=clients,
                                      deposits=args.deposits, rate=args.rate, api_key=api_key, vault=vault,
                                      idle_seconds=args.idle_seconds))
            except SystemExit as reason:
                log(f"{processes} process(es), {clients} clients: {reason}")
    out = args.out or work / "results.json"
    save_json(out, {"label": args.label, "code_dir": str(code_dir), "runs": runs})
    log(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
