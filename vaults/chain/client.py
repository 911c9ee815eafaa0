"""The one place that talks to Solana.

JSON-RPC, the IDL coder (anchorpy), PDA derivation, and account and event decoding live here.
Services ask this module for typed values and instructions; nothing else speaks RPC.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
import struct
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
from anchorpy import Context, Idl, Program, Provider, Wallet
from django.conf import settings
from solana.exceptions import SolanaRpcException
from solana.rpc.api import Client
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Commitment
from solana.rpc.core import RPCException
from solana.rpc.types import DataSliceOpts, MemcmpOpts, TxOpts
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

logger = logging.getLogger(__name__)

TOKEN_PROGRAM_ID = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
ASSOCIATED_TOKEN_PROGRAM_ID = Pubkey.from_string("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")
SYSTEM_PROGRAM_ID = Pubkey.from_string("11111111111111111111111111111111")
COMPUTE_BUDGET_PROGRAM_ID = Pubkey.from_string("ComputeBudget111111111111111111111111111111")

VAULT_SEED = b"vault"
VAULT_AUTHORITY_SEED = b"vault_authority"
EVENT_AUTHORITY_SEED = b"__event_authority"
CALLER_AUTHORITY_SEED = b"vault_caller"
CALLER_LOCK_SEED = b"caller_lock"
# A CallerLock's cap when the owner set none (u64::MAX).
NO_CAP = 2**64 - 1
# Anchor's EVENT_IX_TAG_LE: marks the self-CPI that carries an event (emit_cpi!).
EVENT_IX_TAG = bytes.fromhex("e445a52e51cb9a1d")
TOKEN_ACCOUNT_SIZE = 165
TOKEN_AMOUNT_OFFSET = 64
# SPL Token `AccountState` byte: 0 uninitialized, 1 initialized, 2 frozen (by the mint's freeze
# authority; a frozen vault token account halts withdrawals and settlements).
TOKEN_STATE_OFFSET = 108
TOKEN_STATE_FROZEN = 2
# CollateralVault after its discriminator: owner, token_account, total, locked, available,
# deposited, withdrawn (u64), created_at (i64), bump (u8), event_seq, transferred in/out,
# generation (u64), then 24 reserved bytes.
VAULT_ACCOUNT_DISCRIMINATOR = hashlib.sha256(b"account:CollateralVault").digest()[:8]
_VAULT_LAYOUT = struct.Struct("<32s32sQQQQQqBQQQQ")
VAULT_ACCOUNT_MIN_SIZE = 8 + _VAULT_LAYOUT.size + 24
FAILED_LOG = re.compile(r"^Program (\w+) failed: custom program error")


class ChainError(Exception):
    pass


class ChainUnavailable(ChainError):
    """The RPC node did not answer (down, timing out, or refusing)."""


class TransactionFailed(ChainError):
    """The chain (or its simulation) rejected a transaction; `code` is the program's error code."""

    def __init__(self, message, *, code=None, name="transaction_failed", logs=(), raw_error=None):
        super().__init__(message)
        self.code = code
        self.name = name
        self.logs = list(logs)
        self.raw_error = raw_error


class TransactionAlreadyProcessed(ChainError):
    """The RPC node has already processed this exact transaction (JSON-RPC -32002, "already
    processed"): the same bytes, so the same signature, already landed or are in flight."""

    def __init__(self, signature: str):
        super().__init__(f"transaction {signature} was already processed")
        self.signature = signature


class TransactionExpired(ChainError):
    """The blockhash expired before the transaction was confirmed."""


class AttributionUnavailable(ChainError):
    """The node's answer lacks what attributing events needs (inner instructions with their
    stack heights). Nothing is decoded from such an answer: better loud than wrong."""


@dataclass(frozen=True)
class VaultAccount:
    address: str
    owner: str
    token_account: str
    total_balance: int
    locked_balance: int
    available_balance: int
    total_deposited: int
    total_withdrawn: int
    created_at: int
    event_seq: int
    total_transferred_in: int
    total_transferred_out: int
    # v2: the slot the vault was created in; its events are numbered from (generation << 20) + 1.
    generation: int = 0
    # v2: what each program holds locked in the vault, with the owner's cap (filled by
    # ChainClient.get_vault_with_locks; plain dicts so the value caches as it is).
    program_locks: tuple = ()


@dataclass(frozen=True)
class CallerLockAccount:
    """A program's locks in one vault and the owner's approval (the `CallerLock` account)."""

    address: str
    vault: str
    program_id: str
    locked: int
    cap: int | None  # None: no cap; 0: approval revoked

    def as_extension(self) -> dict:
        return {"program_id": self.program_id, "locked": self.locked, "cap": self.cap, "approved": self.cap != 0}


@dataclass(frozen=True)
class RemovedProgram:
    program_id: str
    releasable_at: int


@dataclass(frozen=True)
class AuthorizedProgram:
    program_id: str
    caller_authority: str


@dataclass(frozen=True)
class AuthorityAccount:
    address: str
    admin: str
    collateral_mint: str
    collateral_decimals: int
    deposit_paused: bool
    withdraw_paused: bool
    lock_paused: bool
    authorized_programs: tuple[AuthorizedProgram, ...]
    pending_admin: str | None = None  # None: no hand-over in progress
    stranded_lock_grace_seconds: int = 0
    removed_programs: tuple[RemovedProgram, ...] = ()


@dataclass(frozen=True)
class SimulationResult:
    units_consumed: int | None
    logs: list[str]
    error: TransactionFailed | None


@dataclass(frozen=True)
class ProgramEvent:
    index: int
    name: str
    fields: dict


@dataclass(frozen=True)
class ConfirmedTransaction:
    signature: str
    slot: int
    block_time: int | None
    failed: bool
    events: list[ProgramEvent] = field(default_factory=list)  # only those the vault program emitted
    logs: list[str] = field(default_factory=list)
    invokes_vault_program: bool = False  # ran the vault program (not merely listed it)


@dataclass(frozen=True)
class ChainMarker:
    instance: str  # 64 hex characters
    genesis_hash: str  # the genesis hash the chain was created with
    history_start_slot: int  # the running instance knows no transaction before this slot


# The local validator's instance marker: an address nobody holds a key to, written by
# scripts/localnet/localnet.js as MAGIC ++ instance id (32 bytes) ++ the genesis hash the chain was
# created with (32 bytes) ++ history start slot (u64 LE).
CHAIN_MARKER_ADDRESS = Pubkey(hashlib.sha256(b"collateral-vault:localnet-chain-instance").digest())
CHAIN_MARKER_MAGIC = b"cvms-chain-v1\0\0\0"
CHAIN_MARKER_SIZE = len(CHAIN_MARKER_MAGIC) + 32 + 32 + 8

B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {ch: i for i, ch in enumerate(B58_ALPHABET)}


def b58decode(text: str) -> bytes:
    """RPC JSON carries inner-instruction data in base58; solders has no generic decoder."""
    number = 0
    for ch in text:
        if ch not in _B58_INDEX:
            raise ValueError(f"invalid base58 character {ch!r}")
        number = number * 58 + _B58_INDEX[ch]
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    leading_zeros = len(text) - len(text.lstrip("1"))
    return b"\0" * leading_zeros + body


def b58encode(data: bytes) -> str:
    """The inverse of b58decode (memcmp filters take base58)."""
    number = int.from_bytes(data, "big")
    digits = []
    while number:
        number, digit = divmod(number, 58)
        digits.append(B58_ALPHABET[digit])
    leading_zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * leading_zeros + "".join(reversed(digits))


def parse_pubkey(value) -> Pubkey:
    """Strict base58 pubkey parsing; raises ValueError on anything else."""
    if isinstance(value, Pubkey):
        return value
    if not isinstance(value, str) or not 32 <= len(value) <= 44:
        raise ValueError("not a base58 public key")
    try:
        raw = b58decode(value)
    except ValueError as exc:
        raise ValueError("not a base58 public key") from exc
    if len(raw) != 32:
        raise ValueError("a public key is 32 bytes")
    return Pubkey(raw)


PACKET_DATA_SIZE = 1232  # the largest transaction the network accepts, signatures included
_NOT_REQUEST_ERRORS = (KeyboardInterrupt, SystemExit, GeneratorExit)


def decode_transaction(raw: bytes) -> VersionedTransaction:
    """Untrusted bytes -> a well-formed versioned transaction, or ValueError saying what is wrong.

    solders parses some malformed inputs that later code would trip on (1,232 zero bytes are a
    legacy transaction with no keys) and panics on others, so the shape is checked here."""
    if len(raw) > PACKET_DATA_SIZE:
        raise ValueError(f"a transaction is at most {PACKET_DATA_SIZE} bytes, this one is {len(raw)}")
    try:
        transaction = VersionedTransaction.from_bytes(raw)
        if bytes(transaction) != raw:
            raise ValueError("trailing or non-canonical bytes")
        message = transaction.message
        keys = list(message.account_keys)
        required = message.header.num_required_signatures
        instructions = list(message.instructions)
        lookups = list(getattr(message, "address_table_lookups", None) or [])
    except _NOT_REQUEST_ERRORS:
        raise
    except ValueError:
        raise
    except BaseException as exc:  # noqa: BLE001 - pyo3 panics are BaseExceptions
        raise ValueError("not a versioned transaction") from exc
    if required < 1 or not keys:
        raise ValueError("the transaction has no signer")
    if len(transaction.signatures) != required or len(keys) < required:
        raise ValueError("the signatures do not match the message's signers")
    if not instructions:
        raise ValueError("the transaction has no instruction")
    if lookups:
        raise ValueError("address lookup tables are not relayed")
    for ix in instructions:
        if ix.program_id_index >= len(keys) or any(index >= len(keys) for index in bytes(ix.accounts)):
            raise ValueError("an instruction refers to an account the message does not list")
    return transaction


def _account_discriminator(name: str) -> bytes:
    return hashlib.sha256(f"account:{name}".encode()).digest()[:8]


def _plain(value):
    """anchorpy containers -> JSON-ready Python values (pubkeys as base58 strings)."""
    if isinstance(value, Pubkey):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return list(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items() if not k.startswith("_")}
    if hasattr(value, "__dict__") and not isinstance(value, (int, str, bool, float)):
        return {k: _plain(v) for k, v in vars(value).items() if not k.startswith("_")}
    return value


class ChainClient:
    def __init__(self, *, rpc_url, program_id, usdt_mint, commitment="confirmed", timeout=10,
                 position_manager_id=None, idl_dir=None):
        self.rpc_url = rpc_url
        self.program_id = parse_pubkey(program_id)
        self.usdt_mint = parse_pubkey(usdt_mint)
        self.position_manager_id = parse_pubkey(position_manager_id) if position_manager_id else None
        self.commitment = Commitment(commitment)
        self.timeout = timeout
        self.idl_dir = Path(idl_dir or settings.IDL_DIR)
        self.rpc = Client(rpc_url, commitment=self.commitment, timeout=timeout)
        # Keep-alive connections for the raw calls too (httpx.Client is thread-safe).
        self._http = httpx.Client(timeout=timeout, limits=httpx.Limits(max_connections=32, max_keepalive_connections=32))

    # ---- IDL and coder ----

    def _program(self, idl_name, program_id):
        idl = Idl.from_json((self.idl_dir / f"{idl_name}.json").read_text())
        # The provider is never used for I/O here, but anchorpy would otherwise read
        # ~/.config/solana/id.json.
        provider = Provider(AsyncClient(self.rpc_url), Wallet(Keypair()))
        return Program(idl, program_id, provider)

    @cached_property
    def vault_program(self) -> Program:
        return self._program("collateral_vault", self.program_id)

    @cached_property
    def position_manager_program(self) -> Program | None:
        if not (self.idl_dir / "position_manager.json").exists() or self.position_manager_id is None:
            return None
        return self._program("position_manager", self.position_manager_id)

    @cached_property
    def _error_tables(self) -> dict[str, dict[int, tuple[str, str]]]:
        """Error codes per program: both programs number theirs from 6000."""
        tables = {}
        for idl_name, program_id in (("collateral_vault", self.program_id), ("position_manager", self.position_manager_id)):
            path = self.idl_dir / f"{idl_name}.json"
            if program_id is None or not path.exists():
                continue
            errors = json.loads(path.read_text()).get("errors", [])
            tables[str(program_id)] = {e["code"]: (e["name"], e.get("msg", e["name"])) for e in errors}
        return tables

    # ---- PDAs and addresses ----

    def vault_address(self, owner) -> Pubkey:
        return Pubkey.find_program_address([VAULT_SEED, bytes(parse_pubkey(owner))], self.program_id)[0]

    def vault_authority_address(self) -> Pubkey:
        return Pubkey.find_program_address([VAULT_AUTHORITY_SEED], self.program_id)[0]

    def event_authority_address(self) -> Pubkey:
        return Pubkey.find_program_address([EVENT_AUTHORITY_SEED], self.program_id)[0]

    def caller_authority_address(self, caller_program) -> Pubkey:
        return Pubkey.find_program_address([CALLER_AUTHORITY_SEED], parse_pubkey(caller_program))[0]

    def caller_lock_address(self, vault, caller_program) -> Pubkey:
        """`[b"caller_lock", vault, program]` under the vault program: the owner's approval of
        that program and what it holds locked in the vault."""
        seeds = [CALLER_LOCK_SEED, bytes(parse_pubkey(vault)), bytes(parse_pubkey(caller_program))]
        return Pubkey.find_program_address(seeds, self.program_id)[0]

    def associated_token_address(self, owner, mint=None) -> Pubkey:
        mint = parse_pubkey(mint) if mint else self.usdt_mint
        seeds = [bytes(parse_pubkey(owner)), bytes(TOKEN_PROGRAM_ID), bytes(mint)]
        return Pubkey.find_program_address(seeds, ASSOCIATED_TOKEN_PROGRAM_ID)[0]

    def vault_token_address(self, owner) -> Pubkey:
        return self.associated_token_address(self.vault_address(owner))

    # ---- instructions (IDL coder) ----

    def _vault_ix(self, name, args, accounts):
        common = {
            "vault_authority": self.vault_authority_address(),
            "event_authority": self.event_authority_address(),
            "program": self.program_id,
        }
        return self.vault_program.instruction[name](*args, ctx=Context(accounts={**common, **accounts}))

    def initialize_vault_instruction(self, owner) -> Instruction:
        owner = parse_pubkey(owner)
        return self._vault_ix("initialize_vault", [], {
            "owner": owner,
            "vault": self.vault_address(owner),
            "vault_token_account": self.vault_token_address(owner),
            "collateral_mint": self.usdt_mint,
            "token_program": TOKEN_PROGRAM_ID,
            "associated_token_program": ASSOCIATED_TOKEN_PROGRAM_ID,
            "system_program": SYSTEM_PROGRAM_ID,
        })

    def _balance_ix(self, name, owner, amount, user_token_account):
        owner = parse_pubkey(owner)
        return self._vault_ix(name, [amount], {
            "owner": owner,
            "vault": self.vault_address(owner),
            "vault_token_account": self.vault_token_address(owner),
            "user_token_account": parse_pubkey(user_token_account),
            "collateral_mint": self.usdt_mint,
            "token_program": TOKEN_PROGRAM_ID,
        })

    def deposit_instruction(self, owner, amount, user_token_account) -> Instruction:
        return self._balance_ix("deposit", owner, amount, user_token_account)

    def withdraw_instruction(self, owner, amount, user_token_account) -> Instruction:
        return self._balance_ix("withdraw", owner, amount, user_token_account)

    def lock_collateral_instruction(self, owner, amount, caller_authority) -> Instruction:
        """The vault's own lock instruction; only valid inside a CPI from an authorized program
        (which signs for caller_authority). Sent directly it must fail."""
        vault = self.vault_address(owner)
        return self._vault_ix("lock_collateral", [amount], {
            "caller_authority": parse_pubkey(caller_authority),
            "vault": vault,
            "caller_lock": self.caller_lock_address(vault, self.position_manager_id or self.program_id),
        })

    def approve_caller_instruction(self, owner, caller_program, cap: int | None = None) -> Instruction:
        """The owner's consent to `caller_program` locking collateral in their vault (at most
        `cap` held locked at once; None for no cap). The owner signs and pays the record's rent."""
        owner, caller_program = parse_pubkey(owner), parse_pubkey(caller_program)
        vault = self.vault_address(owner)
        return self._vault_ix("approve_caller", [caller_program, cap], {
            "owner": owner,
            "vault": vault,
            "caller_lock": self.caller_lock_address(vault, caller_program),
            "system_program": SYSTEM_PROGRAM_ID,
        })

    def position_manager_instruction(self, name, args, accounts) -> Instruction:
        program = self.position_manager_program
        if program is None:
            raise ChainError("the position manager IDL (idl/position_manager.json) is not available")
        return program.instruction[name](*args, ctx=Context(accounts=accounts))

    def position_manager_instruction_spec(self, name) -> dict:
        program = self.position_manager_program
        if program is None:
            raise ChainError("the position manager IDL (idl/position_manager.json) is not available")
        raw = json.loads((self.idl_dir / "position_manager.json").read_text())
        return next(ix for ix in raw["instructions"] if ix["name"] == name)

    def create_associated_token_account_instruction(self, payer, owner) -> Instruction:
        payer, owner = parse_pubkey(payer), parse_pubkey(owner)
        return Instruction(
            ASSOCIATED_TOKEN_PROGRAM_ID,
            bytes([1]),  # CreateIdempotent
            [
                AccountMeta(payer, True, True),
                AccountMeta(self.associated_token_address(owner), False, True),
                AccountMeta(owner, False, False),
                AccountMeta(self.usdt_mint, False, False),
                AccountMeta(SYSTEM_PROGRAM_ID, False, False),
                AccountMeta(TOKEN_PROGRAM_ID, False, False),
            ],
        )

    # ---- RPC plumbing ----

    def _call(self, what, fn, *args, **kwargs):
        started, failed = time.perf_counter(), True
        try:
            result = fn(*args, **kwargs)
            failed = False
            return result
        except (SolanaRpcException, httpx.HTTPError, OSError) as exc:
            raise ChainUnavailable(f"RPC {what} failed: {exc.__class__.__name__} {exc}") from exc
        finally:
            _observe_rpc(what, time.perf_counter() - started, failed)

    def _raw(self, method, params):
        """For the few methods solana-py 0.36 lacks (getRecentPrioritizationFees)."""
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        started = time.perf_counter()
        try:
            response = self._http.post(self.rpc_url, json=body)
            response.raise_for_status()
            payload = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            _observe_rpc(method, time.perf_counter() - started, True)
            raise ChainUnavailable(f"RPC {method} failed: {exc}") from exc
        _observe_rpc(method, time.perf_counter() - started, "error" in payload)
        if "error" in payload:
            raise ChainError(f"RPC {method}: {payload['error']}")
        return payload["result"]

    def _account_data(self, address) -> tuple[bytes, str] | None:
        resp = self._call("getAccountInfo", self.rpc.get_account_info, parse_pubkey(address))
        if resp.value is None:
            return None
        return bytes(resp.value.data), str(resp.value.owner)

    # ---- reads ----

    def is_healthy(self) -> bool:
        try:
            self._call("getSlot", self.rpc.get_slot)
            return True
        except ChainError:
            return False

    def get_slot(self) -> int:
        return self._call("getSlot", self.rpc.get_slot).value

    def decode_vault(self, address, data: bytes) -> VaultAccount:
        """A `CollateralVault` account, decoded with its fixed borsh layout (the IDL's: a test
        checks that both agree). anchorpy's coder takes ~250 µs an account, too slow for
        reconciling 100k vaults; this takes a few. Raises ChainError for any other account."""
        if len(data) < VAULT_ACCOUNT_MIN_SIZE or data[:8] != VAULT_ACCOUNT_DISCRIMINATOR:
            raise ChainError(f"{address} is not a CollateralVault")
        (owner, token_account, total_balance, locked_balance, available_balance, total_deposited, total_withdrawn,
         created_at, _bump, event_seq, transferred_in, transferred_out, generation) = _VAULT_LAYOUT.unpack_from(data, 8)
        return VaultAccount(
            address=str(address),
            owner=str(Pubkey.from_bytes(owner)),
            token_account=str(Pubkey.from_bytes(token_account)),
            total_balance=total_balance,
            locked_balance=locked_balance,
            available_balance=available_balance,
            total_deposited=total_deposited,
            total_withdrawn=total_withdrawn,
            created_at=created_at,
            event_seq=event_seq,
            total_transferred_in=transferred_in,
            total_transferred_out=transferred_out,
            generation=generation,
        )

    def decode_caller_lock(self, address, data: bytes) -> CallerLockAccount:
        if data[:8] != _account_discriminator("CallerLock"):
            raise ChainError(f"{address} is not a CallerLock")
        decoded = self.vault_program.coder.accounts.decode(data)
        return CallerLockAccount(
            address=str(address), vault=str(decoded.vault), program_id=str(decoded.caller_program),
            locked=decoded.locked, cap=None if decoded.cap == NO_CAP else decoded.cap,
        )

    def get_caller_lock(self, vault, caller_program) -> CallerLockAccount | None:
        """`caller_program`'s record in `vault`; None when the owner never approved it (or the
        record was closed)."""
        address = self.caller_lock_address(vault, caller_program)
        found = self._account_data(address)
        if found is None or found[1] != str(self.program_id):
            return None
        return self.decode_caller_lock(address, found[0])

    def get_caller_locks(self, vault) -> list[CallerLockAccount]:
        """Every program's record in `vault` (getProgramAccounts on the CallerLock
        discriminator and the vault address), ordered by program id."""
        discriminator = _account_discriminator("CallerLock")
        resp = self._call(
            "getProgramAccounts", self.rpc.get_program_accounts, self.program_id, self.commitment, "base64", None,
            [MemcmpOpts(offset=0, bytes=b58encode(discriminator)), MemcmpOpts(offset=8, bytes=str(parse_pubkey(vault)))],
        )
        locks = [self.decode_caller_lock(item.pubkey, bytes(item.account.data)) for item in resp.value]
        return sorted(locks, key=lambda lock: lock.program_id)

    def get_vault_with_locks(self, owner) -> VaultAccount | None:
        """The vault and, in `program_locks`, what each program holds locked in it."""
        vault = self.get_vault(owner)
        if vault is None:
            return None
        locks = tuple(lock.as_extension() for lock in self.get_caller_locks(vault.address))
        return VaultAccount(**{**vault.__dict__, "program_locks": locks})

    def account_exists(self, address) -> bool:
        return self._account_data(address) is not None

    def get_vault(self, owner) -> VaultAccount | None:
        address = self.vault_address(owner)
        found = self._account_data(address)
        if found is None or found[1] != str(self.program_id):
            return None
        return self.decode_vault(address, found[0])

    def get_vaults(self, owners) -> dict[str, VaultAccount | None]:
        """`get_vault` for several owners, read by getMultipleAccounts (100 a call, one slot each)."""
        owners = list(dict.fromkeys(str(owner) for owner in owners))
        reads = self.get_multiple_accounts([self.vault_address(owner) for owner in owners])
        return {owner: self._vault_from_read(read) for owner, read in zip(owners, reads)}

    def get_authority(self) -> AuthorityAccount | None:
        address = self.vault_authority_address()
        found = self._account_data(address)
        if found is None or found[1] != str(self.program_id):
            return None
        decoded = self.vault_program.coder.accounts.decode(found[0])
        programs = tuple(
            AuthorizedProgram(str(p.program_id), str(p.caller_authority))
            for p in decoded.authorized_programs[: decoded.authorized_program_count]
        )
        removed = tuple(
            RemovedProgram(str(p.program_id), p.releasable_at)
            for p in decoded.removed_programs[: decoded.removed_program_count]
        )
        return AuthorityAccount(
            address=str(address),
            admin=str(decoded.admin),
            collateral_mint=str(decoded.collateral_mint),
            collateral_decimals=decoded.collateral_decimals,
            deposit_paused=bool(decoded.deposit_paused),
            withdraw_paused=bool(decoded.withdraw_paused),
            lock_paused=bool(decoded.lock_paused),
            authorized_programs=programs,
            pending_admin=None if decoded.pending_admin == Pubkey.default() else str(decoded.pending_admin),
            stranded_lock_grace_seconds=decoded.stranded_lock_grace_seconds,
            removed_programs=removed,
        )

    # ---- administration (the staff console's four-eyes actions, console/services/chain_admin.py) ----

    PAUSE_ACTIONS = ("deposit", "withdraw", "lock")

    def set_paused_instruction(self, admin, action: str, paused: bool) -> Instruction:
        if action not in self.PAUSE_ACTIONS:
            raise ValueError(f"unknown pause action {action!r}")
        variant = getattr(self.vault_program.type["PauseAction"], action.capitalize())()
        return self._vault_ix("set_paused", [variant, bool(paused)], {"admin": parse_pubkey(admin)})

    def add_authorized_program_instruction(self, admin, program_id) -> Instruction:
        return self._vault_ix("add_authorized_program", [parse_pubkey(program_id)], {"admin": parse_pubkey(admin)})

    def remove_authorized_program_instruction(self, admin, program_id) -> Instruction:
        return self._vault_ix("remove_authorized_program", [parse_pubkey(program_id)], {"admin": parse_pubkey(admin)})

    def set_stranded_lock_grace_instruction(self, admin, seconds: int) -> Instruction:
        """How long after a program's removal its locks become releasable by the vault owners."""
        return self._vault_ix("set_stranded_lock_grace", [int(seconds)], {"admin": parse_pubkey(admin)})

    def propose_admin_instruction(self, admin, new_admin) -> Instruction:
        return self._vault_ix("propose_admin", [parse_pubkey(new_admin)], {"admin": parse_pubkey(admin)})

    def accept_admin_instruction(self, pending_admin) -> Instruction:
        return self._vault_ix("accept_admin", [], {"pending_admin": parse_pubkey(pending_admin)})

    def get_token_amount(self, token_account) -> int | None:
        """Raw SPL token account amount; None when the account does not exist."""
        found = self._account_data(token_account)
        if found is None or found[1] != str(TOKEN_PROGRAM_ID) or len(found[0]) < TOKEN_ACCOUNT_SIZE:
            return None
        return int.from_bytes(found[0][TOKEN_AMOUNT_OFFSET:TOKEN_AMOUNT_OFFSET + 8], "little")

    def get_sol_balance(self, address) -> int:
        return self._call("getBalance", self.rpc.get_balance, parse_pubkey(address)).value

    def get_latest_blockhash(self) -> tuple[Hash, int]:
        value = self._call("getLatestBlockhash", self.rpc.get_latest_blockhash, self.commitment).value
        return value.blockhash, value.last_valid_block_height

    def get_block_height(self) -> int:
        return self._call("getBlockHeight", self.rpc.get_block_height, self.commitment).value

    def get_recent_prioritization_fees(self, accounts) -> list[int]:
        result = self._raw("getRecentPrioritizationFees", [[str(a) for a in accounts]])
        return [int(entry["prioritizationFee"]) for entry in result]

    # ---- which chain this is (vaults/services/chain_identity.py) ----

    def get_genesis_hash(self) -> str:
        return str(self._call("getGenesisHash", self.rpc.get_genesis_hash).value)

    def read_chain_marker(self) -> ChainMarker | None:
        """The local validator's instance marker (CHAIN_MARKER_ADDRESS), when the chain has one.
        Surfpool's genesis hash names no chain: every instance in one process answers the same,
        and a chain restored into a new process answers another. So the host script
        (scripts/localnet/localnet.js) writes a random instance id and the genesis hash of the
        chain's birth there when it creates a chain, carries both across restarts with the rest of
        the state, and records from which slot the running instance holds transaction history.
        Real clusters have no such account (nobody holds a key to that address, so nobody can put
        data there): None."""
        found = self._account_data(CHAIN_MARKER_ADDRESS)
        if found is None:
            return None
        data, owner = found
        if owner != str(SYSTEM_PROGRAM_ID) or len(data) != CHAIN_MARKER_SIZE or not data.startswith(CHAIN_MARKER_MAGIC):
            return None
        body = data[len(CHAIN_MARKER_MAGIC):]
        return ChainMarker(instance=body[:32].hex(), genesis_hash=b58encode(body[32:64]),
                           history_start_slot=int.from_bytes(body[64:72], "little"))

    # ---- errors ----

    def describe_error(self, err, logs=()) -> TransactionFailed:
        """Turns an RPC transaction error (JSON form) into a TransactionFailed with the program's
        error name when the IDL knows the code."""
        code = None
        name = "transaction_failed"
        message = f"transaction failed: {err}"
        if isinstance(err, dict) and "InstructionError" in err:
            _index, detail = err["InstructionError"]
            if isinstance(detail, dict) and "Custom" in detail:
                code = int(detail["Custom"])
                table = self._error_tables.get(self._failing_program(logs) or str(self.program_id), {})
                name, message = table.get(code, ("custom_program_error", f"program error {code}"))
            else:
                name, message = str(detail), f"instruction error: {detail}"
        elif isinstance(err, str):
            name, message = err, f"transaction error: {err}"
        return TransactionFailed(message, code=code, name=name, logs=logs, raw_error=err)

    @staticmethod
    def _failing_program(logs) -> str | None:
        """The innermost program that failed: with CPI, the callee logs its failure first."""
        for line in logs:
            match = FAILED_LOG.match(line)
            if match:
                return match.group(1)
        return None

    # ---- simulation, sending, confirming ----

    def simulate(self, transaction: VersionedTransaction, *, verify_signatures=False) -> SimulationResult:
        resp = self._call(
            "simulateTransaction", self.rpc.simulate_transaction, transaction,
            sig_verify=verify_signatures, commitment=self.commitment,
        )
        value = json.loads(resp.to_json())["result"]["value"]
        logs = value.get("logs") or []
        error = self.describe_error(value["err"], logs) if value.get("err") is not None else None
        return SimulationResult(units_consumed=value.get("unitsConsumed"), logs=logs, error=error)

    def send(self, transaction: VersionedTransaction) -> str:
        """Sends without preflight: callers simulate first, with the same error mapping.

        Raw JSON-RPC rather than solana-py: solders' response parser panics (a BaseException,
        past every handler) on a -32002 error that carries no `data`, which is how nodes answer
        a transaction they have already processed."""
        signature = str(transaction.signatures[0])
        params = [base64.b64encode(bytes(transaction)).decode(), {
            "encoding": "base64", "skipPreflight": True, "preflightCommitment": str(self.commitment),
            "maxRetries": 5,
        }]
        body = {"jsonrpc": "2.0", "id": 1, "method": "sendTransaction", "params": params}
        try:
            response = httpx.post(self.rpc_url, json=body, timeout=self.timeout)
            response.raise_for_status()
            payload = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ChainUnavailable(f"RPC sendTransaction failed: {exc.__class__.__name__} {exc}") from exc
        error = payload.get("error") if isinstance(payload, dict) else None
        if error is not None:
            if self._is_already_processed(error):
                raise TransactionAlreadyProcessed(signature)
            message = error.get("message") if isinstance(error, dict) else error
            raise TransactionFailed(f"the RPC node refused the transaction: {message}", name="send_rejected")
        result = payload.get("result") if isinstance(payload, dict) else None
        if not isinstance(result, str):
            raise ChainUnavailable("RPC sendTransaction gave no signature")
        return result

    @staticmethod
    def _is_already_processed(error) -> bool:
        if not isinstance(error, dict):
            return False
        data = error.get("data") if isinstance(error.get("data"), dict) else {}
        return (data.get("err") == "AlreadyProcessed"
                or "already been processed" in str(error.get("message", "")).lower()
                or "alreadyprocessed" in str(error.get("message", "")).lower().replace(" ", ""))

    def signature_status(self, signature: str) -> dict | None:
        """The node's status of one signature (searching the transaction history), or None."""
        resp = self._call("getSignatureStatuses", self.rpc.get_signature_statuses,
                          [Signature.from_string(signature)], search_transaction_history=True)
        return json.loads(resp.to_json())["result"]["value"][0]

    def confirm(self, signature: str, last_valid_block_height: int, timeout=None) -> None:
        timeout = timeout or settings.CONFIRM_TIMEOUT_SECONDS
        deadline = time.monotonic() + timeout
        sig = Signature.from_string(signature)
        while time.monotonic() < deadline:
            resp = self._call("getSignatureStatuses", self.rpc.get_signature_statuses, [sig])
            status = json.loads(resp.to_json())["result"]["value"][0]
            if status is not None:
                if status.get("err") is not None:
                    raise self.describe_error(status["err"])
                if status.get("confirmationStatus") in ("confirmed", "finalized"):
                    return
            elif self.get_block_height() > last_valid_block_height:
                raise TransactionExpired(f"{signature} expired before confirmation")
            time.sleep(0.2)
        raise TransactionExpired(f"{signature} not confirmed within {timeout} s")

    def _transaction_json(self, signature: str) -> dict | None:
        """getTransaction (json encoding, v0 allowed) at this client's commitment; None when the
        chain does not know the signature."""
        resp = self._call(
            "getTransaction", self.rpc.get_transaction, Signature.from_string(signature),
            encoding="json", commitment=self.commitment, max_supported_transaction_version=0,
        )
        return json.loads(resp.to_json())["result"]

    def get_transaction(self, signature: str) -> ConfirmedTransaction | None:
        result = self._transaction_json(signature)
        if result is None:
            return None
        meta = result.get("meta") or {}
        logs = meta.get("logMessages") or []
        failed = meta.get("err") is not None
        events = [] if failed else self._decode_events(result)
        return ConfirmedTransaction(signature, result["slot"], result.get("blockTime"), failed, events, logs,
                                    invokes_vault_program=self.invokes_vault_program(result))

    # ---- events ----

    def decode_event_bytes(self, payload: bytes) -> tuple[str, dict] | None:
        """discriminator + borsh -> (event name, fields); None for anything else."""
        try:
            event = self.vault_program.coder.events.parse(payload)
        except Exception:  # noqa: BLE001 - foreign data fails to parse in many ways
            return None
        if event is None:
            return None
        return event.name, _plain(event.data)

    def _decode_events(self, result) -> list[ProgramEvent]:
        """The events the vault program itself emitted, and nothing else (docs/indexer.md,
        "Attribution"). Only the self-CPI counts: an inner instruction whose program is the vault
        program, invoked from a frame of the vault program, whose data carries the event tag and
        whose first account is the event authority PDA. The program refuses that invocation
        unless the event authority signed it (only the program can sign for its PDA), so a
        successful one is proof of origin. `Program data:` log lines are never read: any program
        can write them, and every genuine event also has its self-CPI."""
        keys = self._account_keys(result)
        program = str(self.program_id)
        event_authority = str(self.event_authority_address())
        payloads = []
        for ix, invoker in self._inner_instructions_with_invoker(result, keys):
            if keys[ix["programIdIndex"]] != program or invoker != program:
                continue
            accounts = ix.get("accounts") or []
            if not accounts or keys[accounts[0]] != event_authority:
                continue
            data = b58decode(ix["data"])
            if data.startswith(EVENT_IX_TAG):
                payloads.append(data[len(EVENT_IX_TAG):])
        events = []
        for payload in payloads:
            decoded = self.decode_event_bytes(payload)
            if decoded:
                events.append(ProgramEvent(len(events), decoded[0], decoded[1]))
        return events

    @staticmethod
    def _account_keys(result) -> list[str]:
        message = result["transaction"]["message"]
        loaded = (result.get("meta") or {}).get("loadedAddresses") or {}
        return message["accountKeys"] + loaded.get("writable", []) + loaded.get("readonly", [])

    @staticmethod
    def _inner_instructions_with_invoker(result, keys):
        """Each inner instruction with the program of the frame that invoked it. Within a
        top-level instruction's group, inner instructions are listed in execution order with
        their `stackHeight` (the top-level instruction is height 1): the invoker of one at height
        h is the latest instruction before it at height h - 1."""
        meta = result.get("meta") or {}
        groups = meta.get("innerInstructions")
        if groups is None:
            raise AttributionUnavailable("the node returned no inner instructions: events cannot be attributed")
        top_level = result["transaction"]["message"]["instructions"]
        for group in sorted(groups, key=lambda g: g["index"]):
            frames = [keys[top_level[group["index"]]["programIdIndex"]]]  # frames[h - 1]: program at height h
            for ix in group["instructions"]:
                height = ix.get("stackHeight")
                if not isinstance(height, int) or not 2 <= height <= len(frames) + 1:
                    raise AttributionUnavailable(
                        f"inner instruction without a usable stackHeight ({height!r}): events cannot be attributed")
                invoker = frames[height - 2]
                del frames[height - 1:]
                frames.append(keys[ix["programIdIndex"]])
                yield ix, invoker

    def invokes_vault_program(self, result) -> bool:
        """Whether the transaction ran the vault program at all (top level or by CPI), rather
        than merely listing it among its accounts."""
        keys = self._account_keys(result)
        program = str(self.program_id)
        if any(keys[ix["programIdIndex"]] == program for ix in result["transaction"]["message"]["instructions"]):
            return True
        groups = (result.get("meta") or {}).get("innerInstructions") or []
        return any(keys[ix["programIdIndex"]] == program for group in groups for ix in group["instructions"])

    # ==== indexer (monitoring/indexer): signatures, statuses, the live log subscription ====
    # Additive section: the event indexer's RPC and websocket calls.

    def get_signatures_for_address(self, address, *, before: str | None = None, until: str | None = None,
                                   limit: int = 1000) -> list[SignatureInfo]:
        """One page of an address's signatures, newest first (at this client's commitment)."""
        resp = self._call(
            "getSignaturesForAddress", self.rpc.get_signatures_for_address, parse_pubkey(address),
            before=Signature.from_string(before) if before else None,
            until=Signature.from_string(until) if until else None,
            limit=limit, commitment=self.commitment,
        )
        return [
            SignatureInfo(str(item.signature), item.slot, item.err is not None, item.block_time)
            for item in resp.value
        ]

    def get_signature_statuses(self, signatures: list[str]) -> list[SignatureStatus | None]:
        """Statuses in the order asked, searching the whole history; None for a signature the
        chain does not know. Single calls of at most 256 (surfpool refuses JSON-RPC batches)."""
        out: list[SignatureStatus | None] = []
        for start in range(0, len(signatures), MAX_SIGNATURE_STATUSES):
            chunk = signatures[start:start + MAX_SIGNATURE_STATUSES]
            resp = self._call(
                "getSignatureStatuses", self.rpc.get_signature_statuses,
                [Signature.from_string(s) for s in chunk], search_transaction_history=True,
            )
            for value in json.loads(resp.to_json())["result"]["value"]:
                out.append(None if value is None else SignatureStatus(
                    slot=value["slot"], failed=value.get("err") is not None,
                    confirmation_status=value.get("confirmationStatus") or "",
                ))
        return out

    def get_finalized_slot(self) -> int:
        return self._call("getSlot", self.rpc.get_slot, Commitment("finalized")).value

    def subscribe_program_logs(self, ws_url: str | None = None, **options) -> ProgramLogsSubscription:
        """`logsSubscribe` mentioning the vault program, at this client's commitment.
        Use as `async with chain.subscribe_program_logs() as sub: await sub.next_notifications(t)`."""
        return ProgramLogsSubscription(ws_url or self.ws_url, self.program_id, self.commitment, **options)

    @property
    def ws_url(self) -> str:
        """settings.SOLANA_WS_URL, else the RPC URL's websocket twin (Solana's port + 1)."""
        configured = getattr(settings, "SOLANA_WS_URL", None)
        if configured:
            return configured
        parts = urlsplit(self.rpc_url)
        netloc = f"{parts.hostname}:{parts.port + 1}" if parts.port else parts.netloc
        return urlunsplit(("wss" if parts.scheme == "https" else "ws", netloc, parts.path, "", ""))

    # ================================================================================================
    # Monitoring additions (BalanceTracker / VaultMonitor, monitoring/services/). Additive only:
    # nothing above depends on this section. Names are distinct from what the indexer may add.
    # ================================================================================================

    MAX_ACCOUNTS_PER_CALL = 100  # getMultipleAccounts' limit per call

    def get_multiple_accounts(self, addresses) -> list[AccountRead | None]:
        """getMultipleAccounts, up to 100 addresses per call. One plain method call per chunk:
        surfpool (and some providers) refuse JSON-RPC batch requests. Each account carries the
        slot of the call that read it; None where no account exists."""
        keys = [parse_pubkey(a) for a in addresses]
        out: list[AccountRead | None] = []
        for start in range(0, len(keys), self.MAX_ACCOUNTS_PER_CALL):
            chunk = keys[start:start + self.MAX_ACCOUNTS_PER_CALL]
            resp = self._call("getMultipleAccounts", self.rpc.get_multiple_accounts, chunk, self.commitment, "base64")
            slot = resp.context.slot
            for key, account in zip(chunk, resp.value):
                out.append(None if account is None else AccountRead(
                    address=str(key), slot=slot, owner=str(account.owner), lamports=account.lamports,
                    data=bytes(account.data),
                ))
        return out

    def list_vault_addresses(self) -> list[str]:
        """Every CollateralVault account the program owns (getProgramAccounts filtered on the
        account discriminator, no data returned): how reconciliation finds vaults the database
        does not know."""
        discriminator = hashlib.sha256(b"account:CollateralVault").digest()[:8]
        resp = self._call(
            "getProgramAccounts", self.rpc.get_program_accounts, self.program_id, self.commitment, "base64",
            DataSliceOpts(offset=0, length=0),
            [MemcmpOpts(offset=0, bytes=b58encode(discriminator))],
        )
        return [str(item.pubkey) for item in resp.value]

    def read_vaults(self, vaults, *, executor=None) -> list[VaultReading]:
        """Each (vault address, token account address) pair read in the same getMultipleAccounts
        call, so the vault ledger and the token amount it is compared with come from one slot:
        50 pairs per 100-address call. With an `executor` (a thread pool), the calls run
        concurrently; the readings still come back in the order asked."""
        pairs = [(str(v), str(t)) for v, t in vaults]
        half = self.MAX_ACCOUNTS_PER_CALL // 2
        chunks = [pairs[start:start + half] for start in range(0, len(pairs), half)]
        if executor is None:
            return [reading for chunk in chunks for reading in self.read_vault_pairs(chunk)]
        futures = [executor.submit(self.read_vault_pairs, chunk) for chunk in chunks]
        return [reading for future in futures for reading in future.result()]

    def read_vault_pairs(self, chunk: list[tuple[str, str]]) -> list[VaultReading]:
        """At most 50 (vault, token account) pairs in one getMultipleAccounts call."""
        flat = [a for pair in chunk for a in pair]
        accounts = self.get_multiple_accounts(flat)  # len(flat) <= 100: exactly one call
        slot = next((a.slot for a in accounts if a is not None), None)
        if slot is None:
            slot = self.get_slot()
        return [
            VaultReading(address=vault_address, token_account=token_address, slot=slot,
                         vault=self._vault_from_read(accounts[2 * index]),
                         token_amount=self._token_amount_from_read(accounts[2 * index + 1]),
                         token_frozen=self._token_frozen_from_read(accounts[2 * index + 1]))
            for index, (vault_address, token_address) in enumerate(chunk)
        ]

    def _vault_from_read(self, read: AccountRead | None) -> VaultAccount | None:
        if read is None or read.owner != str(self.program_id):
            return None
        try:
            return self.decode_vault(read.address, read.data)
        except Exception:  # noqa: BLE001 - another account type at that address
            return None

    @staticmethod
    def _token_amount_from_read(read: AccountRead | None) -> int | None:
        if read is None or read.owner != str(TOKEN_PROGRAM_ID) or len(read.data) < TOKEN_ACCOUNT_SIZE:
            return None
        return int.from_bytes(read.data[TOKEN_AMOUNT_OFFSET:TOKEN_AMOUNT_OFFSET + 8], "little")

    @staticmethod
    def _token_frozen_from_read(read: AccountRead | None) -> bool:
        """An SPL token account frozen by the mint's freeze authority."""
        if read is None or read.owner != str(TOKEN_PROGRAM_ID) or len(read.data) < TOKEN_ACCOUNT_SIZE:
            return False
        return read.data[TOKEN_STATE_OFFSET] == TOKEN_STATE_FROZEN

    def list_program_signatures(self, *, before: str | None = None, until: str | None = None,
                                limit: int = 1000) -> list[SignatureInfo]:
        """getSignaturesForAddress on the vault program: newest first, failed ones included."""
        return self.get_signatures_for_address(self.program_id, before=before, until=until, limit=limit)

    @cached_property
    def _vault_instruction_layouts(self) -> dict[bytes, tuple[str, list[str]]]:
        raw = json.loads((self.idl_dir / "collateral_vault.json").read_text())
        return {bytes(ix["discriminator"]): (ix["name"], [a["name"] for a in ix["accounts"]]) for ix in raw["instructions"]}

    def get_failed_vault_call(self, signature: str) -> FailedVaultCall | None:
        """A failed transaction in which the vault program itself raised the error: the error
        (code and IDL name), the vault instruction (decoded from its discriminator, accounts named
        from the IDL) and, for a CPI, the program that invoked it. None when the transaction
        succeeded, is unknown, or failed in another program."""
        result = self._transaction_json(signature)
        if result is None:
            return None
        meta = result.get("meta") or {}
        err = meta.get("err")
        if err is None:
            return None
        logs = meta.get("logMessages") or []
        program = str(self.program_id)
        failing = self._failing_program(logs)
        message = result["transaction"]["message"]
        loaded = meta.get("loadedAddresses") or {}
        keys = message["accountKeys"] + loaded.get("writable", []) + loaded.get("readonly", [])
        signers = keys[: message["header"]["numRequiredSignatures"]]
        failed_index = err["InstructionError"][0] if isinstance(err, dict) and "InstructionError" in err else None
        top = message["instructions"][failed_index] if failed_index is not None and failed_index < len(message["instructions"]) else None
        candidates, invoked_by = [], None
        if top is not None and keys[top["programIdIndex"]] == program:
            candidates = [top]
        elif top is not None:
            invoked_by = keys[top["programIdIndex"]]
            for group in meta.get("innerInstructions") or []:
                if group["index"] == failed_index:
                    candidates = [ix for ix in group["instructions"] if keys[ix["programIdIndex"]] == program]
        # The vault program must be the one that raised the error (not a caller that failed on
        # its own); without a failure log, only a top-level vault instruction counts.
        if failing != program and not (failing is None and top is not None and invoked_by is None and candidates):
            return None
        described = self.describe_error(err, logs)
        instruction, accounts = None, {}
        for ix in reversed(candidates):  # the failing call is the last vault call of its group
            data = b58decode(ix["data"])
            layout = self._vault_instruction_layouts.get(data[:8])
            if layout is None:
                continue
            instruction = layout[0]
            accounts = {name: keys[i] for name, i in zip(layout[1], ix["accounts"])}
            break
        return FailedVaultCall(
            signature=signature, slot=result["slot"], block_time=result.get("blockTime"),
            error_code=described.code, error_name=described.name, instruction=instruction,
            accounts=accounts, signers=list(signers), invoked_by=invoked_by, logs=logs,
        )


# ---- monitoring additions: value types (see the section at the end of ChainClient) ----


@dataclass(frozen=True)
class AccountRead:
    address: str
    slot: int
    owner: str
    lamports: int
    data: bytes


@dataclass(frozen=True)
class VaultReading:
    """A vault account and its token account, read in one call at `slot`."""

    address: str
    token_account: str
    slot: int
    vault: VaultAccount | None
    token_amount: int | None
    token_frozen: bool = False  # the token account is frozen by the mint's freeze authority


@dataclass(frozen=True)
class FailedVaultCall:
    signature: str
    slot: int
    block_time: int | None
    error_code: int | None
    error_name: str
    instruction: str | None
    accounts: dict
    signers: list
    invoked_by: str | None  # the top-level program when the vault was called by CPI
    logs: list


def _observe_rpc(method: str, seconds: float, failed: bool) -> None:
    """RPC latency and errors for /metrics (console/metrics.py); never fails the call."""
    try:
        from console.metrics import observe_rpc
    except Exception:  # noqa: BLE001 - the console app absent (a bare script)
        return
    observe_rpc(method, seconds, failed)


_clients: dict[tuple, ChainClient] = {}
_clients_lock = threading.Lock()


def get_chain_client() -> ChainClient:
    """The client for the current settings (read at call time, so tests can repoint it)."""
    key = (
        settings.SOLANA_RPC_URL, settings.PROGRAM_ID, settings.USDT_MINT, settings.SOLANA_COMMITMENT,
        settings.RPC_TIMEOUT_SECONDS, settings.POSITION_MANAGER_PROGRAM_ID, str(settings.IDL_DIR),
    )
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = ChainClient(
                rpc_url=key[0], program_id=key[1], usdt_mint=key[2], commitment=key[3], timeout=key[4],
                position_manager_id=key[5], idl_dir=key[6],
            )
        return client


def resolve_instruction_accounts(chain: ChainClient, program_id: Pubkey, spec: dict, known: dict, args: dict) -> dict:
    """Fills an IDL instruction's accounts from the IDL itself: fixed addresses, PDA seeds
    (const / account / arg), then the caller's `known` names. Used for the position manager,
    whose IDL evolves separately from this service."""
    resolved: dict[str, Pubkey] = {}
    pending = list(spec["accounts"])
    for _ in range(len(pending) + 1):
        still = []
        for account in pending:
            name = account["name"]
            if name in known:
                resolved[name] = parse_pubkey(known[name])
            elif account.get("address"):
                resolved[name] = parse_pubkey(account["address"])
            elif account.get("pda"):
                seeds = _pda_seed_bytes(account["pda"]["seeds"], resolved, args)
                if seeds is None:
                    still.append(account)
                    continue
                owner_program = program_id
                if account["pda"].get("program"):
                    program_seed = _pda_seed_bytes([account["pda"]["program"]], resolved, args)
                    if program_seed is None:
                        still.append(account)
                        continue
                    owner_program = Pubkey(program_seed[0])
                resolved[name] = Pubkey.find_program_address(seeds, owner_program)[0]
            else:
                still.append(account)
        if not still:
            return resolved
        if len(still) == len(pending):
            break
        pending = still
    missing = ", ".join(a["name"] for a in pending)
    raise ChainError(f"cannot resolve accounts for {spec['name']}: {missing}")


def _pda_seed_bytes(seeds, resolved, args):
    out = []
    for seed in seeds:
        kind = seed["kind"]
        if kind == "const":
            out.append(bytes(seed["value"]))
        elif kind == "account":
            root = seed["path"].split(".")[0]
            if root not in resolved:
                return None
            out.append(bytes(resolved[root]))
        elif kind == "arg":
            value = args.get(seed["path"])
            if value is None:
                return None
            out.append(value.to_bytes(8, "little") if isinstance(value, int) else bytes(parse_pubkey(value)))
        else:
            return None
    return out


# ---- indexer types (monitoring/indexer) ----

MAX_SIGNATURE_STATUSES = 256  # getSignatureStatuses' limit per call


@dataclass(frozen=True)
class SignatureInfo:
    """One entry of getSignaturesForAddress."""

    signature: str
    slot: int
    failed: bool
    block_time: int | None


@dataclass(frozen=True)
class SignatureStatus:
    slot: int
    failed: bool
    confirmation_status: str  # processed / confirmed / finalized


@dataclass(frozen=True)
class LogNotification:
    """One logsSubscribe notification: the transaction mentioned the program."""

    signature: str
    slot: int
    failed: bool


class ProgramLogsSubscription:
    """A live `logsSubscribe` (mentions: the program). Delivery is best effort: the indexer's
    backfill is what guarantees completeness. Socket failures surface as ChainUnavailable."""

    def __init__(self, ws_url: str, program_id: Pubkey, commitment: Commitment, *, open_timeout: float = 10,
                 ping_interval: float | None = 20, ping_timeout: float | None = 20):
        self.ws_url = ws_url
        self.program_id = program_id
        self.commitment = commitment
        self._connect_options = {"open_timeout": open_timeout, "ping_interval": ping_interval,
                                 "ping_timeout": ping_timeout, "close_timeout": 1, "max_size": None}
        self._connection = None
        self._socket = None

    async def __aenter__(self) -> "ProgramLogsSubscription":
        from solana.rpc.websocket_api import connect
        from solders.rpc.config import RpcTransactionLogsFilterMentions

        try:
            self._connection = connect(self.ws_url, **self._connect_options)
            self._socket = await self._connection.__aenter__()
            await self._socket.logs_subscribe(RpcTransactionLogsFilterMentions(self.program_id), commitment=self.commitment)
            await asyncio.wait_for(self._socket.recv(), timeout=self._connect_options["open_timeout"])  # the id
        except BaseException as exc:
            await self._close()
            if isinstance(exc, Exception) and not isinstance(exc, ChainError):
                raise ChainUnavailable(f"logsSubscribe on {self.ws_url} failed: {exc.__class__.__name__} {exc}") from exc
            raise
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self._close()

    async def _close(self) -> None:
        connection, socket, self._connection, self._socket = self._connection, self._socket, None, None
        if connection is None:
            return
        try:
            await asyncio.wait_for(connection.__aexit__(None, None, None), timeout=1)
        except Exception:  # noqa: BLE001 - closing a dead socket fails in many ways
            pass
        finally:
            # A silently dead peer never answers the closing handshake: drop the socket, or
            # websockets' own close task lingers for close_timeout and delays shutdown.
            if socket is not None and socket.transport is not None:
                socket.transport.abort()

    async def next_notifications(self, timeout: float) -> list[LogNotification]:
        """What arrives within `timeout` seconds ([] when nothing did). websockets' recv() is
        safe to cancel, so a timeout keeps the subscription."""
        from solders.rpc.responses import LogsNotification

        try:
            items = await asyncio.wait_for(self._socket.recv(), timeout=timeout)
        except asyncio.TimeoutError:
            return []
        except Exception as exc:  # noqa: BLE001 - closed, reset, ping timeout...
            raise ChainUnavailable(f"logs subscription lost: {exc.__class__.__name__} {exc}") from exc
        return [
            LogNotification(str(item.result.value.signature), item.result.context.slot, item.result.value.err is not None)
            for item in items if isinstance(item, LogsNotification)
        ]
