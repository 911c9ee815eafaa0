"""A LiteSVM world with the real SBF programs, the real SPL Token program, and Anchor clients
(anchorpy3) built from the published IDLs. Tests drive everything through this module."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from anchorpy import Context, EventParser, Idl, Program, Provider, Wallet
from solana.rpc.async_api import AsyncClient
from solders.account import Account
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction
from solders.transaction_metadata import FailedTransactionMetadata, TransactionMetadata
from spl.token.constants import ASSOCIATED_TOKEN_PROGRAM_ID, TOKEN_PROGRAM_ID
from spl.token.instructions import (
    FreezeAccountParams,
    InitializeMintParams,
    MintToParams,
    TransferCheckedParams,
    create_associated_token_account,
    freeze_account,
    get_associated_token_address,
    initialize_mint,
    mint_to,
    transfer_checked,
)
from solders.system_program import CreateAccountParams, create_account

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "programs" / "deploy"
IDL_DIR = ROOT / "idl"

SYSTEM_PROGRAM_ID = Pubkey.from_string("11111111111111111111111111111111")
LOADER_V3 = Pubkey.from_string("BPFLoaderUpgradeab1e11111111111111111111111")
LOADER_V4 = Pubkey.from_string("LoaderV411111111111111111111111111111111111")
# The audit's malicious CPI proxy (programs/caller-proxy, a test fixture): an address of our own.
PROXY_ID = Pubkey(bytes([42] * 32))
EVENT_IX_TAG = bytes.fromhex("e445a52e51cb9a1d")
DECIMALS = 6
U64_MAX = 2**64 - 1


def load_idl(name: str) -> tuple[Idl, Pubkey, dict]:
    raw = (IDL_DIR / f"{name}.json").read_text()
    doc = json.loads(raw)
    return Idl.from_json(raw), Pubkey.from_string(doc["address"]), doc


VAULT_IDL, VAULT_ID, VAULT_IDL_DOC = load_idl("collateral_vault")
PM_IDL, PM_ID, PM_IDL_DOC = load_idl("position_manager")

VAULT_AUTHORITY = Pubkey.find_program_address([b"vault_authority"], VAULT_ID)[0]
EVENT_AUTHORITY = Pubkey.find_program_address([b"__event_authority"], VAULT_ID)[0]
PM_CONFIG = Pubkey.find_program_address([b"config"], PM_ID)[0]


def vault_pda(owner: Pubkey) -> Pubkey:
    return Pubkey.find_program_address([b"vault", bytes(owner)], VAULT_ID)[0]


def margin_pda(owner: Pubkey, program_id: Pubkey = PM_ID) -> Pubkey:
    return Pubkey.find_program_address([b"margin", bytes(owner)], program_id)[0]


def caller_pda(program_id: Pubkey) -> Pubkey:
    return Pubkey.find_program_address([b"vault_caller"], program_id)[0]


def caller_lock_pda(vault: Pubkey, program_id: Pubkey = PM_ID) -> Pubkey:
    return Pubkey.find_program_address([b"caller_lock", bytes(vault), bytes(program_id)], VAULT_ID)[0]


def program_data_pda(program_id: Pubkey) -> Pubkey:
    return Pubkey.find_program_address([bytes(program_id)], LOADER_V3)[0]


def error_code(name: str, doc: dict = VAULT_IDL_DOC) -> int:
    return next(e["code"] for e in doc["errors"] if e["name"] == name)


def _program(idl: Idl, program_id: Pubkey) -> Program:
    # The provider is never contacted: we only build instructions and decode data.
    return Program(idl, program_id, Provider(AsyncClient("http://127.0.0.1:9"), Wallet(Keypair())))


VAULT = _program(VAULT_IDL, VAULT_ID)
PM = _program(PM_IDL, PM_ID)


def vault_ix(name: str, *args, **accounts) -> Instruction:
    return VAULT.instruction[name](*args, ctx=Context(accounts=accounts))


def pm_ix(name: str, *args, program_id: Pubkey = PM_ID, **accounts) -> Instruction:
    ix = PM.instruction[name](*args, ctx=Context(accounts=accounts))
    return Instruction(program_id, ix.data, ix.accounts) if program_id != PM_ID else ix


@dataclass
class Outcome:
    ok: bool
    logs: list[str]
    compute_units: int
    custom_error: int | None
    meta: object
    message: Message

    def events(self) -> list[tuple[str, dict, str]]:
        """Events of the vault program as (name, fields, source). v2 emits them only as self-CPIs;
        `Program data:` lines, if any ever appeared, would be listed with source "log"."""
        found = []
        EventParser(VAULT_ID, VAULT.coder).parse_logs(
            self.logs, lambda event: found.append((event.name, _fields(event.data), "log"))
        )
        for name, data in self.cpi_events():
            found.append((name, data, "cpi"))
        return found

    def event(self, name: str) -> dict:
        """The fields of the one event called `name`."""
        (fields,) = [fields for found, fields, _ in self.events() if found == name]
        return fields

    def cpi_events(self) -> list[tuple[str, dict]]:
        if not self.ok:
            return []
        keys = self.message.account_keys
        out = []
        for group in self.meta.inner_instructions():
            for inner in group:
                compiled = inner.instruction()
                if keys[compiled.program_id_index] != VAULT_ID:
                    continue
                data = bytes(compiled.data)
                if not data.startswith(EVENT_IX_TAG):
                    continue
                parsed = VAULT.coder.events.parse(data[8:])
                out.append((parsed.name, _fields(parsed.data)))
        return out


def _fields(container) -> dict:
    return {k: v for k, v in container.__dict__.items() if not k.startswith("_")} if hasattr(container, "__dict__") else dict(container)


class Chain:
    """One LiteSVM instance with both programs, a 6-decimal USDT-like mint and an admin."""

    def __init__(
        self,
        *,
        extra_programs: dict[Pubkey, str] | None = None,
        upgrade_authority: Pubkey | None = None,
        pm_upgrade_authority: Pubkey | None = None,
        proxy: bool = False,
        freezable_mint: bool = False,
    ):
        self.svm = LiteSVM()
        self.program_data = VAULT_ID
        self.pm_program_data = PM_ID
        if upgrade_authority is None:
            self.svm.add_program(VAULT_ID, (DEPLOY / "collateral_vault.so").read_bytes())
        else:
            self.program_data = self.deploy_upgradeable(VAULT_ID, "collateral_vault.so", upgrade_authority)
        if pm_upgrade_authority is None:
            self.svm.add_program(PM_ID, (DEPLOY / "position_manager.so").read_bytes())
        else:
            self.pm_program_data = self.deploy_upgradeable(PM_ID, "position_manager.so", pm_upgrade_authority)
        if proxy:
            self.svm.add_program(PROXY_ID, (DEPLOY / "caller_proxy.so").read_bytes())
        for program_id, name in (extra_programs or {}).items():
            self.svm.add_program(program_id, (DEPLOY / name).read_bytes())
        self.fee_payer = self.funded()
        self.admin = self.funded()
        self.mint_authority = Keypair()
        # USDT's mint has a freeze authority; `freezable_mint` gives ours one (the mint authority).
        self.mint = self.create_mint(self.mint_authority.pubkey(), freeze=freezable_mint)

    def deploy_upgradeable(self, program_id: Pubkey, name: str, authority: Pubkey) -> Pubkey:
        """Deploys as the upgradeable loader lays it out on a real cluster: a program account
        pointing at a ProgramData account that records the upgrade authority."""
        program_data = Pubkey.find_program_address([bytes(program_id)], LOADER_V3)[0]
        data = bytes([3, 0, 0, 0]) + bytes(8) + bytes([1]) + bytes(authority) + (DEPLOY / name).read_bytes()
        rent = self.svm.minimum_balance_for_rent_exemption
        self.svm.set_account(program_data, Account(rent(len(data)), data, LOADER_V3, False))
        pointer = bytes([2, 0, 0, 0]) + bytes(program_data)
        self.svm.set_account(program_id, Account(rent(len(pointer)), pointer, LOADER_V3, True))
        return program_data

    # -- plumbing -------------------------------------------------------------------------
    def funded(self, lamports: int = 100 * 10**9) -> Keypair:
        kp = Keypair()
        self.svm.airdrop(kp.pubkey(), lamports)
        return kp

    def send(self, instructions: list[Instruction], *signers: Keypair) -> Outcome:
        payer = self.fee_payer
        message = Message.new_with_blockhash(instructions, payer.pubkey(), self.svm.latest_blockhash())
        unique = {s.pubkey(): s for s in (payer, *signers)}
        tx = Transaction(list(unique.values()), message, self.svm.latest_blockhash())
        result = self.svm.send_transaction(tx)
        self.svm.expire_blockhash()
        if isinstance(result, TransactionMetadata):
            return Outcome(True, list(result.logs()), result.compute_units_consumed(), None, result, message)
        assert isinstance(result, FailedTransactionMetadata), result
        return Outcome(False, list(result.meta().logs()), result.meta().compute_units_consumed(), _custom_code(result.err()), result, message)

    def ok(self, instructions: list[Instruction], *signers: Keypair) -> Outcome:
        outcome = self.send(instructions, *signers)
        assert outcome.ok, "\n".join(outcome.logs)
        return outcome

    def account(self, address: Pubkey) -> Account | None:
        return self.svm.get_account(address)

    def token_amount(self, address: Pubkey) -> int:
        return int.from_bytes(bytes(self.account(address).data)[64:72], "little")

    def snapshot(self, *addresses: Pubkey) -> dict:
        return {a: self.account(a) for a in addresses}

    # -- SPL Token ------------------------------------------------------------------------
    def create_mint(self, authority: Pubkey, decimals: int = DECIMALS, freeze: bool = False) -> Pubkey:
        mint = Keypair()
        rent = self.svm.minimum_balance_for_rent_exemption(82)
        self.ok(
            [
                create_account(CreateAccountParams(from_pubkey=self.fee_payer.pubkey(), to_pubkey=mint.pubkey(), lamports=rent, space=82, owner=TOKEN_PROGRAM_ID)),
                initialize_mint(InitializeMintParams(decimals=decimals, program_id=TOKEN_PROGRAM_ID, mint=mint.pubkey(), mint_authority=authority, freeze_authority=authority if freeze else None)),
            ],
            mint,
        )
        return mint.pubkey()

    def token_account(self, owner: Pubkey, amount: int = 0, mint: Pubkey | None = None, authority: Keypair | None = None) -> Pubkey:
        mint = mint or self.mint
        ata = get_associated_token_address(owner, mint)
        if self.account(ata) is None:
            self.ok([create_associated_token_account(self.fee_payer.pubkey(), owner, mint)])
        if amount:
            self.mint_to(ata, amount, mint, authority or self.mint_authority)
        return ata

    def mint_to(self, destination: Pubkey, amount: int, mint: Pubkey | None = None, authority: Keypair | None = None) -> None:
        authority = authority or self.mint_authority
        self.ok([mint_to(MintToParams(program_id=TOKEN_PROGRAM_ID, mint=mint or self.mint, dest=destination, mint_authority=authority.pubkey(), amount=amount))], authority)

    def freeze(self, token_account: Pubkey) -> None:
        """The mint's freeze authority freezes a token account (SPL Token `FreezeAccount`)."""
        ix = freeze_account(FreezeAccountParams(program_id=TOKEN_PROGRAM_ID, account=token_account, mint=self.mint, authority=self.mint_authority.pubkey()))
        self.ok([ix], self.mint_authority)

    def transfer_tokens(self, source: Pubkey, destination: Pubkey, owner: Keypair, amount: int) -> None:
        self.ok(
            [transfer_checked(TransferCheckedParams(program_id=TOKEN_PROGRAM_ID, source=source, mint=self.mint, dest=destination, owner=owner.pubkey(), amount=amount, decimals=DECIMALS))],
            owner,
        )

    # -- vault program ----------------------------------------------------------------------
    def initialize_authority_ix(self, admin: Pubkey, program_data: Pubkey | None = None) -> Instruction:
        return vault_ix(
            "initialize_authority",
            admin=admin,
            vault_authority=VAULT_AUTHORITY,
            collateral_mint=self.mint,
            program_data=program_data or self.program_data,
            system_program=SYSTEM_PROGRAM_ID,
            event_authority=EVENT_AUTHORITY,
            program=VAULT_ID,
        )

    def initialize_authority(self) -> Outcome:
        return self.ok(
            [
                vault_ix(
                    "initialize_authority",
                    admin=self.admin.pubkey(),
                    vault_authority=VAULT_AUTHORITY,
                    collateral_mint=self.mint,
                    program_data=self.program_data,
                    system_program=SYSTEM_PROGRAM_ID,
                    event_authority=EVENT_AUTHORITY,
                    program=VAULT_ID,
                )
            ],
            self.admin,
        )

    def admin_ix(self, name: str, *args, admin: Keypair | None = None) -> tuple[Instruction, Keypair]:
        admin = admin or self.admin
        ix = vault_ix(name, *args, admin=admin.pubkey(), vault_authority=VAULT_AUTHORITY, event_authority=EVENT_AUTHORITY, program=VAULT_ID)
        return ix, admin

    def authorize(self, program_id: Pubkey) -> Outcome:
        ix, admin = self.admin_ix("add_authorized_program", program_id)
        return self.ok([ix], admin)

    def remove(self, program_id: Pubkey) -> Outcome:
        ix, admin = self.admin_ix("remove_authorized_program", program_id)
        return self.ok([ix], admin)

    def set_grace(self, seconds: int) -> Outcome:
        ix, admin = self.admin_ix("set_stranded_lock_grace", seconds)
        return self.ok([ix], admin)

    def advance_clock(self, seconds: int = 0, slots: int = 0) -> None:
        clock = self.svm.get_clock()
        clock.unix_timestamp += seconds
        clock.slot += slots
        self.svm.set_clock(clock)

    def set_paused(self, action: str, paused: bool) -> Outcome:
        ix, admin = self.admin_ix("set_paused", getattr(VAULT.type["PauseAction"], action)(), paused)
        return self.ok([ix], admin)

    def vault_state(self, owner: Pubkey):
        account = self.account(vault_pda(owner))
        return None if account is None else VAULT.coder.accounts.decode(bytes(account.data))

    def authority_state(self):
        return VAULT.coder.accounts.decode(bytes(self.account(VAULT_AUTHORITY).data))

    # -- position manager -----------------------------------------------------------------
    def initialize_manager_ix(self, keeper: Pubkey, admin: Pubkey, program_id: Pubkey = PM_ID, program_data: Pubkey | None = None) -> Instruction:
        config = Pubkey.find_program_address([b"config"], program_id)[0]
        ix = pm_ix(
            "initialize", keeper, program_id=program_id, admin=admin, config=config, program=program_id,
            program_data=program_data or (self.pm_program_data if program_id == PM_ID else program_id),
            system_program=SYSTEM_PROGRAM_ID,
        )
        return ix

    def initialize_manager(self, keeper: Pubkey, program_id: Pubkey = PM_ID) -> Outcome:
        return self.ok([self.initialize_manager_ix(keeper, self.admin.pubkey(), program_id)], self.admin)


def _custom_code(err) -> int | None:
    inner = getattr(err, "err", None)
    code = getattr(inner, "code", None)
    return code if isinstance(code, int) else None


@dataclass
class User:
    """A wallet with SOL, a USDT token account and (after `open_vault`) a vault."""

    chain: Chain
    keypair: Keypair
    token_account: Pubkey

    @property
    def pubkey(self) -> Pubkey:
        return self.keypair.pubkey()

    @property
    def vault(self) -> Pubkey:
        return vault_pda(self.pubkey)

    @property
    def vault_token_account(self) -> Pubkey:
        return get_associated_token_address(self.vault, self.chain.mint)

    @property
    def margin(self) -> Pubkey:
        return margin_pda(self.pubkey)

    def init_vault_ix(self) -> Instruction:
        return vault_ix(
            "initialize_vault",
            owner=self.pubkey,
            vault=self.vault,
            vault_token_account=self.vault_token_account,
            collateral_mint=self.chain.mint,
            vault_authority=VAULT_AUTHORITY,
            token_program=TOKEN_PROGRAM_ID,
            associated_token_program=ASSOCIATED_TOKEN_PROGRAM_ID,
            system_program=SYSTEM_PROGRAM_ID,
            event_authority=EVENT_AUTHORITY,
            program=VAULT_ID,
        )

    def flow_ix(self, name: str, amount: int, **overrides) -> Instruction:
        accounts = dict(
            owner=self.pubkey,
            vault_authority=VAULT_AUTHORITY,
            vault=self.vault,
            vault_token_account=self.vault_token_account,
            user_token_account=self.token_account,
            collateral_mint=self.chain.mint,
            token_program=TOKEN_PROGRAM_ID,
            event_authority=EVENT_AUTHORITY,
            program=VAULT_ID,
        )
        accounts.update(overrides)
        return vault_ix(name, amount, **accounts)

    def deposit_ix(self, amount: int, **overrides) -> Instruction:
        return self.flow_ix("deposit", amount, **overrides)

    def withdraw_ix(self, amount: int, **overrides) -> Instruction:
        return self.flow_ix("withdraw", amount, **overrides)

    def close_vault_ix(self) -> Instruction:
        return vault_ix(
            "close_vault",
            owner=self.pubkey,
            vault_authority=VAULT_AUTHORITY,
            vault=self.vault,
            vault_token_account=self.vault_token_account,
            collateral_mint=self.chain.mint,
            token_program=TOKEN_PROGRAM_ID,
            event_authority=EVENT_AUTHORITY,
            program=VAULT_ID,
        )

    def caller_lock(self, program_id: Pubkey = PM_ID) -> Pubkey:
        return caller_lock_pda(self.vault, program_id)

    def approve_ix(self, program_id: Pubkey = PM_ID, cap: int | None = None) -> Instruction:
        return vault_ix(
            "approve_caller", program_id, cap,
            owner=self.pubkey, vault_authority=VAULT_AUTHORITY, vault=self.vault, caller_lock=self.caller_lock(program_id),
            system_program=SYSTEM_PROGRAM_ID, event_authority=EVENT_AUTHORITY, program=VAULT_ID,
        )

    def revoke_ix(self, program_id: Pubkey = PM_ID) -> Instruction:
        return vault_ix(
            "revoke_caller", program_id,
            owner=self.pubkey, vault=self.vault, caller_lock=self.caller_lock(program_id), event_authority=EVENT_AUTHORITY, program=VAULT_ID,
        )

    def release_stranded_ix(self, program_id: Pubkey = PM_ID) -> Instruction:
        return vault_ix(
            "release_stranded_lock", program_id,
            owner=self.pubkey, vault_authority=VAULT_AUTHORITY, vault=self.vault, caller_lock=self.caller_lock(program_id),
            event_authority=EVENT_AUTHORITY, program=VAULT_ID,
        )

    def caller_lock_state(self, program_id: Pubkey = PM_ID):
        account = self.chain.account(self.caller_lock(program_id))
        if account is None or account.owner != VAULT_ID:
            return None
        return VAULT.coder.accounts.decode(bytes(account.data))

    def margin_state(self, program_id: Pubkey = PM_ID):
        return PM.coder.accounts.decode(bytes(self.chain.account(margin_pda(self.pubkey, program_id)).data))

    def pm_accounts(self, program_id: Pubkey = PM_ID) -> dict:
        return dict(
            owner=self.pubkey,
            config=Pubkey.find_program_address([b"config"], program_id)[0],
            margin_account=margin_pda(self.pubkey, program_id),
            vault=self.vault,
            caller_lock=self.caller_lock(program_id),
            caller_authority=caller_pda(program_id),
            vault_authority=VAULT_AUTHORITY,
            vault_event_authority=EVENT_AUTHORITY,
            vault_program=VAULT_ID,
        )

    def create_margin_ix(self, program_id: Pubkey = PM_ID) -> Instruction:
        return pm_ix(
            "create_margin_account",
            program_id=program_id,
            owner=self.pubkey,
            margin_account=margin_pda(self.pubkey, program_id),
            vault=self.vault,
            system_program=SYSTEM_PROGRAM_ID,
        )

    def open_position_ix(self, amount: int, size: int = 0, program_id: Pubkey = PM_ID) -> Instruction:
        return pm_ix("open_position", amount, size, program_id=program_id, **self.pm_accounts(program_id))

    def close_position_ix(self, amount: int, size: int = 0, program_id: Pubkey = PM_ID) -> Instruction:
        return pm_ix("close_position", amount, size, program_id=program_id, **self.pm_accounts(program_id))

    def lock_ix_direct(self, amount: int, caller: Pubkey, *, caller_signs: bool = True) -> Instruction:
        """`lock_collateral` sent straight to the vault program, not through a CPI."""
        ix = vault_ix(
            "lock_collateral",
            amount,
            caller_authority=caller,
            vault_authority=VAULT_AUTHORITY,
            vault=self.vault,
            caller_lock=self.caller_lock(),
            event_authority=EVENT_AUTHORITY,
            program=VAULT_ID,
        )
        if caller_signs:
            return ix
        accounts = list(ix.accounts)
        accounts[0] = AccountMeta(caller, is_signer=False, is_writable=False)
        return Instruction(ix.program_id, ix.data, accounts)

    def balances(self) -> tuple[int, int, int]:
        state = self.chain.vault_state(self.pubkey)
        return state.total_balance, state.locked_balance, state.available_balance


def liquidate_ix(chain: Chain, keeper: Keypair, victim: User, keeper_user: User, amount: int, program_id: Pubkey = PM_ID) -> Instruction:
    return pm_ix(
        "liquidate",
        amount,
        program_id=program_id,
        keeper=keeper.pubkey(),
        config=Pubkey.find_program_address([b"config"], program_id)[0],
        margin_account=margin_pda(victim.pubkey, program_id),
        from_vault=victim.vault,
        from_caller_lock=caller_lock_pda(victim.vault, program_id),
        from_vault_token_account=victim.vault_token_account,
        to_vault=keeper_user.vault,
        to_vault_token_account=keeper_user.vault_token_account,
        collateral_mint=chain.mint,
        token_program=TOKEN_PROGRAM_ID,
        caller_authority=caller_pda(program_id),
        vault_authority=VAULT_AUTHORITY,
        vault_event_authority=EVENT_AUTHORITY,
        vault_program=VAULT_ID,
    )


def new_user(
    chain: Chain,
    tokens: int = 0,
    *,
    open_vault: bool = True,
    margin: bool = False,
    approve: bool | None = None,
    keypair: Keypair | None = None,
) -> User:
    """A funded wallet; `margin=True` also onboards it with the position manager: its margin
    account and the owner's approval of the position manager (no cap), unless `approve=False`."""
    keypair = keypair or chain.funded()
    user = User(chain, keypair, chain.token_account(keypair.pubkey(), tokens))
    if open_vault:
        chain.ok([user.init_vault_ix()], keypair)
    if margin:
        chain.ok([user.create_margin_ix()], keypair)
    if approve if approve is not None else margin:
        chain.ok([user.approve_ix()], keypair)
    return user


class ProxyCall:
    """Instructions sent through the caller proxy (the audit's malicious program): the vault
    instruction as anchorpy builds it, re-routed so the proxy signs its caller PDA."""

    def __init__(self, chain: Chain, program_id: Pubkey = PROXY_ID):
        self.chain = chain
        self.program_id = program_id
        self.caller, self.bump = Pubkey.find_program_address([b"vault_caller"], program_id)

    def wrap(self, vault_instruction: Instruction) -> Instruction:
        """`vault_instruction`'s first account must be the caller authority."""
        rest = list(vault_instruction.accounts)[1:]
        accounts = [AccountMeta(self.caller, False, False), AccountMeta(VAULT_ID, False, False), *rest]
        return Instruction(self.program_id, bytes([self.bump]) + bytes(vault_instruction.data), accounts)

    def lock(self, user: "User", amount: int, caller_lock: Pubkey | None = None) -> Instruction:
        return self.wrap(vault_ix(
            "lock_collateral", amount, caller_authority=self.caller, vault_authority=VAULT_AUTHORITY, vault=user.vault,
            caller_lock=caller_lock or user.caller_lock(self.program_id), event_authority=EVENT_AUTHORITY, program=VAULT_ID,
        ))

    def unlock(self, user: "User", amount: int, caller_lock: Pubkey | None = None) -> Instruction:
        return self.wrap(vault_ix(
            "unlock_collateral", amount, caller_authority=self.caller, vault_authority=VAULT_AUTHORITY, vault=user.vault,
            caller_lock=caller_lock or user.caller_lock(self.program_id), event_authority=EVENT_AUTHORITY, program=VAULT_ID,
        ))

    def transfer(self, source: "User", destination: "User", amount: int, caller_lock: Pubkey | None = None) -> Instruction:
        return self.wrap(vault_ix(
            "transfer_collateral", amount, caller_authority=self.caller, vault_authority=VAULT_AUTHORITY,
            from_vault=source.vault, from_caller_lock=caller_lock or source.caller_lock(self.program_id),
            from_vault_token_account=source.vault_token_account, to_vault=destination.vault,
            to_vault_token_account=destination.vault_token_account, collateral_mint=self.chain.mint,
            token_program=TOKEN_PROGRAM_ID, event_authority=EVENT_AUTHORITY, program=VAULT_ID,
        ))
