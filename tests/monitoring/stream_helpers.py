"""Helpers for the /ws tests: real wallet logins, staff sessions, vault rows and a connected
`WebsocketCommunicator` on the project's full ASGI application (origin check, auth middleware,
routing). Sync helpers are meant for `database_sync_to_async`."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from channels.testing import WebsocketCommunicator
from django.conf import settings
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from monitoring import streams
from monitoring.models import IndexedEvent
from vaults.models import Transaction, Vault
from vaults.services.wallet_auth import issue_login_nonce, login_with_signature


def vault_pda(owner: str) -> str:
    return str(Pubkey.find_program_address([b"vault", bytes(Pubkey.from_string(owner))],
                                           Pubkey.from_string(settings.PROGRAM_ID))[0])


def wallet_token(keypair: Keypair) -> str:
    """Through the real login: a server nonce signed by the wallet's key."""
    wallet = str(keypair.pubkey())
    nonce = issue_login_nonce(wallet)
    token, _ = login_with_signature(wallet, nonce["nonce"], str(keypair.sign_message(nonce["message"].encode())))
    return token


def staff_cookie(*, is_staff: bool = True) -> bytes:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from tests.console.staff import verified_login

    user = get_user_model().objects.create_user(username=f"u{Keypair().pubkey()}"[:30], password="x" * 16,
                                                is_staff=is_staff)
    client = Client()
    verified_login(client, user)  # password and authenticator code, as the admin's sign-in
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


def make_vault(owner: str, *, event_seq: int = 0, total: int = 0, locked: int = 0) -> Vault:
    return Vault.objects.create(owner=owner, address=vault_pda(owner), token_account=str(Keypair().pubkey()),
                                total_balance=total, locked_balance=locked, available_balance=total - locked,
                                event_seq=event_seq, onchain_created_at=1_700_000_000, last_synced_slot=event_seq)


def add_deposit(vault: Vault, seq: int, amount: int = 1_000, *, signature: str | None = None,
                announced: bool = True) -> tuple[Transaction, list[dict]]:
    """A deposit row with the vault's balance moved, as the indexer stores it (announced, unless
    told otherwise); returns the row and the live messages the indexer would publish for it."""
    row = Transaction.objects.create(
        vault=vault, transaction_type="deposit", amount=amount, signature=signature or f"sig{vault.pk}x{seq}",
        event_index=0, event_seq=seq, slot=1000 + seq, timestamp=datetime.fromtimestamp(1_700_000_000 + seq, tz=timezone.utc),
    )
    vault.total_balance += amount
    vault.available_balance += amount
    vault.event_seq = max(vault.event_seq, seq)
    vault.last_synced_slot = row.slot
    vault.save()
    IndexedEvent.objects.create(signature=row.signature, event_index=0, vault_address=vault.address, seq=seq,
                                slot=row.slot, total_balance=vault.total_balance, locked_balance=vault.locked_balance,
                                available_balance=vault.available_balance, announced=announced)
    return row, live_messages(row, vault)


def live_messages(row: Transaction, vault: Vault) -> list[dict]:
    return [
        streams.message_for_transaction(row),
        streams.balance_update(vault=vault.address, owner=vault.owner, total_balance=vault.total_balance,
                               locked_balance=vault.locked_balance, available_balance=vault.available_balance,
                               timestamp=row.timestamp, seq=row.event_seq, slot=row.slot),
    ]


async def connect(path: str = "/ws", *, headers=(), expect_welcome: bool = True):
    from vaultsite.asgi import application

    communicator = WebsocketCommunicator(application, path, headers=list(headers))
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    if expect_welcome:
        welcome = await communicator.receive_json_from(timeout=5)
        assert welcome["type"] == "welcome", welcome
    return communicator


async def request(communicator, frame: dict, *, timeout: float = 5) -> dict:
    """Sends a frame and returns the first answer that is not a stream message or heartbeat."""
    await communicator.send_to(text_data=json.dumps(frame))
    while True:
        answer = await communicator.receive_json_from(timeout=timeout)
        if answer["type"] in ("subscribed", "unsubscribed", "authenticated", "error", "pong"):
            return answer


async def collect(communicator, *, quiet: float = 0.5, skip=("heartbeat",)) -> list[dict]:
    """Every frame until none comes for `quiet` seconds."""
    frames = []
    while True:
        if await communicator.receive_nothing(timeout=quiet):
            return frames
        frame = await communicator.receive_json_from()
        if frame["type"] not in skip:
            frames.append(frame)
