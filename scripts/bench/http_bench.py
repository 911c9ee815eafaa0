"""HTTP reads against the bare JsonResponse view of the same server: cached and uncached balance,
TVL, history `?limit=100` (first page and, where the code has one, the next page by cursor), at
1k..1M rows in `transactions`; latency against load; throughput against web processes.

    python scripts/bench/http_bench.py [--code-dir DIR] [--label after] [--out results.json] [--quick]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import urllib.request
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
    paired,
    record_chain,
    recreate_database,
    save_json,
    start_localnet,
    start_redis,
    start_web,
    wrk,
)

TABLE_SIZES = [1_000, 10_000, 100_000, 1_000_000]


def seed(code_dir: Path, env: dict, *args: str) -> str:
    return subprocess.run([sys.executable, "-m", "bench.seed", *args], cwd=code_dir, env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


def next_cursor(base: str, path: str) -> str | None:
    with urllib.request.urlopen(base + path, timeout=10) as response:
        body = json.loads(response.read())
        assert isinstance(body, list) and len(body) == 100, f"{path}: {len(body)} rows"
        return response.headers.get("X-Next-Cursor")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--code-dir", type=Path, default=HARNESS_ROOT)
    parser.add_argument("--label", default="after")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--sizes", default=",".join(map(str, TABLE_SIZES)))
    parser.add_argument("--processes", default="1,2", help="web process counts for the scaling figure")
    args = parser.parse_args()
    code_dir = args.code_dir.resolve()
    work = Path(tempfile.mkdtemp(prefix=f"bench-http-{args.label}-"))
    results: dict = {"label": args.label, "code_dir": str(code_dir), "load_start": machine_load()}
    log(f"{args.label}: code {code_dir}, work {work}, {machine_load()}")

    start_redis(work)
    database = database_name("http", args.label)
    database_url = recreate_database(database)
    flush_redis()
    localnet = start_localnet(code_dir, work)
    servers = []
    try:
        env = code_env(code_dir, DATABASE_URL=database_url, RPC_URL=localnet.rpc_url, WS_URL=localnet.ws_url,
                       USDT_MINT=localnet.description["usdt_mint"])
        manage(code_dir, env, "migrate", "--noinput")
        record_chain(code_dir, env)
        wallets = json.loads(seed(code_dir, env, "chain-vaults", "--localnet-file", str(work / "localnet.json")))
        hot = wallets[0]
        sizes = [int(s) for s in args.sizes.split(",")]
        seed(code_dir, env, "history", "--hot", hot, "--rows", str(sizes[0]))
        options = {"seconds": args.seconds, "connections": args.connections}

        # 1. Cached balance, TVL and history (first and next page) against the bare view.
        server = start_web(code_dir, env, work)
        servers.append(server)
        history_path = f"/vault/transactions/{hot}?limit=100"
        endpoints = {"balance_cached": f"/vault/balance/{hot}", "tvl": "/vault/tvl"}
        ratios = {}
        for name, path in endpoints.items():
            bare, measured = paired(server.base, path, **options)
            ratios[name] = {"bare": bare, "measured": measured, "ratio": measured.rps / bare.rps}
            log(f"{name}: {measured.rps:.0f} rps vs bare {bare.rps:.0f}: {measured.rps / bare.rps:.2f} "
                f"(errors {measured.errors}) {measured.load}")

        # 2. History at each table size (the hot vault has the same 500 rows at every size).
        by_size = []
        for size in sizes:
            count = seed(code_dir, env, "history", "--hot", hot, "--rows", str(size))
            cursor = next_cursor(server.base, history_path)
            bare, first = paired(server.base, history_path, **options)
            row = {"rows": int(count), "bare": bare, "first_page": first, "ratio": first.rps / bare.rps}
            if cursor:
                page2 = wrk(server.base, f"{history_path}&cursor={cursor}", **options)
                row.update(next_page=page2, next_page_ratio=page2.rps / bare.rps)
            by_size.append(row)
            log(f"history at {count} rows: {first.rps:.0f} rps vs bare {bare.rps:.0f}: {first.rps / bare.rps:.2f}"
                + (f"; next page {row['next_page_ratio']:.2f}" if cursor else "") + f" {first.load}")
        results["history_by_size"] = by_size
        ratios["history_limit_100"] = {"bare": by_size[-1]["bare"], "measured": by_size[-1]["first_page"],
                                       "ratio": by_size[-1]["ratio"], "rows": by_size[-1]["rows"]}

        # 3. Latency against load (closed loop: more connections, more offered load).
        curve = []
        for connections in (1, 4, 16, 64):
            for name, path in (("bare", "/bench/bare"), ("balance_cached", f"/vault/balance/{hot}"),
                               ("history_limit_100", history_path)):
                measured = wrk(server.base, path, connections=connections, seconds=max(2.0, args.seconds / 2))
                curve.append({"name": name, **measured.__dict__})
        results["latency_vs_load"] = curve
        server.stop()
        servers.remove(server)

        # 4. Uncached balance: every request reads the chain.
        server = start_web(code_dir, {**env, "BALANCE_CACHE_SECONDS": "0"}, work, name="web-uncached")
        servers.append(server)
        bare, measured = paired(server.base, f"/vault/balance/{hot}", **options)
        ratios["balance_uncached"] = {"bare": bare, "measured": measured, "ratio": measured.rps / bare.rps}
        log(f"balance_uncached: {measured.rps:.0f} rps vs bare {bare.rps:.0f}: {measured.rps / bare.rps:.2f} "
            f"{measured.load}")
        server.stop()
        servers.remove(server)
        results["ratios"] = ratios

        # 5. Throughput against web processes behind one port.
        scaling = []
        for processes in [int(p) for p in args.processes.split(",")]:
            try:
                server = start_web(code_dir, env, work, processes=processes, name=f"web-{processes}")
            except SystemExit as reason:
                log(f"{processes} web processes: {reason}")
                continue
            servers.append(server)
            for name, path in (("bare", "/bench/bare"), ("balance_cached", f"/vault/balance/{hot}"),
                               ("history_limit_100", history_path)):
                measured = wrk(server.base, path, connections=32, seconds=args.seconds, threads=2)
                scaling.append({"processes": processes, "name": name, **measured.__dict__})
                log(f"{processes} process(es) {name}: {measured.rps:.0f} rps p99 {measured.p99_ms:.1f} ms")
            server.stop()
            servers.remove(server)
        results["process_scaling"] = scaling
    finally:
        for server in servers:
            server.stop()
        localnet.stop()
    results["load_end"] = machine_load()
    out = args.out or work / "results.json"
    save_json(out, results)
    log(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
