"""Seeding for the benchmarks, run inside the code under test (`python -m bench.seed ...` with
the bench environment): vaults on the local validator, and history rows in bulk (SQL).

    python -m bench.seed chain-vaults              # a vault + one deposit per dev wallet
    python -m bench.seed history --hot <owner> --rows 1000000
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import django

HOT_SHARE = 10  # the queried vault holds one row in ten
FILLER_VAULTS = 1000
SPAN_SECONDS = 30 * 24 * 3600


def chain_vaults(localnet_file: str) -> None:
    from solders.keypair import Keypair
    from solders.message import MessageV0
    from solders.transaction import VersionedTransaction

    from vaults.chain.client import get_chain_client

    chain = get_chain_client()
    description = json.loads(open(localnet_file).read())
    for wallet in description["wallets"]:
        keypair = Keypair.from_bytes(bytes(wallet["secret_key"]))
        if chain.get_vault(keypair.pubkey()) is not None:
            continue
        instructions = [chain.initialize_vault_instruction(keypair.pubkey()),
                        chain.deposit_instruction(keypair.pubkey(), 5_000_000, wallet["token_account"])]
        for instruction in instructions:
            blockhash, last_valid = chain.get_latest_blockhash()
            message = MessageV0.try_compile(keypair.pubkey(), [instruction], [], blockhash)
            signature = chain.send(VersionedTransaction(message, [keypair]))
            chain.confirm(signature, last_valid)
    print(json.dumps([w["pubkey"] for w in description["wallets"]]))


def _vault_ids(hot_owner: str) -> tuple[int, list[int]]:
    from solders.keypair import Keypair

    from vaults.chain.client import get_chain_client
    from vaults.models import Vault

    chain = get_chain_client()
    hot, _ = Vault.objects.get_or_create(owner=hot_owner, defaults={
        "address": str(chain.vault_address(hot_owner)), "token_account": str(chain.vault_token_address(hot_owner)),
        "onchain_created_at": 1_700_000_000})
    fillers = list(Vault.objects.exclude(pk=hot.pk).order_by("pk").values_list("pk", flat=True)[:FILLER_VAULTS])
    missing = FILLER_VAULTS - len(fillers)
    if missing > 0:
        new = []
        for _ in range(missing):
            owner = Keypair().pubkey()
            new.append(Vault(owner=str(owner), address=str(chain.vault_address(owner)),
                             token_account=str(chain.vault_token_address(owner)), onchain_created_at=1_700_000_000))
        Vault.objects.bulk_create(new, batch_size=1000)
        fillers = list(Vault.objects.exclude(pk=hot.pk).order_by("pk").values_list("pk", flat=True)[:FILLER_VAULTS])
    return hot.pk, fillers


def history(hot_owner: str, rows: int) -> None:
    """Grows `transactions` to `rows` rows, a tenth of them the hot vault's (an active trader:
    its own events and, one in ten, transfers into it), all spread over the same 30 days; filler
    vaults get the rest. Adds only what is missing, so the sizes can be measured in turn."""
    from django.db import connection

    hot, fillers = _vault_ids(hot_owner)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM transactions WHERE vault_id = %s OR counterparty_vault_id = %s",
                       [hot, hot])
        (hot_have,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM transactions")
        (have,) = cursor.fetchone()
        hot_target = rows // HOT_SHARE
        if hot_have < hot_target:
            cursor.execute(
                """
                INSERT INTO transactions (id, vault_id, counterparty_vault_id, transaction_type, amount, signature,
                                          event_index, event_seq, slot, status, caller_program, timestamp, created_at)
                SELECT gen_random_uuid(),
                       CASE WHEN k %% 10 = 9 THEN %(filler)s ELSE %(hot)s END,
                       CASE WHEN k %% 10 = 9 THEN %(hot)s END,
                       CASE WHEN k %% 10 = 9 THEN 'transfer' WHEN k %% 2 = 0 THEN 'deposit' ELSE 'lock' END,
                       1000 + k, 'hot' || md5(k::text) || md5((k + 7)::text), 0, k + 1,
                       10000000 + (k::bigint * 40503) %% 3000000, 'finalized', '',
                       now() - make_interval(secs => ((k::bigint * 40503) %% %(span)s)::float), now()
                FROM generate_series(%(start)s, %(end)s - 1) AS k
                """,
                {"hot": hot, "filler": fillers[0], "start": hot_have, "end": hot_target, "span": SPAN_SECONDS},
            )
            have += hot_target - hot_have
        if have < rows:
            cursor.execute("SELECT count(*) FROM transactions WHERE signature NOT LIKE 'hot%%'")
            (filler_have,) = cursor.fetchone()
            cursor.execute(
                """
                INSERT INTO transactions (id, vault_id, counterparty_vault_id, transaction_type, amount, signature,
                                          event_index, event_seq, slot, status, caller_program, timestamp, created_at)
                SELECT gen_random_uuid(), (%(fillers)s::bigint[])[1 + (i::bigint * 7919) %% %(nf)s], NULL,
                       CASE WHEN i %% 3 = 0 THEN 'withdrawal' ELSE 'deposit' END,
                       1000 + i, md5(i::text) || md5((i + 1)::text), 0, NULL,
                       10000000 + (i::bigint * 2654435761) %% 3000000, 'finalized', '',
                       now() - make_interval(secs => ((i::bigint * 2654435761) %% %(span)s)::float), now()
                FROM generate_series(%(start)s, %(end)s - 1) AS i
                """,
                {"fillers": fillers, "nf": len(fillers), "start": filler_have,
                 "end": filler_have + rows - have, "span": SPAN_SECONDS},
            )
        cursor.execute("VACUUM ANALYZE transactions")
        cursor.execute("SELECT count(*) FROM transactions")
        print(cursor.fetchone()[0])


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    chain = sub.add_parser("chain-vaults")
    chain.add_argument("--localnet-file", required=True)
    hist = sub.add_parser("history")
    hist.add_argument("--hot", required=True)
    hist.add_argument("--rows", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    django.setup()
    if args.command == "chain-vaults":
        chain_vaults(args.localnet_file)
    else:
        history(args.hot, args.rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
