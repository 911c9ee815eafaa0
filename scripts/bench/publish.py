"""Publishes a burst of stream messages the way the indexer does after each commit (one
`deposit` and one `balance_update` per deposit, through `monitoring.streams.publish_now`), at a
fixed rate, and notes when each left. Run inside the code under test (`python -m bench.publish`).

    python -m bench.publish --owner <wallet> --count 100 --rate 50 --out published.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import django


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--owner", required=True)
    parser.add_argument("--vault", required=True)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    django.setup()
    from monitoring import streams

    published = {}
    started = time.monotonic()
    for i in range(args.count):
        signature = f"bench{i:06d}" + "1" * 80
        now = int(time.time())
        deposit = streams.vault_event("deposit", owner=args.owner, vault=args.vault, amount=1_000 + i,
                                      signature=signature, timestamp=now, seq=i + 1, slot=1_000 + i)
        balance = streams.balance_update(vault=args.vault, owner=args.owner, total_balance=(i + 1) * 1_000,
                                         locked_balance=0, available_balance=(i + 1) * 1_000, timestamp=now,
                                         seq=i + 1, slot=1_000 + i)
        published[signature] = time.time() * 1000
        streams.publish_now([deposit, balance])
        time.sleep(max(0.0, started + (i + 1) / args.rate - time.monotonic()))
    with open(args.out, "w") as out:
        json.dump(published, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
