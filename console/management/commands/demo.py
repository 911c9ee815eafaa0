"""`make run DEMO=1`: seeds vaults for the local validator's dev wallets and keeps activity
going, so the live pages and the console move: deposits, withdrawals, and locks and unlocks
through the position manager (CPIManager, the same service the API uses), every few seconds,
plus now and then a withdrawal large enough for the security watch to raise an alert.

Local runs only: it needs the dev signer (the server holds the dev wallets' keys)."""
from __future__ import annotations

import logging
import random
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from solders.keypair import Keypair

from vaults.chain.client import get_chain_client
from vaults.errors import VaultServiceError
from vaults.services.cpi_manager import CPIManager
from vaults.services.vault_manager import VaultManager

logger = logging.getLogger("console.demo")
UNIT = 10 ** 6  # one USDT in base units
# A newcomer should see the alert workflow within a minute of `make run DEMO=1`, not after a
# lucky draw: the 15th operation is a large withdrawal, later ones happen with 1% probability.
FIRST_LARGE_WITHDRAWAL_AT = 15


class Command(BaseCommand):
    help = "Seed the dev wallets' vaults and keep deposits, withdrawals, locks and unlocks going (localnet only)."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=2.0, help="seconds between operations")
        parser.add_argument("--operations", type=int, default=0, help="stop after this many (0: run until stopped)")
        parser.add_argument("--seed", type=int, default=None)

    def handle(self, *args, interval, operations, seed, **options):
        if not settings.DEV_SIGNER_ENABLED or not settings.DEV_SIGNER_SECRET_KEYS:
            raise CommandError("the demo needs the local validator's dev wallets (make run, dev settings)")
        self.running = True
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        rng = random.Random(seed)
        owners = [str(Keypair.from_bytes(bytes(secret)).pubkey()) for secret in settings.DEV_SIGNER_SECRET_KEYS]
        chain = get_chain_client()
        self.vaults, self.cpi = VaultManager(chain), CPIManager(chain)
        for owner in owners:
            self._seed(owner, rng)
        self.stdout.write(f"demo: {len(owners)} vaults seeded; an operation every {interval:g} s", ending="\n")
        done = 0
        while self.running and (not operations or done < operations):
            owner = rng.choice(owners)
            try:
                self._step(chain, owner, rng, large=done == FIRST_LARGE_WITHDRAWAL_AT)
            except VaultServiceError as exc:
                logger.info("demo: %s for %s: %s", exc.code, owner[:8], exc.message)
            except Exception:  # noqa: BLE001 - the demo goes on whatever happens
                logger.exception("demo step failed")
            done += 1
            self._sleep(interval)

    def _stop(self, *_):
        self.running = False

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while self.running and time.monotonic() < deadline:
            time.sleep(0.1)

    def _seed(self, owner: str, rng: random.Random) -> None:
        chain = self.vaults.chain
        if chain.get_vault(owner) is None:
            self.vaults.initialize_vault(owner)
            self.vaults.deposit(owner, rng.randint(1_000, 20_000) * UNIT)
            logger.info("demo: vault of %s created and funded", owner[:8])

    def _step(self, chain, owner: str, rng: random.Random, *, large: bool = False) -> None:
        vault = chain.get_vault(owner)
        if vault is None:
            return self._seed(owner, rng)
        roll = rng.random()
        amount = rng.randint(1, 500) * UNIT + rng.randint(0, UNIT - 1)
        if large or roll < 0.01:
            # Large enough for the security watch's large_withdrawal alert (MONITOR_LARGE_WITHDRAWAL_AMOUNT).
            big = settings.MONITOR_LARGE_WITHDRAWAL_AMOUNT + 1_000 * UNIT
            held = chain.get_token_amount(chain.associated_token_address(owner)) or 0
            if held >= big:
                self.vaults.deposit(owner, big)
                self.vaults.withdraw(owner, big)
                logger.info("demo: large withdrawal of %d from %s", big, owner[:8])
            return None
        if roll < 0.40:
            self.vaults.deposit(owner, amount)
        elif roll < 0.60 and vault.available_balance >= amount:
            self.vaults.withdraw(owner, amount)
        elif roll < 0.80 and vault.available_balance >= amount:
            self.cpi.lock_collateral(owner, amount)
        elif vault.locked_balance > 0:
            self.cpi.unlock_collateral(owner, min(amount, vault.locked_balance))
        else:
            self.vaults.deposit(owner, amount)
        return None
