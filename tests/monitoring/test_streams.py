"""The stream contract: the seeds' fields by name, routing, and publishing only after commit
(through the real Redis channel layer)."""
import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from monitoring import streams

VAULT = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"
OWNER = "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"


def test_messages_keep_the_seeds_fields():
    balance = streams.balance_update(vault=VAULT, owner=OWNER, total_balance=1_000_000, locked_balance=200_000,
                                     available_balance=800_000, timestamp=1699123456, seq=3, slot=9)
    assert {"type", "vault", "total_balance", "locked_balance", "available_balance", "timestamp"} <= balance.keys()
    assert balance["type"] == "balance_update" and balance["available_balance"] == 800_000
    deposit = streams.vault_event("deposit", owner=OWNER, vault=VAULT, amount=1_000_000, signature="5j7s8K9", timestamp=1699123456)
    assert {"type": "deposit", "user": OWNER, "amount": 1_000_000, "signature": "5j7s8K9", "timestamp": 1699123456}.items() <= deposit.items()
    tvl = streams.tvl_update(total_value_locked=50_000_000, total_vaults=1250, timestamp=1699123456)
    assert {"type": "tvl_update", "total_value_locked": 50_000_000, "timestamp": 1699123456}.items() <= tvl.items()


def test_routing_keeps_private_messages_out_of_public_groups():
    deposit = streams.vault_event("deposit", owner=OWNER, vault=VAULT, amount=1, signature="s", timestamp=0)
    assert set(streams.groups_for(deposit)) == {streams.ALL_GROUP, streams.FEED_GROUP, streams.vault_group(VAULT),
                                               streams.user_group(OWNER)}
    assert streams.TVL_GROUP not in streams.groups_for(deposit)
    alert = streams.alert(kind="reconciliation_mismatch", message="off by 5")
    assert set(streams.groups_for(alert)) == {streams.ALERTS_GROUP, streams.ALL_GROUP}  # never the public feed


def _receive(channel: str):
    layer = get_channel_layer()

    async def receive():
        return await asyncio.wait_for(layer.receive(channel), timeout=2)

    return async_to_sync(receive)()


@pytest.mark.django_db(transaction=True)
def test_messages_leave_only_after_commit(clean_redis):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(streams.user_group(OWNER), channel)
    message = streams.vault_event("deposit", owner=OWNER, vault=VAULT, amount=7, signature="sig", timestamp=0)

    with pytest.raises(RuntimeError):
        with transaction.atomic():
            streams.publish_on_commit([message])
            raise RuntimeError("rolled back")
    with transaction.atomic():
        streams.publish_on_commit([message])
    received = _receive(channel)
    assert received == {"type": "stream.message", "message": message}
    with pytest.raises(asyncio.TimeoutError):
        _receive(channel)  # the rolled-back one never went out
