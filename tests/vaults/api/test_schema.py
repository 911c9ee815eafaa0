"""Schemathesis, every check on, against the live /api/schema/ of the real stack (the project's
daphne with the ASGI app, PostgreSQL, Redis, the local validator and the dev signer): a bounded
number of examples per operation, stateful links included, and no failure allowed."""
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.live_server import serve
from vaults.services.api_keys import create_api_key

pytestmark = [pytest.mark.localnet, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "tests" / "schemathesis" / "schemathesis.toml"
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "50"))
SEED = 20261202


def test_schemathesis_finds_no_failure(localnet, tmp_path, funded_wallet):
    raw_key, _ = create_api_key("schemathesis")
    limits = {  # the fuzzer is one client sending thousands of requests: budgets to match
        "RATE_LIMIT_CLIENT_REQUESTS": 100000, "RATE_LIMIT_ANONYMOUS_REQUESTS": 100000,
        "RATE_LIMIT_GLOBAL_REQUESTS": 1000000, "RATE_LIMIT_API_KEY_WRITE_REQUESTS": 100000,
        "RATE_LIMIT_HEALTH_REQUESTS": 100000,
    }
    # Wallets of its own for the dev signer (funded with SOL and USDT), so stateful runs really
    # initialize, deposit and withdraw, without touching the dev wallets other tests use.
    wallets = [funded_wallet(), funded_wallet()]
    with serve(tmp_path, localnet, wallets=wallets, DEV_SIGNER_ENABLED="1", **limits) as url:
        command = [
            sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG),
            "run", f"{url}/api/schema/", "--url", url,
            "--checks", "all", "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED),
            "--header", f"X-API-Key: {raw_key}", "--workers", "1", "--request-timeout", "60",
            "--output-truncate=true",
        ]
        env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.schemathesis.hooks", "NO_COLOR": "1",
               "LOCALNET_FILE": str(tmp_path / "localnet.json")}
        started = time.monotonic()
        run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500)
        elapsed = time.monotonic() - started
    output = run.stdout + run.stderr
    summary = [line for line in output.splitlines() if re.search(r"passed|failed|errors?|Test cases|Seed", line)]
    print(f"schemathesis: exit {run.returncode} in {elapsed:.0f} s")
    print("\n".join(summary[-15:]))
    assert run.returncode == 0, output[-12000:]
