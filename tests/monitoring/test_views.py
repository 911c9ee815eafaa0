import pytest

pytestmark = [pytest.mark.localnet, pytest.mark.django_db]


def test_health_reports_each_service(localnet, client, clean_redis):
    body = client.get("/health").json()
    assert body == {"status": "ok", "database": True, "redis": True, "rpc": True}


def test_health_is_503_when_the_rpc_is_down(localnet, client, settings, clean_redis):
    settings.SOLANA_RPC_URL = "http://127.0.0.1:9"
    settings.RPC_TIMEOUT_SECONDS = 2
    response = client.get("/health")
    assert response.status_code == 503 and response.json()["rpc"] is False
