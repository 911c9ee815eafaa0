#!/usr/bin/env python
"""Lag from confirmation to database row and to WebSocket message, across N vault events.

Starts the whole system with `scripts/run.py` (local validator, web, indexer, worker, beat) on a
temporary data directory, the machine's PostgreSQL (a fresh database) and Redis, then:

1. opens a real websocket to /ws, authenticates with the dev API key and subscribes to the dev
   wallets' streams;
2. sends N transactions straight to the validator, signed by the dev wallets as any wallet would
   (the back office does not see them until the indexer does): by default a mix of deposits,
   withdrawals, and locks and unlocks through the position manager (CPI), each transaction
   signed when it is sent, with a blockhash at most a second old;
3. polls getSignatureStatuses every POLL_SECONDS and notes when each becomes `confirmed`;
4. reads each event's `transactions` row (`created_at`, written in the indexer's database
   transaction) and the arrival time of its message (`deposit`, `withdrawal`, `lock`, `unlock`)
   on the websocket.

All clocks are this machine's. A confirmation time is known to within POLL_SECONDS, so a lag
below that can read as slightly negative. Prints p50/p90/p99/max and updates docs/benchmarks.md.

    make bench-lag                 # 500 events
    python scripts/bench_lag.py --events 50 [--mix deposits]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
from collections import Counter
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
POLL_SECONDS = 0.01
SENDER_THREADS = 8
MAX_WAITING_SENDS = 2 * SENDER_THREADS  # more waiting on the validator: it sets the pace
BLOCKHASH_MAX_AGE_SECONDS = 1.0
EVENT_KINDS = {"all": ("deposit", "withdrawal", "lock", "unlock"), "deposits": ("deposit",)}
SETUP_DEPOSIT = 100_000_000  # per wallet, before the load: what the withdrawals and locks draw on
SETUP_LOCK = 50_000_000  # per wallet: what the unlocks release
BENCH_DATABASE = "cv_bench_lag"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_system(data_dir: Path, port: int, env: dict) -> subprocess.Popen:
    log_path = data_dir / "system.log"
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "run.py")], cwd=ROOT, env=env,
        stdout=log_path.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if "[run] ready" in log_path.read_text():
            print(f"system up (log: {log_path})", flush=True)
            return process
        time.sleep(0.5)
    process.kill()
    raise SystemExit(f"the system did not start; see {log_path}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarize(name: str, lags: list[float]) -> str:
    ms = [lag * 1000 for lag in lags]
    return (f"| {name} | {len(ms)} | {percentile(ms, 0.5):,.0f} | {percentile(ms, 0.9):,.0f} | "
            f"{percentile(ms, 0.99):,.0f} | {max(ms):,.0f} | {statistics.mean(ms):,.0f} |")


async def listen(url: str, api_key: str, wallets: list[str], arrivals: dict, ready, stop):
    """Subscribes to the wallets' streams and notes when each event's message arrives."""
    from monitoring.ws_client import StreamClient

    async with StreamClient(url, api_key=api_key) as client:
        for wallet in wallets:
            await client.subscribe(user=wallet)
        ready.set()
        while not stop.is_set():
            try:
                received = await client.receive(timeout=0.5)
            except asyncio.TimeoutError:
                continue
            message = received.message
            if message.get("type") in EVENT_KINDS["all"] and message.get("signature"):
                arrivals.setdefault(message["signature"], received.received_ns / 1e9)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", "--deposits", dest="events", type=int, default=500)
    parser.add_argument("--rate", type=float, default=25.0, help="transactions sent per second")
    parser.add_argument("--mix", choices=sorted(EVENT_KINDS), default="all",
                        help="all: deposits, withdrawals, locks and unlocks in turn; deposits: deposits only")
    parser.add_argument("--update", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--section", default="indexer-lag",
                        help="the marked section of --update to replace (empty: leave the file alone)")
    parser.add_argument("--out", type=Path, help="also write the figures here (JSON), as `make bench` does")
    parser.add_argument("--wallets", type=int, default=3,
                        help="dev wallets sending (each its own vault): fewer deposits writing the same vault at once")
    args = parser.parse_args()

    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {BENCH_DATABASE}")
    data_dir = Path(tempfile.mkdtemp(prefix="bench-lag-"))
    port = free_port()
    database_url = f"postgresql://postgres@127.0.0.1:5432/{BENCH_DATABASE}"
    env = {**os.environ, "DATA_DIR": str(data_dir), "PORT": str(port), "DATABASE_URL": database_url,
           "REDIS_URL": "redis://127.0.0.1:6379/14", "DJANGO_SETTINGS_MODULE": "vaultsite.settings.dev",
           "LOCALNET_WALLETS": str(args.wallets),
           # The listener subscribes to every wallet's stream at once.
           "WS_SUBSCRIBE_BURST": str(max(20, args.wallets + 5))}
    env.pop("RPC_URL", None)
    system = start_system(data_dir, port, env)
    try:
        return run(args, data_dir, port, env, database_url)
    finally:
        os.killpg(system.pid, signal.SIGINT)
        try:
            system.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(system.pid, signal.SIGKILL)


def run(args, data_dir: Path, port: int, env: dict, database_url: str) -> int:
    localnet = json.loads((data_dir / "localnet.json").read_text())
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")})
    # As the system's own processes do: the dev settings read the validator's URLs and mint here.
    os.environ.pop("RPC_URL", None)
    os.environ["LOCALNET_FILE"] = str(data_dir / "localnet.json")
    import django

    django.setup()
    from solders.keypair import Keypair
    from solders.message import MessageV0
    from solders.transaction import VersionedTransaction

    from vaults.chain.client import get_chain_client
    from vaults.models import Transaction

    chain = get_chain_client()
    wallets = [(Keypair.from_bytes(bytes(w["secret_key"])), w["token_account"]) for w in localnet["wallets"]]
    api_key = (data_dir / "dev-api-key").read_text().strip()

    # Vaults first (through the API's dev signer, as a user of make run would).
    import urllib.request

    for keypair, _ in wallets:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/vault/initialize", method="POST",
            data=json.dumps({"user": str(keypair.pubkey())}).encode(),
            headers={"Content-Type": "application/json", "X-API-Key": api_key},
        )
        urllib.request.urlopen(request, timeout=60).read()
    kinds = EVENT_KINDS[args.mix]
    builders = event_builders(chain, wallets, kinds)

    arrivals: dict[str, float] = {}
    loop = asyncio.new_event_loop()
    ready, stop = threading.Event(), threading.Event()
    listener = threading.Thread(target=lambda: loop.run_until_complete(
        listen(f"ws://127.0.0.1:{port}/ws", api_key, [str(k.pubkey()) for k, _ in wallets], arrivals, ready, stop)), daemon=True)
    listener.start()
    while not ready.is_set():
        time.sleep(0.05)

    confirmed_at: dict[str, float] = {}
    failed: list[str] = []
    pending: list[str] = []
    lock = threading.Lock()
    sending_done = threading.Event()

    def poll_confirmations():
        while not (sending_done.is_set() and not pending):
            with lock:
                batch = list(pending)
            if batch:
                # getSignatureStatuses takes at most 256 signatures a call.
                statuses = [status for start in range(0, len(batch), 256)
                            for status in chain.get_signature_statuses(batch[start:start + 256])]
                now = time.time()
                with lock:
                    for signature, status in zip(batch, statuses):
                        if status is not None and status.confirmation_status in ("confirmed", "finalized"):
                            (failed.append(signature) if status.failed else confirmed_at.setdefault(signature, now))
                            pending.remove(signature)
            time.sleep(POLL_SECONDS)

    poller = threading.Thread(target=poll_confirmations, daemon=True)
    poller.start()
    answered = [0]

    blockhash = {"value": chain.get_latest_blockhash()[0], "at": time.monotonic()}

    def fresh_blockhash():
        with lock:
            if time.monotonic() - blockhash["at"] > BLOCKHASH_MAX_AGE_SECONDS:
                blockhash["value"], blockhash["at"] = chain.get_latest_blockhash()[0], time.monotonic()
            return blockhash["value"]

    def send(i):
        """Event i, signed now: a transaction built when it was scheduled would wait behind the
        others for the validator, and its blockhash could expire on the way (then it never lands)."""
        try:
            keypair, instruction = builders[i % len(builders)](1_000 + i)  # a distinct amount: a unique transaction
            message = MessageV0.try_compile(keypair.pubkey(), [instruction], [], fresh_blockhash())
            signature = chain.send(VersionedTransaction(message, [keypair]))
            with lock:
                pending.append(signature)
        finally:
            with lock:
                answered[0] += 1

    # Sent from a few threads, each transaction at its scheduled time: one sender waiting on the
    # validator's answer cannot keep up with more than a few dozen a second. When the validator
    # answers slower than the rate, it sets the pace (a few sends wait, never a growing queue)
    # until the run's time is up: the indexer then runs for the whole time at the most the
    # validator takes.
    senders = ThreadPoolExecutor(SENDER_THREADS)
    sent = []
    started = time.monotonic()
    deadline = started + args.events / args.rate
    paced = False
    for i in range(args.events):
        while len(sent) - answered[0] >= MAX_WAITING_SENDS and time.monotonic() < deadline:
            paced = True
            time.sleep(0.005)
        if time.monotonic() >= deadline:
            break
        sent.append(senders.submit(send, i))
        time.sleep(max(0.0, started + (i + 1) / args.rate - time.monotonic()))
    if paced:
        print(f"the validator took fewer than {args.rate:g} sends/s and set the pace: {len(sent)} of {args.events} "
              f"sent in {time.monotonic() - started:.0f} s", flush=True)
    senders.shutdown(wait=True, cancel_futures=True)
    send_seconds = time.monotonic() - started
    refused = [future.exception() for future in sent if not future.cancelled() and future.exception() is not None]
    if refused:
        print(f"{len(refused)} transactions were not accepted by the validator; the first: {refused[0]!r}", flush=True)
    sending_done.set()
    poller.join(timeout=120)
    if failed:
        print(f"{len(failed)} transactions failed on chain; the first one's logs:", *chain.get_transaction(failed[0]).logs[-6:], sep="\n  ")
    deadline = time.time() + 120
    while time.time() < deadline:
        if len(confirmed_at.keys() & arrivals.keys()) >= len(confirmed_at) and Transaction.objects.filter(signature__in=list(confirmed_at)).count() >= len(confirmed_at):
            break
        time.sleep(0.5)
    stop.set()
    listener.join(timeout=5)

    stored = Transaction.objects.filter(signature__in=list(confirmed_at))
    rows = dict(stored.values_list("signature", "created_at"))
    doubled = stored.count() - len(rows)
    by_kind = dict(Counter(stored.values_list("transaction_type", flat=True)))
    db_lags = [rows[s].timestamp() - t for s, t in confirmed_at.items() if s in rows]
    ws_lags = [arrivals[s] - t for s, t in confirmed_at.items() if s in arrivals]
    received = len(confirmed_at.keys() & arrivals.keys())  # messages of this run's transactions
    mix = ", ".join(f"{count} {kind}" for kind, count in sorted(by_kind.items()))
    lines = [
        f"{answered[0]} of {args.events} transactions ({'/'.join(kinds)}) sent at {args.rate:g}/s (in {send_seconds:.1f} s: "
        f"{answered[0] / send_seconds:.0f}/s reached); {len(confirmed_at)} confirmed; "
        f"{len(rows)} rows stored ({mix}; {doubled} doubled); {received} messages received. Measured "
        f"{datetime.now(tz=timezone.utc):%Y-%m-%d} with `python scripts/bench_lag.py --events {args.events} "
        f"--rate {args.rate:g} --mix {args.mix}`.",
        "",
        "| lag from confirmation to | samples | p50 ms | p90 ms | p99 ms | max ms | mean ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
        summarize("database row (`transactions.created_at`)", db_lags) if db_lags else "| database row | 0 | | | | | |",
        summarize("WebSocket message", ws_lags) if ws_lags else "| WebSocket message | 0 | | | | | |",
    ]
    report = "\n".join(lines)
    print(report)
    if args.section:
        update_section(args.update, args.section, report)
    missing = len(confirmed_at) - min(len(rows), received)
    if args.out:
        def figures(lags):
            ms = [lag * 1000 for lag in lags]
            return {"samples": len(ms), "p50_ms": percentile(ms, 0.5), "p90_ms": percentile(ms, 0.9),
                    "p99_ms": percentile(ms, 0.99), "max_ms": max(ms)} if ms else None

        args.out.write_text(json.dumps({
            "events": args.events, "mix": list(kinds), "by_kind": by_kind, "sent": answered[0], "rate": args.rate,
            "send_seconds": send_seconds,
            "confirmed": len(confirmed_at), "failed": len(failed), "rows": len(rows), "doubled": doubled,
            "messages": received, "database": figures(db_lags), "websocket": figures(ws_lags),
        }, indent=2))
    # Success: everything the validator confirmed was stored once and announced (what it took is
    # its own pace, reported above).
    return 0 if missing == 0 and doubled == 0 and not failed and len(confirmed_at) == answered[0] else 1


def event_builders(chain, wallets, kinds) -> list:
    """One builder per (wallet, kind), in turn: amount -> (signer, instruction). Each wallet's vault
    first gets SETUP_DEPOSIT, SETUP_LOCK of it locked through the position manager (its owner's
    approval and margin account with it): what withdrawals, locks and unlocks of a few thousand
    base units then draw on, in whatever order they land."""
    from vaults.services.cpi_manager import CLOSE_POSITION, OPEN_POSITION, CPIManager
    from vaults.services.vault_manager import VaultManager

    builders = []
    for keypair, token_account in wallets:
        owner = str(keypair.pubkey())
        by_kind = {
            "deposit": lambda amount, k=keypair, t=token_account: chain.deposit_instruction(k.pubkey(), amount, t),
            "withdrawal": lambda amount, k=keypair, t=token_account: chain.withdraw_instruction(k.pubkey(), amount, t),
        }
        if set(kinds) & {"withdrawal", "lock", "unlock"}:
            VaultManager(chain).deposit(owner, SETUP_DEPOSIT)
            manager = CPIManager(chain)
            manager.lock_collateral(owner, SETUP_LOCK)
            for kind, instruction in (("lock", OPEN_POSITION), ("unlock", CLOSE_POSITION)):
                accounts = manager.position_accounts(instruction, owner)
                by_kind[kind] = lambda amount, name=instruction, a=accounts: chain.position_manager_instruction(
                    name, [amount, 0], a)
        builders.append([(keypair, by_kind[kind]) for kind in kinds])
    # Interleaved: wallet 0's first kind, wallet 1's first kind, ..., wallet 0's second kind, ...
    flat = [turn for position in range(len(kinds)) for turn in (per_wallet[position] for per_wallet in builders)]
    return [lambda amount, k=keypair, build=build: (k, build(amount)) for keypair, build in flat]


def update_section(path: Path, key: str, body: str) -> None:
    text = path.read_text()
    begin, end = f"<!-- begin:{key} -->", f"<!-- end:{key} -->"
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{begin}\n{body}\n{end}{tail}")


if __name__ == "__main__":
    sys.exit(main())
