"""Localnet only: the server signs for the generated dev wallets.

Enabled by the dev settings when the local validator's file provides the keys; the production
settings force it off, so a deployed back office can never hold a user's key.
"""
from django.conf import settings
from solders.keypair import Keypair


def dev_keypair_for(owner: str) -> Keypair | None:
    if not settings.DEV_SIGNER_ENABLED:
        return None
    for secret in settings.DEV_SIGNER_SECRET_KEYS:
        keypair = Keypair.from_bytes(bytes(secret))
        if str(keypair.pubkey()) == owner:
            return keypair
    return None
