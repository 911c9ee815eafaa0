"""monitoring.indexer.store: one transaction applied once, in one database transaction, with
its live messages sent after commit; events recovered from the self-CPI inner instructions when
the logs were truncated."""
import asyncio
import base64

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from monitoring import streams
from monitoring.indexer.store import index_transaction
from monitoring.models import IndexedEvent
from tests.localnet import seq_base
from tests.monitoring.indexer_support import chain, vault_user  # noqa: F401 - fixtures
from vaults.models import Transaction, Vault

pytestmark = [pytest.mark.localnet, pytest.mark.django_db(transaction=True)]


def _listen(group: str) -> str:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)
    return channel


def _drain(channel: str, timeout: float = 0.5) -> list[dict]:
    layer = get_channel_layer()

    async def receive_all():
        received = []
        while True:
            try:
                received.append(await asyncio.wait_for(layer.receive(channel), timeout=timeout))
            except asyncio.TimeoutError:
                return received

    return [envelope["message"] for envelope in async_to_sync(receive_all)()]


def test_truncated_logs_event_is_recovered_from_the_inner_instruction(chain, vault_user):
    user = vault_user()
    user.open_vault()
    signature = user.deposit_after_memos(123_456)

    confirmed = chain.get_transaction(signature)
    assert "Log truncated" in confirmed.logs
    # The logs alone lose the deposit: no `Program data:` line decodes to it.
    from_logs = [chain.decode_event_bytes(base64.b64decode(line.split(": ", 1)[1]))
                 for line in confirmed.logs if line.startswith("Program data: ")]
    assert [name for name, _ in filter(None, from_logs)] == []

    result = index_transaction(chain, signature, source="test")

    assert result.new_events == 1
    row = Transaction.objects.get(signature=signature)
    base = seq_base(chain, user.owner)
    assert (row.transaction_type, row.amount, row.event_seq, row.event_index) == ("deposit", 123_456, base + 2, 0)
    assert list(IndexedEvent.objects.filter(signature=signature).values_list("vault_address", "seq", "generation")) == [
        (user.vault, base + 2, base >> 20)]
    assert Vault.objects.get(owner=user.owner).total_balance == 123_456


def test_applying_twice_stores_once_and_announces_once(chain, vault_user, clean_redis):
    user = vault_user()
    opened = user.open_vault()
    index_transaction(chain, opened, source="test")
    channel = _listen(streams.user_group(user.owner))
    signature = user.deposit(70_000)

    first = index_transaction(chain, signature, source="test")
    second = index_transaction(chain, signature, source="test")

    assert (first.new_events, second.new_events) == (1, 0)
    assert Transaction.objects.filter(signature=signature).count() == 1
    assert IndexedEvent.objects.filter(signature=signature).count() == 1
    messages = _drain(channel)
    assert [m["type"] for m in messages] == ["deposit", "balance_update"]
    deposit, balance = messages
    base = seq_base(chain, user.owner)
    assert {k: deposit[k] for k in ("user", "amount", "signature", "vault", "seq")} == {
        "user": user.owner, "amount": 70_000, "signature": signature, "vault": user.vault, "seq": base + 2}
    assert (balance["total_balance"], balance["available_balance"], balance["seq"]) == (70_000, 70_000, base + 2)

