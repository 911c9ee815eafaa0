"""Reconciliation of N vaults (default 100,000) that all match the chain: wall time, peak RSS,
getMultipleAccounts calls, and what one run adds to `reconciliation_logs`.

    python scripts/bench/reconcile_bench.py [--code-dir DIR] [--before OLD_DIR] [--vaults 100000] [--runs 2]

With --before, the older code reconciles the same database and chain in the same session (one
seeding for both; the older code runs on the newer schema, which only adds tables, a nullable
column and indexes), run for run alternately, so their ratio is taken under the same load.
Seeding is the slow part: the validator takes ~1-2 ms of CPU per account write.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    HARNESS_ROOT,
    code_env,
    database_name,
    flush_redis,
    log,
    machine_load,
    manage,
    record_chain,
    recreate_database,
    save_json,
    start_localnet,
    start_redis,
)



def in_code(code_dir: Path, env: dict, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", *args], cwd=code_dir, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--code-dir", type=Path, default=HARNESS_ROOT)
    parser.add_argument("--label", default="after")
    parser.add_argument("--vaults", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--before", type=Path, help="an older checkout to run on the same data")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    code_dir = args.code_dir.resolve()
    work = Path(tempfile.mkdtemp(prefix=f"bench-reconcile-{args.label}-"))
    log(f"{args.label}: code {code_dir}, work {work}, {machine_load()}")
    start_redis(work)
    database = database_name("reconcile", args.label)
    database_url = recreate_database(database)
    flush_redis()
    localnet = start_localnet(code_dir, work, wallets=1)
    try:
        env = code_env(code_dir, DATABASE_URL=database_url, RPC_URL=localnet.rpc_url, WS_URL=localnet.ws_url,
                       USDT_MINT=localnet.description["usdt_mint"])
        manage(code_dir, env, "migrate", "--noinput")
        record_chain(code_dir, env)
        subprocess.run([sys.executable, "-m", "bench.seed", "chain-vaults", "--localnet-file",
                        str(work / "localnet.json")], cwd=code_dir, env=env, check=True, capture_output=True)
        seeded = in_code(code_dir, env, "bench.reconcile", "seed", "--vaults", str(args.vaults),
                         "--localnet-file", str(work / "localnet.json"))
        log(f"seeded {seeded['vaults']} vaults in {seeded['seconds']} s")
        runs = []
        codes = ([("before", args.before.resolve())] if args.before else []) + [(args.label, code_dir)]
        for index in range(args.runs):
            for label, code in codes:
                result = in_code(code, code_env(code, DATABASE_URL=database_url, RPC_URL=localnet.rpc_url,
                                                WS_URL=localnet.ws_url, USDT_MINT=localnet.description["usdt_mint"]),
                                 "bench.reconcile", "run")
                result.update(code=label, load=machine_load())
                runs.append(result)
                log(f"{label} run {index + 1}: {result['vaults']} vaults in {result['seconds']} s, "
                    f"{result['get_multiple_accounts_calls']} getMultipleAccounts, peak RSS {result['rss_peak_mb']} MB "
                    f"(process before the run {result['rss_before_mb']} MB), matched {result['matched']}, "
                    f"+{result['log_rows_added']} log rows / {result['log_bytes_added'] / 2**20:.1f} MB; "
                    f"{result['load']}")
    finally:
        localnet.stop()
    out = args.out or work / "results.json"
    save_json(out, {"label": args.label, "code_dir": str(code_dir), "seeded": seeded, "runs": runs})
    log(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
