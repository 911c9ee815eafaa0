"""The Redis cache shares its connection pool across requests (contexts) and threads."""
import threading

from asgiref.sync import async_to_sync, sync_to_async
from django.core.cache import caches


def _pool_of_current_cache():
    cache = caches["default"]
    cache.set("pool-probe", 1, timeout=5)
    return cache._cache._get_connection_pool(True)


def test_every_thread_and_request_context_uses_the_same_pool(clean_redis):
    pools = [_pool_of_current_cache()]
    thread = threading.Thread(target=lambda: pools.append(_pool_of_current_cache()))
    thread.start()
    thread.join()

    async def in_a_request_context():
        # Django runs each ASGI request's sync code in a context of its own: a new cache object.
        return await sync_to_async(_pool_of_current_cache, thread_sensitive=False)()

    pools.append(async_to_sync(in_a_request_context)())
    assert len({id(pool) for pool in pools}) == 1
    assert caches["default"].get("pool-probe") == 1


def test_connections_are_reused_not_reopened(clean_redis):
    pool = _pool_of_current_cache()
    for _ in range(50):
        caches["default"].get("pool-probe")
    assert len(pool._available_connections) + len(pool._in_use_connections) <= 2


def test_one_client_object_per_pool_across_contexts(clean_redis):
    def client_of_current_cache():
        return caches["default"]._cache.get_client(write=True)

    async def in_a_request_context():
        return await sync_to_async(client_of_current_cache, thread_sensitive=False)()

    clients = [client_of_current_cache(), client_of_current_cache(), async_to_sync(in_a_request_context)()]
    assert len({id(client) for client in clients}) == 1
    assert clients[0].connection_pool is _pool_of_current_cache()
