"""The local validator for the back-office tests: starts the repo's host script (Surfpool with
both programs deployed, the mint, the VaultAuthority) and funds fresh test wallets on it."""
from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction
from spl.token.constants import TOKEN_PROGRAM_ID
from spl.token.instructions import MintToParams, mint_to

ROOT = Path(__file__).resolve().parent.parent
HOST_SCRIPT = ROOT / "scripts" / "localnet" / "localnet.js"
STARTUP_SECONDS = 90


@dataclass
class Localnet:
    process: subprocess.Popen
    description: dict

    @property
    def rpc_url(self) -> str:
        return self.description["rpc_url"]

    @property
    def mint(self) -> str:
        return self.description["usdt_mint"]

    @property
    def admin(self) -> Keypair:
        return Keypair.from_bytes(bytes(self.description["admin"]["secret_key"]))

    def dev_wallet(self, index: int = 0) -> Keypair:
        return Keypair.from_bytes(bytes(self.description["wallets"][index]["secret_key"]))

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def seq_base(chain, owner) -> int:
    """The number just before a vault's first event: vault program v2 numbers a vault's events
    from `(generation << 20) + 1`, the generation being the slot it was created in."""
    return chain.get_vault(owner).generation << 20


def start_localnet(workdir: Path) -> Localnet:
    out = workdir / "localnet.json"
    log = open(workdir / "localnet.log", "w")
    process = subprocess.Popen(
        ["node", str(HOST_SCRIPT), "--out", str(out), "--keys", str(workdir / "keys.json")],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ},
    )
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if out.exists():
            return Localnet(process, json.loads(out.read_text()))
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"the local validator did not start:\n{(workdir / 'localnet.log').read_text()}")


def fund_wallet(chain, localnet: Localnet, wallet: Pubkey, *, lamports: int = 10 * 10**9, tokens: int = 0) -> None:
    """SOL by airdrop; tokens minted for real by the mint authority (the localnet admin)."""
    from vaults.services.transaction_builder import TransactionBuilder

    sig = chain.rpc.request_airdrop(wallet, lamports).value
    height = chain.get_block_height()
    chain.confirm(str(sig), height + 150)
    if tokens:
        admin = localnet.admin
        ata = chain.associated_token_address(wallet)
        instructions = [
            chain.create_associated_token_account_instruction(admin.pubkey(), wallet),
            mint_to(MintToParams(program_id=TOKEN_PROGRAM_ID, mint=chain.usdt_mint, dest=ata,
                                 mint_authority=admin.pubkey(), amount=tokens)),
        ]
        built = TransactionBuilder(chain).build(instructions, admin.pubkey(), [admin])
        signature = chain.send(built.transaction)
        chain.confirm(signature, built.last_valid_block_height)


def sign(unsigned_base64: str, keypair: Keypair) -> str:
    """What the user's wallet does with the API's transaction."""
    import base64

    unsigned = VersionedTransaction.from_bytes(base64.b64decode(unsigned_base64))
    signed = VersionedTransaction(unsigned.message, [keypair])
    return base64.b64encode(bytes(signed)).decode()
