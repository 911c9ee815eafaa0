"""The event forger (tests/programs/forger): an attacker's program deployed on the local
validator. It writes forged vault events into its own logs (`sol_log_data`) and relays CPIs,
so a test can wrap a genuine deposit between forged lines."""
from __future__ import annotations

import hashlib
import struct
import subprocess
from pathlib import Path

import pytest
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "scripts" / "build-test-programs.sh"
FORGER_SO = ROOT / "target" / "test-programs" / "event_forger.so"
LOADER_V2 = "BPFLoader2111111111111111111111111111111111"

LOG, INVOKE = 0, 1


def build_forger() -> Path:
    """Built from source with the offline SBF toolchain every run (cargo makes it incremental)."""
    result = subprocess.run(["bash", str(BUILD_SCRIPT)], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"building the event forger failed:\n{result.stdout}\n{result.stderr}")
    return FORGER_SO


def deploy_forger(chain, program_id: Pubkey | None = None) -> Pubkey:
    """An immutable (loader v2) program account holding the ELF, set with Surfpool's cheat code:
    what an attacker gets with `solana program deploy`."""
    program_id = program_id or Keypair().pubkey()
    elf = build_forger().read_bytes()
    chain._raw("surfnet_setAccount", [str(program_id), {
        "lamports": 10**9, "data": elf.hex(), "owner": LOADER_V2, "executable": True}])
    return program_id


def event_bytes(name: str, layout: str, *values) -> bytes:
    """An event exactly as the vault program encodes it: sha256("event:<Name>")[:8] + borsh."""
    return hashlib.sha256(f"event:{name}".encode()).digest()[:8] + struct.pack("<" + layout, *values)


# Vault program v2 layouts: every vault event carries the vault's `generation` before `seq`.
def forged_deposit(owner: Pubkey | str, vault: Pubkey | str, *, amount: int, seq: int, total: int | None = None,
                   locked: int = 0, timestamp: int = 1_700_000_000, generation: int = 0) -> bytes:
    total = amount if total is None else total
    return event_bytes("DepositEvent", "32s32sQQQQQQq", bytes(Pubkey.from_string(str(owner))),
                       bytes(Pubkey.from_string(str(vault))), amount, total, locked, total - locked, generation, seq,
                       timestamp)


def forged_withdrawal(owner, vault, *, amount: int, seq: int, total: int = 0, timestamp: int = 1_700_000_000,
                      generation: int = 0) -> bytes:
    return event_bytes("WithdrawEvent", "32s32sQQQQQQq", bytes(Pubkey.from_string(str(owner))),
                       bytes(Pubkey.from_string(str(vault))), amount, total, 0, total, generation, seq, timestamp)


def forged_vault_initialized(owner, vault, token_account, *, seq: int = 1, timestamp: int = 1_700_000_000,
                             generation: int = 0) -> bytes:
    return event_bytes("VaultInitializedEvent", "32s32s32sQQq", *(bytes(Pubkey.from_string(str(k)))
                       for k in (owner, vault, token_account)), generation, seq, timestamp)


def script(*steps: tuple[int, bytes]) -> bytes:
    return b"".join(struct.pack("<BH", kind, len(body)) + body for kind, body in steps)


def forger_instruction(forger: Pubkey, steps, accounts: list[AccountMeta]) -> Instruction:
    return Instruction(forger, script(*steps), accounts)
