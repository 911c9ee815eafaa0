#!/usr/bin/env python3
"""Compute units per instruction of the real SBF programs in LiteSVM.

Depends on solders only (instructions are built from the IDL JSON here), so the same script runs
on solders 0.26 (the project's pinned version, classic SPL Token) and solders 0.29 (the p-token
build that mainnet runs). Units are split per program from the runtime's invoke/consumed log
tree: each program's exclusive units (its own code, syscalls and the charges for the CPIs it
makes) and its callees' units.

    python scripts/bench_program.py                 # print the table for this runtime
    python scripts/bench_program.py --json out.json # also write the raw figures
"""

from __future__ import annotations

import argparse
import json
import re
import struct
import sys
from importlib.metadata import version
from pathlib import Path

from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

ROOT = Path(__file__).resolve().parents[1]
TOKEN = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
ATA = Pubkey.from_string("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")
SYSTEM = Pubkey.from_string("11111111111111111111111111111111")
LOADER_V3 = Pubkey.from_string("BPFLoaderUpgradeab1e11111111111111111111111")
RUNS = 5


class IdlClient:
    """Builds instructions from an Anchor IDL: discriminator ++ borsh args, accounts in order."""

    def __init__(self, name: str):
        self.doc = json.loads((ROOT / "idl" / f"{name}.json").read_text())
        self.program_id = Pubkey.from_string(self.doc["address"])
        self.instructions = {ix["name"]: ix for ix in self.doc["instructions"]}

    def encode(self, ty, value) -> bytes:
        if ty == "u64":
            return struct.pack("<Q", value)
        if ty == "i64":
            return struct.pack("<q", value)
        if isinstance(ty, dict) and "option" in ty:
            return b"\0" if value is None else b"\1" + self.encode(ty["option"], value)
        if ty == "bool":
            return bytes([int(value)])
        if ty == "pubkey":
            return bytes(value)
        if isinstance(ty, dict) and "defined" in ty:  # unit enums: the variant index
            return bytes([value])
        raise ValueError(ty)

    def ix(self, name: str, *args, program_id: Pubkey | None = None, **accounts) -> Instruction:
        spec = self.instructions[name]
        data = bytes(spec["discriminator"]) + b"".join(self.encode(a["type"], v) for a, v in zip(spec["args"], args))
        metas = []
        for account in spec["accounts"]:
            address = accounts.get(account["name"]) or Pubkey.from_string(account["address"])
            metas.append(AccountMeta(address, account.get("signer", False), account.get("writable", False)))
        return Instruction(program_id or self.program_id, data, metas)


VAULT = IdlClient("collateral_vault")
PM = IdlClient("position_manager")


def pda(seeds, program=VAULT.program_id) -> Pubkey:
    return Pubkey.find_program_address(seeds, program)[0]


def ata(owner: Pubkey, mint: Pubkey) -> Pubkey:
    return pda([bytes(owner), bytes(TOKEN), bytes(mint)], ATA)


class World:
    def __init__(self):
        self.svm = LiteSVM()
        for name, program in (("collateral_vault", VAULT), ("position_manager", PM)):
            self.svm.add_program(program.program_id, (ROOT / "programs" / "deploy" / f"{name}.so").read_bytes())
        self.payer = self.funded()
        self.admin = self.funded()
        self.program_data = self.make_admin_upgrade_authority(VAULT.program_id)
        self.pm_program_data = self.make_admin_upgrade_authority(PM.program_id)
        self.mint = self.create_mint()
        self.authority = pda([b"vault_authority"])
        self.events = pda([b"__event_authority"])

    def make_admin_upgrade_authority(self, program_id: Pubkey) -> Pubkey:
        """Newer LiteSVMs deploy through the upgradeable loader with no upgrade authority, and
        `initialize_authority` (and the position manager's `initialize`) then (rightly) refuse
        everyone; record the admin as the upgrade authority, as a real deployment would have it."""
        from solders.account import Account

        program = self.svm.get_account(program_id)
        if program.owner != LOADER_V3:
            return program_id
        program_data = Pubkey.from_bytes(bytes(program.data)[4:36])
        account = self.svm.get_account(program_data)
        data = bytearray(account.data)
        data[12] = 1
        data[13:45] = bytes(self.admin.pubkey())
        self.svm.set_account(program_data, Account(account.lamports, bytes(data), account.owner, account.executable))
        return program_data

    def funded(self) -> Keypair:
        kp = Keypair()
        self.svm.airdrop(kp.pubkey(), 10**11)
        return kp

    def send(self, ixs, *signers):
        msg = Message.new_with_blockhash(ixs, self.payer.pubkey(), self.svm.latest_blockhash())
        keys = {s.pubkey(): s for s in (self.payer, *signers)}
        result = self.svm.send_transaction(VersionedTransaction(msg, list(keys.values())))
        self.svm.expire_blockhash()
        if not hasattr(result, "compute_units_consumed"):
            raise RuntimeError(str(result))
        return result

    def create_mint(self) -> Pubkey:
        mint = Keypair()
        rent = self.svm.minimum_balance_for_rent_exemption(82)
        create = Instruction(
            SYSTEM,
            struct.pack("<IQQ", 0, rent, 82) + bytes(TOKEN),
            [AccountMeta(self.payer.pubkey(), True, True), AccountMeta(mint.pubkey(), True, True)],
        )
        init = Instruction(TOKEN, bytes([20, 6]) + bytes(self.payer.pubkey()) + bytes([0]), [AccountMeta(mint.pubkey(), False, True)])
        self.send([create, init], mint)
        return mint.pubkey()

    def token_account(self, owner: Pubkey, amount: int) -> Pubkey:
        address = ata(owner, self.mint)
        create = Instruction(
            ATA,
            bytes([1]),
            [
                AccountMeta(self.payer.pubkey(), True, True),
                AccountMeta(address, False, True),
                AccountMeta(owner, False, False),
                AccountMeta(self.mint, False, False),
                AccountMeta(SYSTEM, False, False),
                AccountMeta(TOKEN, False, False),
            ],
        )
        mint_to = Instruction(
            TOKEN,
            bytes([7]) + struct.pack("<Q", amount),
            [AccountMeta(self.mint, False, True), AccountMeta(address, False, True), AccountMeta(self.payer.pubkey(), True, False)],
        )
        self.send([create, mint_to] if amount else [create])
        return address


def unit_tree(logs: list[str]) -> list[dict]:
    """Per invocation: program, depth, parent program, consumed, and exclusive units (consumed
    minus direct callees). CPI charges are paid by the caller, so they are in its exclusive."""
    invoke = re.compile(r"^Program (\w+) invoke \[(\d+)\]$")
    consumed = re.compile(r"^Program (\w+) consumed (\d+) of \d+ compute units$")
    finished = re.compile(r"^Program (\w+) (success|failed)")
    stack, done = [], []
    for line in logs:
        if m := invoke.match(line):
            parent = stack[-1]["program"] if stack else None
            stack.append({"program": m[1], "depth": int(m[2]), "parent": parent, "consumed": 0, "children": 0})
        elif (m := consumed.match(line)) and stack:
            stack[-1]["consumed"] = int(m[2])
        elif (m := finished.match(line)) and stack:
            # Builtins (System) log no `consumed` line; they finish all the same.
            frame = stack.pop()
            frame["exclusive"] = frame["consumed"] - frame["children"]
            if stack:
                stack[-1]["children"] += frame["consumed"]
            done.append(frame)
    return done


def breakdown(name: str, result) -> dict:
    tree = unit_tree(list(result.logs()))
    vault, pm, token = str(VAULT.program_id), str(PM.program_id), str(TOKEN)
    is_event = lambda f: f["program"] == vault and f["parent"] == vault  # noqa: E731
    return {
        "instruction": name,
        "total": result.compute_units_consumed(),
        "vault_exclusive": sum(f["exclusive"] for f in tree if f["program"] == vault and not is_event(f)),
        "pm_exclusive": sum(f["exclusive"] for f in tree if f["program"] == pm),
        "token": sum(f["consumed"] for f in tree if f["program"] == token and f["parent"] in (vault, pm)),
        "event_cpi": sum(f["consumed"] for f in tree if is_event(f)),
        "other_callees": sum(f["consumed"] for f in tree if f["parent"] == vault and f["program"] not in (vault, token)),
        "cpis": sum(1 for f in tree if f["depth"] > 1),
    }


def measure(name: str, build, signers, world: World) -> dict:
    samples = []
    for _ in range(RUNS):
        ixs, signer_override = build()
        samples.append(breakdown(name, world.send(ixs, *(signer_override or signers))))
    first = samples[0]
    first["stable"] = all(s == first for s in samples)
    return first


def scenario(world: World) -> list[dict]:
    owner = world.funded()
    user_token = world.token_account(owner.pubkey(), 10**12)
    vault = pda([b"vault", bytes(owner.pubkey())])
    vault_token = ata(vault, world.mint)
    config = pda([b"config"], PM.program_id)
    margin = pda([b"margin", bytes(owner.pubkey())], PM.program_id)
    caller = pda([b"vault_caller"], PM.program_id)
    admin = world.admin
    common = dict(event_authority=world.events, program=VAULT.program_id, vault_authority=world.authority)

    world.send([VAULT.ix("initialize_authority", admin=admin.pubkey(), collateral_mint=world.mint, program_data=world.program_data, **common)], admin)
    world.send([PM.ix("initialize", admin.pubkey(), admin=admin.pubkey(), config=config, program=PM.program_id, program_data=world.pm_program_data)], admin)
    world.send([VAULT.ix("add_authorized_program", PM.program_id, admin=admin.pubkey(), **common)], admin)

    flow = dict(owner=owner.pubkey(), vault=vault, vault_token_account=vault_token, user_token_account=user_token, collateral_mint=world.mint, **common)
    caller_lock = pda([b"caller_lock", bytes(vault), bytes(PM.program_id)])
    pm_accounts = dict(
        owner=owner.pubkey(), config=config, margin_account=margin, vault=vault, caller_lock=caller_lock, caller_authority=caller,
        vault_authority=world.authority, vault_event_authority=world.events,
    )
    keeper_vault = pda([b"vault", bytes(admin.pubkey())])
    keeper_token = ata(keeper_vault, world.mint)

    results = []

    def init_vault_fresh():
        fresh = world.funded()
        fresh_vault = pda([b"vault", bytes(fresh.pubkey())])
        ix = VAULT.ix(
            "initialize_vault", owner=fresh.pubkey(), vault=fresh_vault, vault_token_account=ata(fresh_vault, world.mint),
            collateral_mint=world.mint, **common,
        )
        return [ix], [fresh]

    results.append(measure("initialize_vault", init_vault_fresh, [], world))
    world.send([VAULT.ix("initialize_vault", owner=owner.pubkey(), vault=vault, vault_token_account=vault_token, collateral_mint=world.mint, **common)], owner)
    world.send([VAULT.ix("initialize_vault", owner=admin.pubkey(), vault=keeper_vault, vault_token_account=keeper_token, collateral_mint=world.mint, **common)], admin)
    world.send([PM.ix("create_margin_account", owner=owner.pubkey(), margin_account=margin, vault=vault)], owner)
    world.send([VAULT.ix("approve_caller", PM.program_id, None, owner=owner.pubkey(), vault=vault, caller_lock=caller_lock, **common)], owner)

    results.append(measure("deposit", lambda: ([VAULT.ix("deposit", 1_000_000, **flow)], None), [owner], world))
    results.append(measure("withdraw", lambda: ([VAULT.ix("withdraw", 100_000, **flow)], None), [owner], world))
    # A position of 50,000 backed by 10,000 more collateral; then 5,000 of margin back (health
    # rule: 1/10 of the position must stay locked).
    results.append(measure("lock (open_position via CPI)", lambda: ([PM.ix("open_position", 10_000, 50_000, **pm_accounts)], None), [owner], world))
    results.append(measure("unlock (close_position via CPI)", lambda: ([PM.ix("close_position", 5_000, 0, **pm_accounts)], None), [owner], world))
    liquidate = PM.ix(
        "liquidate", 1_000, keeper=admin.pubkey(), config=config, margin_account=margin, from_vault=vault,
        from_caller_lock=caller_lock, from_vault_token_account=vault_token, to_vault=keeper_vault, to_vault_token_account=keeper_token,
        collateral_mint=world.mint, caller_authority=caller, vault_authority=world.authority, vault_event_authority=world.events,
    )
    results.append(measure("transfer (liquidate via CPI)", lambda: ([liquidate], None), [admin], world))
    pause = lambda flag: VAULT.ix("set_paused", 2, flag, admin=admin.pubkey(), **common)  # noqa: E731
    results.append(measure("set_paused", lambda: ([pause(True)], None), [admin], world))
    return results


GOALS = {"deposit": 3_000, "withdraw": 3_000, "lock (open_position via CPI)": 3_800, "unlock (close_position via CPI)": 3_800}


def table(results: list[dict], runtime: str) -> str:
    # The goals are set on the p-token runtime; classic SPL Token alone spends ~6,170 CU.
    goals = GOALS if any(r["instruction"] == "deposit" and r["token"] < 1_000 for r in results) else {}
    lines = [
        f"Runtime: {runtime}. Figures are whole-transaction compute units (no compute-budget instructions); "
        f"each was measured {RUNS} times" + (
            " and was identical every time (`initialize_vault` aside: a new owner each run)."
            if all(r["stable"] for r in results if r["instruction"] != "initialize_vault")
            else "; runs differed (see --json)."
        ),
        "",
        "| instruction | whole tx | vault program (excl. callees, incl. CPI charges) | position manager (excl. callees, incl. CPI charges) | SPL Token | event self-CPI callee | ATA/System callees | CPIs | goal |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        goal = goals.get(r["instruction"])
        verdict = "" if goal is None else (f"≤ {goal:,} ✅" if r["total"] <= goal else f"≤ {goal:,} ❌")
        lines.append(
            f"| {r['instruction']} | {r['total']:,} | {r['vault_exclusive']:,} | {r['pm_exclusive']:,} | {r['token']:,} | "
            f"{r['event_cpi']:,} | {r['other_callees']:,} | {r['cpis']} | {verdict} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", type=Path, help="also write the raw figures")
    parser.add_argument("--update", type=Path, help="replace this runtime's section in a Markdown file")
    args = parser.parse_args()
    runtime = f"solders {version('solders')} LiteSVM"
    results = scenario(World())
    rendered = table(results, runtime)
    print(rendered)
    if args.json:
        args.json.write_text(json.dumps({"runtime": runtime, "results": results}, indent=2))
    if args.update:
        update_section(args.update, f"program-cu-solders-{version('solders')}", rendered)
    return 0


def update_section(path: Path, key: str, body: str) -> None:
    """Replaces the text between `<!-- begin:key -->` and `<!-- end:key -->`."""
    text = path.read_text()
    begin, end = f"<!-- begin:{key} -->", f"<!-- end:{key} -->"
    if begin not in text:
        raise SystemExit(f"{path} has no {begin} marker")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{begin}\n{body}\n{end}{tail}")


if __name__ == "__main__":
    sys.exit(main())
