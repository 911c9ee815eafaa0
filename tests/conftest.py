"""Shared fixtures. The back-office tests use the real PostgreSQL (a test database created by
pytest-django), the real Redis (a database of its own, flushed per test) and one local
validator for the whole session."""
import pytest

from tests.localnet import start_localnet


@pytest.fixture(scope="session")
def localnet(tmp_path_factory):
    from django.conf import settings

    net = start_localnet(tmp_path_factory.mktemp("localnet"))
    # Session-wide: the chain client reads these at call time.
    settings.SOLANA_RPC_URL = net.rpc_url
    settings.SOLANA_WS_URL = net.description["ws_url"]
    settings.USDT_MINT = net.mint
    yield net
    net.stop()


@pytest.fixture
def clean_redis():
    from vaults.redis_client import get_redis

    get_redis().flushdb()  # the test Redis database only (see settings.test.REDIS_URL)
    yield
    get_redis().flushdb()
