"""/metrics: Prometheus text that prometheus-client's own parser reads, with the indexer's lag
moving when a deposit lands on the validator and again when the indexer stores it."""
import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from solders.keypair import Keypair
from solders.transaction import VersionedTransaction

from tests.localnet import fund_wallet, sign

ROOT = Path(__file__).resolve().parents[2]


def scrape(client) -> dict:
    answer = client.get("/metrics")
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(answer.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


@pytest.mark.django_db
def test_metrics_parse_and_count_requests_per_route(client):
    client.get("/vault/tvl")
    samples = scrape(client)
    assert value(samples, "cvms_http_request_duration_seconds_count", route="vault/tvl", method="GET",
                 status="2xx") >= 1
    names = {name for name, _ in samples}
    for expected in ("cvms_chain_rpc_up", "cvms_alerts", "cvms_ws_connections"):
        assert expected in names, expected
    # The lag is published only when the chain answered (otherwise it is unknown, not zero).
    assert ("cvms_indexer_lag_slots" in names) == (value(samples, "cvms_chain_rpc_up") == 1)


@pytest.mark.django_db
def test_metrics_can_require_a_bearer_token(client, settings):
    settings.METRICS_BEARER_TOKEN = "s3cret"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200


@pytest.mark.localnet
@pytest.mark.django_db(transaction=True)
def test_indexer_lag_moves_after_a_deposit(client, localnet, clean_redis):
    from monitoring.indexer.backfill import backfill_program
    from vaults.chain.client import get_chain_client
    from vaults.services.vault_manager import VaultManager

    chain = get_chain_client()
    keypair = Keypair()
    owner = str(keypair.pubkey())
    fund_wallet(chain, localnet, keypair.pubkey(), tokens=10_000_000)

    def submit(built):
        signed = VersionedTransaction.from_bytes(base64.b64decode(sign(built.to_base64(), keypair)))
        signature = chain.send(signed)
        chain.confirm(signature, built.last_valid_block_height)

    submit(VaultManager(chain).initialize_vault(owner).built)
    backfill_program(chain)  # the indexer catches up with everything so far
    caught_up = scrape(client)
    assert value(caught_up, "cvms_chain_rpc_up") == 1
    assert value(caught_up, "cvms_indexer_lag_slots") == 0

    submit(VaultManager(chain).deposit(owner, 1_000_000).built)
    behind = scrape(client)
    assert value(behind, "cvms_indexer_lag_slots") >= 1
    assert value(behind, "cvms_indexer_lag_seconds") >= 0

    backfill_program(chain)
    again = scrape(client)
    assert value(again, "cvms_indexer_lag_slots") == 0
    assert (value(again, "cvms_indexed_events_total", type="DepositEvent") or 0) > \
        (value(caught_up, "cvms_indexed_events_total", type="DepositEvent") or 0)
    assert value(again, "cvms_rpc_request_duration_seconds_count", method="getSlot") >= 1


def test_json_logs_with_one_setting():
    env = {**os.environ, "LOG_FORMAT": "json", "DJANGO_SETTINGS_MODULE": "vaultsite.settings.test"}
    script = "import django, logging; django.setup(); logging.getLogger('console.test').warning('hello %s', 'json')"
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    lines = [line for line in result.stderr.splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    assert {"message": "hello json", "level": "WARNING", "logger": "console.test"}.items() <= records[-1].items(), \
        result.stderr


def test_the_grafana_dashboard_queries_only_metrics_we_export():
    import re

    from console import metrics

    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text())

    def base(name):
        return re.sub(r"_(bucket|count|sum|total)$", "", name)

    used = {base(name) for panel in dashboard["panels"] for target in panel["targets"]
            for name in re.findall(r"\bcvms_[a-z_]+", target["expr"])}
    source = (ROOT / "console" / "metrics.py").read_text()
    exported = {base(name) for name in re.findall(r'"(cvms_[a-z_]+)"', source)}
    assert used and used <= exported, used - exported
    assert metrics.render  # the module the dashboard reads from
