"""Health of the services the back office depends on."""
from django.db import connection

from vaults.chain.client import get_chain_client
from vaults.redis_client import get_redis


def service_health() -> dict:
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = True
    except Exception:  # noqa: BLE001
        checks["database"] = False
    try:
        checks["redis"] = bool(get_redis().ping())
    except Exception:  # noqa: BLE001
        checks["redis"] = False
    checks["rpc"] = get_chain_client().is_healthy()
    return {"status": "ok" if all(checks.values()) else "degraded", **checks}
