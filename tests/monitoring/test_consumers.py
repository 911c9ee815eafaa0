"""/ws through the full ASGI application (origin check, session auth, routing) with the real
Redis channel layer and PostgreSQL: who may subscribe to what, routing of published messages,
heartbeat and idle close, replay (including the replay/live boundary) and input validation."""
import asyncio
import json
import threading
import time

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import connection, transaction
from solders.keypair import Keypair

from monitoring import streams
from tests.monitoring.stream_helpers import (
    add_deposit, collect, connect, live_messages, make_vault, request, staff_cookie, vault_pda, wallet_token,
)
from vaults.models import Vault

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clean_redis")]

SEEDS_FIELDS = {
    "balance_update": {"type", "vault", "total_balance", "locked_balance", "available_balance", "timestamp"},
    "deposit": {"type", "user", "amount", "signature", "timestamp"},
    "withdrawal": {"type", "user", "amount", "signature", "timestamp"},
    "tvl_update": {"type", "total_value_locked", "timestamp"},
}

publish = sync_to_async(streams.publish_now)


def wallet():
    keypair = Keypair()
    return keypair, str(keypair.pubkey())


async def login(keypair) -> str:
    return await database_sync_to_async(wallet_token)(keypair)


async def as_wallet(keypair, **query):
    token = await login(keypair)
    path = "/ws?" + "&".join([f"token={token}"] + [f"{k}={v}" for k, v in query.items()])
    return await connect(path)


def deposit_message(owner, *, seq=1, amount=5, signature="sig"):
    return streams.vault_event("deposit", owner=owner, vault=vault_pda(owner), amount=amount, signature=signature,
                               timestamp=1_700_000_000, seq=seq, slot=10)


# ---- connection and authentication ----------------------------------------------------------


async def test_anonymous_client_gets_public_tvl_with_the_seeds_fields():
    client = await connect("/ws")
    tvl = streams.tvl_update(total_value_locked=50_000_000, total_vaults=3, timestamp=1699123456)
    await publish([tvl])
    received = await client.receive_json_from(timeout=5)
    assert received == tvl
    assert SEEDS_FIELDS["tvl_update"] <= received.keys()
    await client.disconnect()


async def test_tvl_can_be_declined_and_taken_again():
    client = await connect("/ws?tvl=0")
    await publish([streams.tvl_update(total_value_locked=1, total_vaults=1, timestamp=1)])
    assert await client.receive_nothing(timeout=0.5)
    assert (await request(client, {"action": "subscribe", "tvl": True}))["type"] == "subscribed"
    await publish([streams.tvl_update(total_value_locked=2, total_vaults=1, timestamp=2)])
    assert (await client.receive_json_from(timeout=5))["total_value_locked"] == 2
    await client.disconnect()


@pytest.fixture
def private_vault_streams(settings):
    settings.WS_PUBLIC_VAULT_STREAMS = False


async def test_public_mode_lets_anyone_follow_a_vault_and_the_feed_but_not_alerts():
    _, owner = wallet()
    client = await connect("/ws?tvl=0")
    assert (await request(client, {"action": "subscribe", "vault": vault_pda(owner)}))["type"] == "subscribed"
    assert (await request(client, {"action": "subscribe", "feed": True}))["type"] == "subscribed"
    for frame in ({"action": "subscribe", "all": True}, {"action": "subscribe", "alerts": True}):
        assert (await request(client, frame))["code"] == "not_authenticated", frame
    message = deposit_message(owner)
    await publish([message, streams.alert(kind="x", message="secret", timestamp=1)])
    assert await client.receive_json_from(timeout=5) == message  # once, though in two of its groups
    assert await client.receive_nothing(timeout=0.5)
    await client.disconnect()


@pytest.mark.usefixtures("private_vault_streams")
async def test_anonymous_client_cannot_subscribe_to_private_streams():
    _, owner = wallet()
    client = await connect("/ws")
    for frame in ({"action": "subscribe", "user": owner}, {"action": "subscribe", "vault": vault_pda(owner)},
                  {"action": "subscribe", "all": True}, {"action": "subscribe", "alerts": True}):
        answer = await request(client, frame)
        assert (answer["type"], answer["code"]) == ("error", "not_authenticated"), frame
    await publish([deposit_message(owner)])
    assert await client.receive_nothing(timeout=0.5)
    await client.disconnect()


@pytest.mark.usefixtures("private_vault_streams")
async def test_a_wallet_token_reads_its_own_streams_only():
    me, my_wallet = wallet()
    _, other = wallet()
    client = await as_wallet(me)
    for frame in ({"action": "subscribe", "user": other}, {"action": "subscribe", "vault": vault_pda(other)},
                  {"action": "subscribe", "all": True}, {"action": "subscribe", "alerts": True, "id": "a"}):
        answer = await request(client, frame)
        assert (answer["type"], answer["code"], answer.get("id")) == ("error", "forbidden", frame.get("id")), frame
    assert (await request(client, {"action": "subscribe", "user": my_wallet, "id": 7})) == \
        {"type": "subscribed", "user": my_wallet, "id": 7}
    theirs, mine = deposit_message(other, signature="theirs"), deposit_message(my_wallet, signature="mine")
    await publish([theirs, mine])
    assert await client.receive_json_from(timeout=5) == mine
    assert await client.receive_nothing(timeout=0.5)
    await client.disconnect()


async def test_token_in_the_first_message_and_in_the_authorization_header():
    me, my_wallet = wallet()
    token = await login(me)
    client = await connect("/ws")
    assert (await request(client, {"action": "auth", "token": token}))["principal"] == {"kind": "wallet", "wallet": my_wallet}
    assert (await request(client, {"action": "subscribe", "vault": vault_pda(my_wallet)}))["type"] == "subscribed"
    again = await request(client, {"action": "auth", "token": token})
    assert again["code"] == "already_authenticated"
    await client.disconnect()

    client = await connect("/ws", headers=[(b"authorization", f"Bearer {token}".encode())])
    assert (await request(client, {"action": "subscribe", "user": my_wallet}))["type"] == "subscribed"
    await client.disconnect()


async def test_bad_credentials_are_refused():
    client = await connect("/ws?token=not-a-real-token", expect_welcome=False)
    assert (await client.receive_json_from(timeout=5))["code"] == "invalid_token"
    assert (await client.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4401}

    client = await connect("/ws")
    assert (await request(client, {"action": "auth", "token": "nope"}))["code"] == "invalid_token"
    assert (await request(client, {"action": "auth", "api_key": "nope.nope"}))["code"] == "invalid_api_key"
    await client.disconnect()


async def test_a_revoked_login_is_closed_at_the_next_heartbeat(settings):
    from vaults.models import WalletSession

    settings.WS_HEARTBEAT_SECONDS = 0.2
    me, _ = wallet()
    client = await as_wallet(me)
    assert (await client.receive_json_from(timeout=5))["type"] == "heartbeat"
    await database_sync_to_async(lambda: WalletSession.objects.update(revoked=True))()
    while (output := await client.receive_output(timeout=5))["type"] != "websocket.close":
        last = json.loads(output["text"])
    assert output["code"] == 4401
    assert last["code"] == "session_expired"


async def test_staff_reads_everything_and_alerts_other_logins_do_not():
    cookie = await database_sync_to_async(staff_cookie)()
    staff = await connect("/ws?tvl=0", headers=[(b"cookie", cookie)])
    assert (await request(staff, {"action": "subscribe", "all": True}))["type"] == "subscribed"
    _, owner = wallet()
    deposit = deposit_message(owner)
    alert = streams.alert(kind="reconciliation_mismatch", message="off by 5", vault=vault_pda(owner), timestamp=1)
    tvl = streams.tvl_update(total_value_locked=9, total_vaults=1, timestamp=1)
    await publish([deposit, alert, tvl])
    assert [await staff.receive_json_from(timeout=5) for _ in range(3)] == [deposit, alert, tvl]
    assert await staff.receive_nothing(timeout=0.5)
    await staff.disconnect()

    not_staff = await database_sync_to_async(staff_cookie)(is_staff=False)
    client = await connect("/ws", headers=[(b"cookie", not_staff)])
    assert (await request(client, {"action": "subscribe", "all": True}))["code"] == "not_authenticated"
    await client.disconnect()


async def test_an_api_key_reads_any_vault_but_not_everything():
    from vaults.services.api_keys import create_api_key

    raw, _ = await database_sync_to_async(create_api_key)("risk-engine")
    _, owner = wallet()
    client = await connect("/ws", headers=[(b"x-api-key", raw.encode())])
    assert (await request(client, {"action": "subscribe", "vault": vault_pda(owner)}))["type"] == "subscribed"
    assert (await request(client, {"action": "subscribe", "all": True}))["code"] == "forbidden"
    await client.disconnect()


async def test_foreign_browser_origins_are_refused():
    from vaultsite.asgi import application
    from channels.testing import WebsocketCommunicator

    evil = WebsocketCommunicator(application, "/ws", headers=[(b"origin", b"https://evil.example")])
    connected, _ = await evil.connect(timeout=5)
    assert not connected
    ours = await connect("/ws", headers=[(b"origin", b"http://localhost:3000")])
    await ours.disconnect()


# ---- routing ----------------------------------------------------------------------------------


async def test_vault_and_user_streams_receive_the_seeds_messages_once():
    me, my_wallet = wallet()
    client = await as_wallet(me, tvl=0)
    # Both streams carry this vault's messages: each must still arrive once.
    await request(client, {"action": "subscribe", "vault": vault_pda(my_wallet)})
    await request(client, {"action": "subscribe", "user": my_wallet})
    messages = [
        deposit_message(my_wallet, seq=1),
        streams.balance_update(vault=vault_pda(my_wallet), owner=my_wallet, total_balance=1_000_000,
                               locked_balance=200_000, available_balance=800_000, timestamp=1699123456, seq=1, slot=10),
        streams.vault_event("withdrawal", owner=my_wallet, vault=vault_pda(my_wallet), amount=500_000,
                            signature="w", timestamp=1699123456, seq=2, slot=11),
    ]
    await publish(messages)
    received = await collect(client)
    assert received == messages
    for message in received:
        assert SEEDS_FIELDS[message["type"]] <= message.keys()
    await client.disconnect()


async def test_unsubscribe_stops_the_stream():
    me, my_wallet = wallet()
    client = await as_wallet(me, tvl=0)
    await request(client, {"action": "subscribe", "user": my_wallet})
    assert (await request(client, {"action": "unsubscribe", "user": my_wallet}))["type"] == "unsubscribed"
    await publish([deposit_message(my_wallet)])
    assert await client.receive_nothing(timeout=0.5)
    assert (await request(client, {"action": "unsubscribe", "user": my_wallet}))["code"] == "not_subscribed"
    await client.disconnect()


# ---- heartbeat ----------------------------------------------------------------------------------


async def test_heartbeats_come_and_a_silent_client_is_closed(settings):
    settings.WS_HEARTBEAT_SECONDS = 0.2
    settings.WS_IDLE_TIMEOUT_SECONDS = 1
    client = await connect("/ws")
    first = await client.receive_json_from(timeout=5)
    assert first["type"] == "heartbeat" and isinstance(first["timestamp"], int)
    # A client that answers stays.
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        assert (await request(client, {"action": "ping"}))["type"] == "pong"
        await asyncio.sleep(0.3)
    # One that goes quiet is closed.
    frames = []
    while True:
        output = await client.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            break
        frames.append(json.loads(output["text"]))
    assert output["code"] == 4408
    assert frames[-1]["code"] == "idle_timeout"
    assert {f["type"] for f in frames} <= {"heartbeat", "error"}


# ---- replay -------------------------------------------------------------------------------------


async def test_replay_sends_what_was_missed_in_order_then_the_balance_then_live():
    me, my_wallet = wallet()

    def seed():
        vault = make_vault(my_wallet)
        for seq in range(1, 6):
            add_deposit(vault, seq, amount=seq * 100)
        return vault

    vault = await database_sync_to_async(seed)()
    client = await as_wallet(me, tvl=0)
    answer = await request(client, {"action": "subscribe", "vault": vault.address, "last_seq": 2, "id": "r"})
    assert answer == {"type": "subscribed", "vault": vault.address, "replayed": 3, "last_seq": 5, "id": "r"}
    # The replayed frames come before the answer.
    await client.disconnect()
    client = await as_wallet(me, tvl=0)
    await client.send_json_to({"action": "subscribe", "user": my_wallet, "last_seq": 2})
    frames = await collect(client)
    assert [(f["type"], f.get("seq")) for f in frames[:-1]] == [
        ("deposit", 3), ("deposit", 4), ("deposit", 5), ("balance_update", 5)]
    assert frames[-1] == {"type": "subscribed", "user": my_wallet, "vault": vault.address, "replayed": 3, "last_seq": 5}
    assert frames[0] == {"type": "deposit", "user": my_wallet, "amount": 300, "signature": f"sig{vault.pk}x3",
                         "timestamp": 1_700_000_003, "vault": vault.address, "seq": 3, "slot": 1003}
    assert frames[3] == {"type": "balance_update", "vault": vault.address, "total_balance": 1500,
                         "locked_balance": 0, "available_balance": 1500, "timestamp": frames[3]["timestamp"],
                         "owner": my_wallet, "seq": 5, "slot": 1005}
    # Late copies of what was replayed are dropped; the next event comes through.
    row6, messages6 = await database_sync_to_async(add_deposit)(vault, 6)
    old = await database_sync_to_async(lambda: live_messages(vault.transactions.get(event_seq=4), vault))()
    await publish(old + messages6)
    assert await collect(client) == messages6
    await client.disconnect()


async def test_replay_boundary_a_row_committed_before_the_read_but_published_after():
    """The indexer commits seq 3, the client subscribes (its replay reads seq 3), and only then
    does seq 3's publish arrive, then seq 4: the client gets 3 once, then 4."""
    me, my_wallet = wallet()
    vault = await database_sync_to_async(make_vault)(my_wallet)
    _, first = await database_sync_to_async(add_deposit)(vault, 1)
    _, second = await database_sync_to_async(add_deposit)(vault, 2)
    _, third = await database_sync_to_async(add_deposit)(vault, 3)  # committed, not yet published
    client = await as_wallet(me, tvl=0)
    answer = await request(client, {"action": "subscribe", "vault": vault.address, "last_seq": 1})
    assert (answer["replayed"], answer["last_seq"]) == (2, 3)
    await publish(first + second + third)  # the writers' late publishes of what was replayed
    _, fourth = await database_sync_to_async(add_deposit)(vault, 4)
    await publish(fourth)
    assert await collect(client) == fourth
    await client.disconnect()


async def test_replay_across_live_writes_loses_and_doubles_nothing():
    """A writer stores and publishes deposits (on commit, like the indexer) while a client keeps
    reconnecting with the last seq it saw: across all its connections it sees every seq exactly
    once, in order."""
    me, my_wallet = wallet()
    vault = await database_sync_to_async(make_vault)(my_wallet)
    total = 60

    def writer():
        try:
            fresh = Vault.objects.get(pk=vault.pk)
            for seq in range(1, total + 1):
                with transaction.atomic():
                    _, messages = add_deposit(fresh, seq)
                    streams.publish_on_commit(messages)
                time.sleep(0.005)
        finally:
            connection.close()

    seen, rounds = [], 0
    thread = threading.Thread(target=writer)
    thread.start()
    while not (seen and seen[-1] == total):
        final = not thread.is_alive()
        rounds += 1
        client = await as_wallet(me, tvl=0)
        await client.send_json_to({"action": "subscribe", "vault": vault.address, "last_seq": seen[-1] if seen else 0})
        deadline = time.monotonic() + (30 if final else 0.1 + 0.05 * (rounds % 3))
        while time.monotonic() < deadline and not (seen and seen[-1] == total):
            if await client.receive_nothing(timeout=0.02):
                continue
            frame = await client.receive_json_from()
            if frame["type"] == "deposit":
                seen.append(frame["seq"])
        await client.disconnect()
    thread.join()
    assert rounds > 2
    assert seen == list(range(1, total + 1))


async def test_replay_of_an_unknown_vault_and_too_large_a_replay(settings):
    me, my_wallet = wallet()
    client = await as_wallet(me, tvl=0)
    answer = await request(client, {"action": "subscribe", "user": my_wallet, "last_seq": 0})
    assert answer == {"type": "subscribed", "user": my_wallet, "vault": None, "replayed": 0, "last_seq": None}
    await request(client, {"action": "unsubscribe", "user": my_wallet})

    settings.WS_REPLAY_MAX_EVENTS = 3

    def seed():
        vault = make_vault(my_wallet)
        for seq in range(1, 6):
            add_deposit(vault, seq)

    await database_sync_to_async(seed)()
    answer = await request(client, {"action": "subscribe", "vault": vault_pda(my_wallet), "last_seq": 0})
    assert answer["code"] == "replay_too_large"
    await publish([deposit_message(my_wallet, seq=9)])
    assert await client.receive_nothing(timeout=0.5)  # not subscribed after the refusal
    answer = await request(client, {"action": "subscribe", "vault": vault_pda(my_wallet), "last_seq": 3})
    assert (answer["replayed"], answer["last_seq"]) == (2, 5)
    await client.disconnect()


# ---- input validation and limits -------------------------------------------------------------


async def test_invalid_frames_get_an_error_and_the_connection_lives():
    """Each bad frame gets an error with a stable code; the connection carries on (the parser's
    cases in detail: test_ws_protocol.py)."""
    client = await connect("/ws")
    for frame, code in [
        ("{not json", "invalid_json"),
        ("[1, 2]", "invalid_request"),
        ('{"action": "dance", "id": 3}', "unknown_action"),
        ('{"action": "subscribe", "vault": "not-a-key"}', "invalid_pubkey"),
        ('{"action": "subscribe", "tvl": true, "last_seq": 1}', "invalid_request"),
    ]:
        await client.send_to(text_data=frame)
        answer = await client.receive_json_from(timeout=5)
        assert (answer["type"], answer["code"]) == ("error", code), frame
        assert isinstance(answer["message"], str)
    assert answer == {"type": "error", "code": "invalid_request", "message": answer["message"]}
    pong = await request(client, {"action": "ping", "id": "p"})
    assert (pong["type"], pong["id"]) == ("pong", "p")
    await client.disconnect()


async def test_binary_and_oversized_frames_are_refused(settings):
    client = await connect("/ws")
    await client.send_to(bytes_data=b"\x00\x01")
    assert (await client.receive_json_from(timeout=5))["code"] == "invalid_frame"
    await client.send_to(text_data=json.dumps({"action": "ping", "id": "x" * 5000}))
    assert (await client.receive_json_from(timeout=5))["code"] == "frame_too_large"
    await client.disconnect()


async def test_subscription_churn_is_rate_limited_then_closed(settings):
    settings.WS_SUBSCRIBE_BURST = 5
    settings.WS_SUBSCRIBE_PER_MINUTE = 6
    settings.WS_RATE_LIMIT_STRIKES = 3
    client = await connect("/ws?tvl=0")
    for i in range(5):
        action = "subscribe" if i % 2 == 0 else "unsubscribe"
        assert (await request(client, {"action": action, "tvl": True}))["type"] == f"{action}d"
    limited = await request(client, {"action": "subscribe", "tvl": True})
    assert limited["code"] == "rate_limited" and limited["retry_after"] > 0
    assert (await request(client, {"action": "ping"}))["type"] == "pong"  # pings are not churn
    await client.send_json_to({"action": "subscribe", "tvl": True})
    assert (await client.receive_json_from(timeout=5))["code"] == "rate_limited"
    await client.send_json_to({"action": "subscribe", "tvl": True})
    assert (await client.receive_json_from(timeout=5))["code"] == "rate_limited"
    assert (await client.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4429}


async def test_subscriptions_per_connection_are_capped(settings):
    settings.WS_MAX_SUBSCRIPTIONS = 2
    cookie = await database_sync_to_async(staff_cookie)()
    client = await connect("/ws?tvl=0", headers=[(b"cookie", cookie)])
    assert (await request(client, {"action": "subscribe", "all": True}))["type"] == "subscribed"
    assert (await request(client, {"action": "subscribe", "alerts": True}))["type"] == "subscribed"
    assert (await request(client, {"action": "subscribe", "tvl": True}))["code"] == "too_many_subscriptions"
    assert (await request(client, {"action": "subscribe", "all": True}))["type"] == "subscribed"  # already held
    await client.disconnect()
