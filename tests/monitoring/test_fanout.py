"""The process hub (monitoring/fanout.py) with the real Redis channel layer: one group member per
process, every message to every subscribed connection once and in order, slow connections
closed instead of silently losing messages."""
import json
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from monitoring import streams
from monitoring.fanout import hub
from tests.monitoring.stream_helpers import connect, request, vault_pda

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clean_redis")]

OWNER = "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"
publish = sync_to_async(streams.publish_now)


async def api_key_client():
    from vaults.services.api_keys import create_api_key

    raw = (await sync_to_async(create_api_key)(f"fanout-{uuid.uuid4().hex[:12]}"))[0]
    return await connect("/ws?tvl=0", headers=[(b"x-api-key", raw.encode())])


def deposits(count):
    return [streams.vault_event("deposit", owner=OWNER, vault=vault_pda(OWNER), amount=i + 1, signature=f"s{i}",
                                timestamp=1_700_000_000, seq=i + 1, slot=i) for i in range(count)]


async def test_every_connection_gets_every_message_once_in_order_through_one_group_member():
    clients = [await api_key_client() for _ in range(40)]
    for client in clients[:30]:
        assert (await request(client, {"action": "subscribe", "vault": vault_pda(OWNER)}))["type"] == "subscribed"
    for client in clients[20:]:  # ten of them twice (vault and user): still one copy each
        assert (await request(client, {"action": "subscribe", "user": OWNER}))["type"] == "subscribed"
    layer = get_channel_layer()
    members = await layer.connection(0).zrange(layer._group_key(streams.vault_group(vault_pda(OWNER))), 0, -1)
    assert len(members) == 1  # the hub, not 30 connections
    sent = deposits(60)
    await publish(sent)
    for client in clients:
        got = []
        while len(got) < len(sent):
            got.append(await client.receive_json_from(timeout=10))
        assert got == sent
        assert await client.receive_nothing(timeout=0.2)
        await client.disconnect()
    assert hub().members == {}  # the last one out stops the hub


@pytest.mark.parametrize("batched", [False, True], ids=["one per read", "one read"])
async def test_a_connection_that_falls_behind_is_closed_not_silently_thinned(settings, batched):
    settings.WS_CHANNEL_CAPACITY = 5
    client = await api_key_client()
    assert (await request(client, {"action": "subscribe", "vault": vault_pda(OWNER)}))["type"] == "subscribed"
    group = streams.vault_group(vault_pda(OWNER))
    (consumer,) = hub().members[group]
    # The hub hands over faster than the connection sends: all at once, before it runs again.
    envelopes = [{"type": "stream.message", "group": group, "message": message, "text": json.dumps(message)}
                 for message in deposits(9)]
    for batch in [envelopes] if batched else [[envelope] for envelope in envelopes]:
        consumer.deliver(batch)
    frames = []
    while (output := await client.receive_output(timeout=5))["type"] != "websocket.close":
        frames.append(json.loads(output["text"]))
    assert output["code"] == 1013
    assert [f["seq"] for f in frames[:-1]] == [1, 2, 3, 4, 5]  # what fitted, in order, then the notice
    assert frames[-1]["code"] == "too_slow"


async def test_handlers_do_not_hop_to_a_thread_per_message(monkeypatch):
    """Channels closes old database connections before each handler (a thread hop); the stream
    consumer's handlers do not need it."""
    import channels.consumer

    hops = []
    original = channels.consumer.aclose_old_connections

    async def counting():
        hops.append(1)
        await original()

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", counting)
    client = await api_key_client()
    assert (await request(client, {"action": "subscribe", "vault": vault_pda(OWNER)}))["type"] == "subscribed"
    await publish(deposits(20))
    for _ in range(20):
        await client.receive_json_from(timeout=10)
    assert hops == []
    await client.disconnect()
