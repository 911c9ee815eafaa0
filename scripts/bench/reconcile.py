"""Reconciliation at scale, run inside the code under test (`python -m bench.reconcile ...` with
the bench environment).

    python -m bench.reconcile seed --vaults 100000 --localnet-file localnet.json
    python -m bench.reconcile run          # one full run; prints a JSON line of figures

`seed` clones one real vault (made by `bench.seed chain-vaults`) into N vaults on the local
validator (surfnet_setAccount: the vault account at each owner's PDA and its token account, the
same bytes with the owner, token account and balances changed) and writes the matching ledger:
a `vaults` row and two `transactions` rows (initialize, deposit) each. So every vault matches,
and the run does the work of a healthy exchange: every vault read from the database and the
chain, compared, and (where the code logs every vault) logged.

`run` measures one `BalanceTracker().reconcile_all()`: wall time, peak RSS of this process
(ru_maxrss: the baseline of a Django process is in `rss_before_mb`), getMultipleAccounts calls,
rows and bytes added to `reconciliation_logs` (and `reconciliation_runs` where it exists).
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import os
import resource
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import django

BALANCE = 1_000_000
SET_ACCOUNT_BATCH = 200


def _rpc(url: str, payload):
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def _template(chain, localnet_file: str):
    """A real vault's account bytes and its token account's, from the validator."""
    from solders.pubkey import Pubkey

    description = json.loads(open(localnet_file).read())
    owner = Pubkey.from_string(description["wallets"][0]["pubkey"])
    accounts = {}
    for name, address in (("vault", chain.vault_address(owner)), ("token", chain.vault_token_address(owner))):
        answer = _rpc(chain.rpc_url, {"jsonrpc": "2.0", "id": 1, "method": "getAccountInfo",
                                      "params": [str(address), {"encoding": "base64"}]})["result"]["value"]
        accounts[name] = (base64.b64decode(answer["data"][0]), answer["owner"], answer["lamports"])
    return accounts


def seed(vaults: int, localnet_file: str) -> None:
    import struct

    from django.db import connection
    from solders.keypair import Keypair

    from vaults.chain.client import get_chain_client

    chain = get_chain_client()
    template = _template(chain, localnet_file)
    vault_data, vault_owner, vault_lamports = template["vault"]
    token_data, token_owner, token_lamports = template["token"]
    (event_seq,) = struct.unpack_from("<Q", vault_data, 72 + 48 + 1)
    started = time.monotonic()
    created_at = int(time.time()) - 86_400
    rows, chain_accounts = io.StringIO(), []
    for _ in range(vaults):
        owner = Keypair().pubkey()
        vault, token = chain.vault_address(owner), chain.vault_token_address(owner)
        data = bytearray(vault_data)
        data[8:40], data[40:72] = bytes(owner), bytes(token)
        # total, locked, available, deposited, withdrawn, created_at; the rest (bump, event_seq,
        # transfers, generation) stays the template's: a vault after its initialize and one deposit.
        struct.pack_into("<QQQQQq", data, 72, BALANCE, 0, BALANCE, BALANCE, 0, created_at)
        token_bytes = bytearray(token_data)
        struct.pack_into("<Q", token_bytes, 64, BALANCE)
        chain_accounts.append((str(vault), data, vault_owner, vault_lamports))
        chain_accounts.append((str(token), token_bytes, token_owner, token_lamports))
        rows.write(f"{owner}\t{vault}\t{token}\t{BALANCE}\t0\t{BALANCE}\t{BALANCE}\t0\t{event_seq}\t{created_at}\t0\tf\t"
                   f"now\tnow\n")

    # One call per account (the validator takes no JSON-RPC batches), on keep-alive connections.
    import threading

    import httpx

    local = threading.local()

    def set_accounts(batch):
        session = getattr(local, "session", None) or httpx.Client()
        local.session = session
        for address, data, owner, lamports in batch:
            answer = session.post(chain.rpc_url, json={
                "jsonrpc": "2.0", "id": 1, "method": "surfnet_setAccount",
                "params": [address, {"lamports": lamports, "data": data.hex(), "owner": owner, "executable": False}]},
                timeout=60).json()
            if "error" in answer:
                raise SystemExit(f"surfnet_setAccount failed: {answer['error']}")

    batches = [chain_accounts[i:i + SET_ACCOUNT_BATCH] for i in range(0, len(chain_accounts), SET_ACCOUNT_BATCH)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(set_accounts, batches))
    chain_seconds = time.monotonic() - started

    rows.seek(0)
    with connection.cursor() as cursor:
        with cursor.copy("COPY vaults (owner, address, token_account, total_balance, locked_balance, "
                         "available_balance, total_deposited, total_withdrawn, event_seq, onchain_created_at, "
                         "last_synced_slot, is_closed, created_at, updated_at) FROM STDIN") as copy:
            copy.write(rows.getvalue())
        cursor.execute(
            """
            INSERT INTO transactions (id, vault_id, counterparty_vault_id, transaction_type, amount, signature,
                                      event_index, event_seq, slot, status, caller_program, timestamp, created_at)
            SELECT gen_random_uuid(), v.id, NULL, t.kind, t.amount, md5(v.address || t.kind) || md5(v.owner),
                   0, t.seq, 1000 + v.id, 'finalized', '', now() - interval '1 day', now()
            FROM vaults v
            CROSS JOIN (VALUES ('initialize', 0, %s - 1), ('deposit', %s, %s)) AS t(kind, amount, seq)
            """, [event_seq, BALANCE, event_seq])
        cursor.execute("VACUUM ANALYZE vaults")
        cursor.execute("VACUUM ANALYZE transactions")
        cursor.execute("SELECT count(*) FROM vaults WHERE NOT is_closed")
        (open_vaults,) = cursor.fetchone()
    print(json.dumps({"vaults": open_vaults, "chain_seconds": round(chain_seconds, 1),
                      "seconds": round(time.monotonic() - started, 1)}))


def _table_bytes(cursor, table: str) -> int | None:
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
    if not cursor.fetchone()[0]:
        return None
    cursor.execute("SELECT pg_total_relation_size(%s)", [table])
    return cursor.fetchone()[0]


def _count(cursor, table: str) -> int | None:
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
    if not cursor.fetchone()[0]:
        return None
    cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - a fixed table name
    return cursor.fetchone()[0]


def run() -> None:
    from django.db import connection

    from monitoring.services.balance_tracker import BalanceTracker
    from vaults.chain.client import ChainClient, get_chain_client

    chain = get_chain_client()
    calls = [0]
    original = ChainClient.get_multiple_accounts

    def counted(self, *args, **kwargs):
        calls[0] += 1
        return original(self, *args, **kwargs)

    ChainClient.get_multiple_accounts = counted
    chain.get_slot()  # the HTTP session is open before the clock starts, in both codes
    with connection.cursor() as cursor:
        before = {t: (_count(cursor, t), _table_bytes(cursor, t)) for t in ("reconciliation_logs", "reconciliation_runs")}
        cursor.execute("SELECT coalesce(max(id), 0) FROM reconciliation_logs")
        (last_log_id,) = cursor.fetchone()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tracker = BalanceTracker(chain)
    profile_to = os.environ.get("BENCH_PROFILE")  # a path: the run's cProfile stats go there
    if profile_to:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.monotonic()
    tracker.reconcile_all()
    seconds = time.monotonic() - started
    if profile_to:
        profiler.disable()
        profiler.dump_stats(profile_to)
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM vaults WHERE NOT is_closed")
        (vaults,) = cursor.fetchone()
        after = {t: (_count(cursor, t), _table_bytes(cursor, t)) for t in before}
    run_row = getattr(tracker, "last_run", None)
    result = {
        "vaults": vaults, "seconds": round(seconds, 2), "get_multiple_accounts_calls": calls[0],
        "rss_before_mb": round(rss_before), "rss_peak_mb": round(rss_peak),
        "log_rows_added": after["reconciliation_logs"][0] - before["reconciliation_logs"][0],
        "log_bytes_added": after["reconciliation_logs"][1] - before["reconciliation_logs"][1],
        "run_rows_added": None if after["reconciliation_runs"][0] is None
        else after["reconciliation_runs"][0] - (before["reconciliation_runs"][0] or 0),
        "matched": run_row.matched if run_row else None,
        "mismatched": run_row.mismatched if run_row else None,
        "errors": run_row.errors if run_row else None,
    }
    if run_row is None:
        from vaults.models import ReconciliationLog

        counts = dict(ReconciliationLog.objects.filter(id__gt=last_log_id).values_list("status")
                      .annotate(n=django.db.models.Count("id")))
        result.update(matched=counts.get("matched", 0), mismatched=counts.get("mismatch", 0),
                      errors=counts.get("error", 0))
    print(json.dumps(result))


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    seeding = sub.add_parser("seed")
    seeding.add_argument("--vaults", type=int, required=True)
    seeding.add_argument("--localnet-file", required=True)
    sub.add_parser("run")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    django.setup()
    if args.command == "seed":
        seed(args.vaults, args.localnet_file)
    else:
        run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
