"""TransactionBuilder: versioned transactions with a compute budget sized by simulation.

- Compute-unit limit: the simulated units plus a margin; the fallback (200,000) when the
  simulation reports none.
- Priority fee: fixed by config, else the median of the non-zero recent prioritization fees for
  the writable accounts (capped).
- A recent blockhash, with its `last_valid_block_height` carried to the caller.
"""
from __future__ import annotations

import base64
import math
import statistics
from dataclasses import dataclass
from typing import Sequence

from django.conf import settings
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from vaults.chain.client import ChainClient, get_chain_client

MAX_COMPUTE_UNIT_LIMIT = 1_400_000


@dataclass(frozen=True)
class BuiltTransaction:
    transaction: VersionedTransaction
    blockhash: str
    last_valid_block_height: int
    compute_unit_limit: int
    compute_unit_price: int
    simulated_units: int | None
    signers: tuple[str, ...]

    @property
    def is_signed(self) -> bool:
        return all(sig != Signature.default() for sig in self.transaction.signatures)

    def to_base64(self) -> str:
        return base64.b64encode(bytes(self.transaction)).decode()


class TransactionBuilder:
    def __init__(self, chain: ChainClient | None = None):
        self.chain = chain or get_chain_client()

    def build_deposit_transaction(self, instructions, fee_payer, signers: Sequence[Keypair] = ()) -> BuiltTransaction:
        return self.build(instructions, fee_payer, signers)

    def build_withdraw_transaction(self, instructions, fee_payer, signers: Sequence[Keypair] = ()) -> BuiltTransaction:
        return self.build(instructions, fee_payer, signers)

    def build(self, instructions: Sequence[Instruction], fee_payer: Pubkey,
              signers: Sequence[Keypair] = ()) -> BuiltTransaction:
        """Simulates first: a transaction that would fail raises TransactionFailed instead of
        reaching the user's wallet."""
        blockhash, last_valid_block_height = self.chain.get_latest_blockhash()
        price = self.priority_fee(instructions)

        probe = self._compile(fee_payer, instructions, MAX_COMPUTE_UNIT_LIMIT, price, blockhash)
        simulation = self.chain.simulate(self._unsigned(probe))
        if simulation.error is not None:
            raise simulation.error
        limit = self.compute_unit_limit(simulation.units_consumed)

        message = self._compile(fee_payer, instructions, limit, price, blockhash)
        transaction = VersionedTransaction(message, list(signers)) if signers else self._unsigned(message)
        signer_keys = tuple(str(k) for k in message.account_keys[: message.header.num_required_signatures])
        return BuiltTransaction(
            transaction=transaction,
            blockhash=str(blockhash),
            last_valid_block_height=last_valid_block_height,
            compute_unit_limit=limit,
            compute_unit_price=price,
            simulated_units=simulation.units_consumed,
            signers=signer_keys,
        )

    @staticmethod
    def compute_unit_limit(simulated_units: int | None) -> int:
        if not simulated_units:
            return settings.TX_FALLBACK_COMPUTE_UNIT_LIMIT
        with_margin = math.ceil(simulated_units * (100 + settings.TX_COMPUTE_UNIT_MARGIN_PERCENT) / 100)
        return min(MAX_COMPUTE_UNIT_LIMIT, with_margin)

    def priority_fee(self, instructions: Sequence[Instruction]) -> int:
        configured = settings.TX_PRIORITY_FEE_MICRO_LAMPORTS
        if configured not in (None, ""):
            return int(configured)
        writable = sorted({str(m.pubkey) for ix in instructions for m in ix.accounts if m.is_writable})
        fees = [f for f in self.chain.get_recent_prioritization_fees(writable[:128]) if f > 0]
        if not fees:
            return 0
        return min(int(statistics.median(fees)), settings.TX_PRIORITY_FEE_MAX_MICRO_LAMPORTS)

    @staticmethod
    def _compile(fee_payer, instructions, limit, price, blockhash) -> MessageV0:
        budget = [set_compute_unit_limit(limit), set_compute_unit_price(price)]
        return MessageV0.try_compile(fee_payer, budget + list(instructions), [], blockhash)

    @staticmethod
    def _unsigned(message: MessageV0) -> VersionedTransaction:
        placeholders = [Signature.default()] * message.header.num_required_signatures
        return VersionedTransaction.populate(message, placeholders)


__all__ = ["BuiltTransaction", "TransactionBuilder"]
