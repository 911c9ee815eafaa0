"""VaultManager: the seeds' vault lifecycle operations.

Non-custodial by design: each operation checks what it can before building (vault exists,
balance suffices), then returns a simulated, ready-to-sign transaction for the user's wallet.
Only when the localnet dev signer holds the user's key does it sign, submit, confirm and record
the transaction itself, answering with the signature as the seeds show.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from solders.transaction import VersionedTransaction

from vaults.cache import NOT_READ
from vaults.cache_keys import balance_key
from vaults.chain.client import (
    ASSOCIATED_TOKEN_PROGRAM_ID,
    COMPUTE_BUDGET_PROGRAM_ID,
    ChainClient,
    ChainError,
    ChainUnavailable,
    TransactionAlreadyProcessed,
    TransactionExpired,
    TransactionFailed,
    VaultAccount,
    get_chain_client,
    parse_pubkey,
)
from vaults.errors import (
    DuplicateTransaction,
    Forbidden,
    InsufficientBalance,
    InvalidRequest,
    TransactionRejected,
    UpstreamUnavailable,
    VaultAlreadyExists,
    VaultNotFound,
)
from vaults.services.dev_signer import dev_keypair_for
from vaults.services.ledger import record_transaction
from vaults.services.transaction_builder import BuiltTransaction, TransactionBuilder

logger = logging.getLogger(__name__)

# Program error codes (idl/collateral_vault.json) that mean "not enough money", answered 409.
BALANCE_ERROR_CODES = {6021, 6022}
# Blocks a relayed transaction stays valid for; the blockhash itself is checked by simulation.
RELAY_VALIDITY_BLOCKS = 150


@dataclass(frozen=True)
class VaultOperation:
    """Either a submitted transaction's signature or a transaction for the user to sign."""

    vault: str
    signature: str | None = None
    built: BuiltTransaction | None = None


@contextmanager
def chain_errors():
    """Maps chain failures to the API's errors, in one place."""
    try:
        yield
    except ChainUnavailable as exc:
        raise UpstreamUnavailable(str(exc)) from exc
    except TransactionExpired as exc:
        raise TransactionRejected(str(exc), code="blockhash_expired") from exc
    except TransactionFailed as exc:
        extra = {"program_error": exc.name, "program_error_code": exc.code, "logs": exc.logs[-10:]}
        if exc.code in BALANCE_ERROR_CODES:
            raise InsufficientBalance(str(exc), extra=extra) from exc
        raise TransactionRejected(str(exc), code=_snake(exc.name), extra=extra) from exc
    except TransactionAlreadyProcessed as exc:
        raise DuplicateTransaction(str(exc), extra={"signature": exc.signature}) from exc
    except ChainError as exc:  # an answer the client could not use: the upstream's fault
        raise UpstreamUnavailable(str(exc)) from exc


def _snake(name: str) -> str:
    out = "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
    return out or "transaction_rejected"


class VaultManager:
    def __init__(self, chain: ChainClient | None = None, builder: TransactionBuilder | None = None):
        self.chain = chain or get_chain_client()
        self.builder = builder or TransactionBuilder(self.chain)

    # ---- reads ----

    def get_vault_info(self, user: str, cached=NOT_READ) -> VaultAccount:
        """The on-chain vault (the source of truth) with what each program holds locked in it,
        cached for BALANCE_CACHE_SECONDS. `cached`: the cache entry when the caller read it
        already (None when it was absent)."""
        key = balance_key(user)
        if cached is NOT_READ:
            cached = cache.get(key)
        if cached is not None:
            return VaultAccount(**cached)
        with chain_errors():
            vault = self.chain.get_vault_with_locks(user)
        if vault is None:
            raise VaultNotFound(f"no vault for {user}")
        if settings.BALANCE_CACHE_SECONDS > 0:
            cache.set(key, vault.__dict__, timeout=settings.BALANCE_CACHE_SECONDS)
        return vault

    # ---- writes ----

    def initialize_vault(self, user: str) -> VaultOperation:
        with chain_errors():
            if self.chain.get_vault(user) is not None:
                raise VaultAlreadyExists(f"{user} already has a vault")
            return self._complete(user, [self.chain.initialize_vault_instruction(user)])

    def deposit(self, user: str, amount: int) -> VaultOperation:
        with chain_errors():
            self._existing_vault(user)
            source = self.chain.associated_token_address(user)
            held = self.chain.get_token_amount(source) or 0
            if held < amount:
                raise InsufficientBalance(
                    f"the wallet's token account holds {held}, less than {amount}",
                    code="insufficient_funds", extra={"token_account": str(source), "balance": held},
                )
            return self._complete(user, [self.chain.deposit_instruction(user, amount, source)])

    def withdraw(self, user: str, amount: int) -> VaultOperation:
        with chain_errors():
            vault = self._existing_vault(user)
            if vault.available_balance < amount:
                raise InsufficientBalance(
                    f"the vault's available balance is {vault.available_balance}, less than {amount}",
                    extra={"available_balance": vault.available_balance, "locked_balance": vault.locked_balance},
                )
            destination = self.chain.associated_token_address(user)
            instructions = []
            if self.chain.get_token_amount(destination) is None:
                instructions.append(self.chain.create_associated_token_account_instruction(user, user))
            instructions.append(self.chain.withdraw_instruction(user, amount, destination))
            return self._complete(user, instructions)

    def submit(self, signed: VersionedTransaction, *, acting_wallet: str | None) -> str:
        """Relays a transaction the user signed: only ours, fully signed, and (for a wallet login)
        signed by that wallet. Confirms it and records its events.

        Relaying is idempotent: a transaction the chain already knows (a client's retry, or two
        identical submits racing) answers with its signature instead of being sent again."""
        self.validate_relayable(signed, acting_wallet)
        signature = str(signed.signatures[0])
        with chain_errors():
            if self.chain.signature_status(signature) is None:
                simulation = self.chain.simulate(signed, verify_signatures=True)
                if simulation.error is not None:
                    raise simulation.error
                last_valid = self.chain.get_block_height() + RELAY_VALIDITY_BLOCKS
                try:
                    self.chain.send(signed)
                except TransactionAlreadyProcessed:
                    pass  # a concurrent identical submit sent it first: confirm that one
            else:
                last_valid = self.chain.get_block_height() + RELAY_VALIDITY_BLOCKS
            self.chain.confirm(signature, last_valid)
        self._record(signature)
        return signature

    def validate_relayable(self, signed: VersionedTransaction, acting_wallet: str | None) -> None:
        message = signed.message
        keys = list(message.account_keys)
        allowed = {self.chain.program_id, COMPUTE_BUDGET_PROGRAM_ID, ASSOCIATED_TOKEN_PROGRAM_ID}
        if self.chain.position_manager_id:
            allowed.add(self.chain.position_manager_id)
        for ix in message.instructions:
            if ix.program_id_index >= len(keys) or keys[ix.program_id_index] not in allowed:
                raise InvalidRequest("the transaction calls a program this service does not relay",
                                     code="unsupported_instruction")
        if not any(keys[ix.program_id_index] == self.chain.program_id for ix in message.instructions):
            raise InvalidRequest("the transaction has no collateral vault instruction", code="unsupported_instruction")
        if not all(signed.verify_with_results()):
            raise InvalidRequest("a signature is missing or invalid", code="invalid_signature")
        signers = {str(k) for k in keys[: message.header.num_required_signatures]}
        if acting_wallet is not None and acting_wallet not in signers:
            raise Forbidden("this login may only submit transactions its wallet signed")

    # ---- helpers ----

    def _existing_vault(self, user: str) -> VaultAccount:
        vault = self.chain.get_vault(user)
        if vault is None:
            raise VaultNotFound(f"no vault for {user}; initialize it first")
        return vault

    def _complete(self, user: str, instructions) -> VaultOperation:
        owner = parse_pubkey(user)
        vault = str(self.chain.vault_address(owner))
        keypair = dev_keypair_for(user)
        built = self.builder.build(instructions, owner, [keypair] if keypair else [])
        if keypair is None:
            return VaultOperation(vault=vault, built=built)
        # Byte-identical builds (same wallet, amount and blockhash) share one signature: only the
        # first is executed; chain_errors answers the others 409 duplicate_transaction.
        signature = self.chain.send(built.transaction)
        self.chain.confirm(signature, built.last_valid_block_height)
        self._record(signature)
        return VaultOperation(vault=vault, signature=signature)

    def _record(self, signature: str) -> None:
        """The transaction is final on chain whatever happens here; a failure to record is
        logged and left to the indexer's backfill."""
        try:
            record_transaction(signature, chain=self.chain)
        except Exception:  # noqa: BLE001
            logger.exception("could not record %s; the indexer will backfill it", signature)
