"""CPIManager: collateral locks and unlocks go through the position manager program, which
calls the vault program by CPI and signs with its `[b"vault_caller"]` PDA; the vault accepts
only programs on the VaultAuthority's allow-list, and (vault program v2) only within what the
vault owner approved for that program.

Consent: the owner's approval of the position manager is a `CallerLock` account the owner
creates with `approve_caller`. A user's first lock carries that approval (no cap) in the same
transaction, which the owner signs: consent is the owner's signature on it, never implied by
the back office. An approval the owner revoked is respected, not renewed; a cap is enforced
before building.

The position manager's accounts are resolved from its IDL (fixed addresses and PDA seeds), so
this service follows the program as it evolves.
"""
from __future__ import annotations

from vaults.chain.client import ChainClient, ChainError, get_chain_client, parse_pubkey, resolve_instruction_accounts
from vaults.errors import InsufficientBalance, TransactionRejected, UpstreamUnavailable, VaultNotFound
from vaults.services.transaction_builder import TransactionBuilder
from vaults.services.vault_manager import VaultManager, VaultOperation, chain_errors

CREATE_MARGIN_ACCOUNT = "create_margin_account"
OPEN_POSITION = "open_position"
CLOSE_POSITION = "close_position"


class CPIManager:
    def __init__(self, chain: ChainClient | None = None, builder: TransactionBuilder | None = None):
        self.chain = chain or get_chain_client()
        self.builder = builder or TransactionBuilder(self.chain)

    def is_authorized(self, program) -> bool:
        """Reads the on-chain allow-list (the VaultAuthority account)."""
        program_id = str(parse_pubkey(program))
        with chain_errors():
            authority = self.chain.get_authority()
        if authority is None:
            return False
        return any(p.program_id == program_id for p in authority.authorized_programs)

    def lock_collateral(self, user: str, amount: int) -> VaultOperation:
        """Locks `amount` as the user's margin with the position manager (no position size: the
        health rule is the position manager's, for the positions it opens)."""
        with chain_errors():
            vault = self.chain.get_vault(user)
            if vault is None:
                raise VaultNotFound(f"no vault for {user}")
            if vault.available_balance < amount:
                raise InsufficientBalance(f"the vault's available balance is {vault.available_balance}, less than {amount}")
            approval = self._approval(vault.address)
            if approval is not None and approval.cap == 0:
                raise TransactionRejected(
                    "the vault owner revoked the position manager's approval to lock collateral",
                    code="caller_not_approved",
                )
            if approval is not None and approval.cap is not None and approval.locked + amount > approval.cap:
                raise InsufficientBalance(
                    f"the owner approved the position manager for at most {approval.cap} locked; "
                    f"{approval.locked} is locked already",
                    code="approval_cap_exceeded",
                )
            return self._through_position_manager(OPEN_POSITION, user, amount, approve=approval is None)

    def unlock_collateral(self, user: str, amount: int) -> VaultOperation:
        """Unlocks margin the position manager locked. Only what it locked itself: another
        program's locks are out of its reach (and the position manager keeps what backs open
        positions locked)."""
        with chain_errors():
            vault = self.chain.get_vault(user)
            if vault is None:
                raise VaultNotFound(f"no vault for {user}")
            approval = self._approval(vault.address)
            locked_here = approval.locked if approval is not None else 0
            if locked_here < amount:
                raise InsufficientBalance(
                    f"the position manager holds {locked_here} locked in the vault, less than {amount}",
                    code="insufficient_locked_balance",
                )
            return self._through_position_manager(CLOSE_POSITION, user, amount, approve=False)

    def _approval(self, vault_address: str):
        pm_id = self.chain.position_manager_id
        if pm_id is None:
            return None
        return self.chain.get_caller_lock(vault_address, pm_id)

    def _through_position_manager(self, instruction: str, user: str, amount: int, *, approve: bool) -> VaultOperation:
        pm_id = self.chain.position_manager_id
        if pm_id is None or not self.is_authorized(pm_id):
            raise UpstreamUnavailable("the position manager is not authorized on the vault program",
                                      code="position_manager_unauthorized")
        try:
            spec = self.chain.position_manager_instruction_spec(instruction)
        except ChainError as exc:
            raise UpstreamUnavailable(str(exc), code="position_manager_unavailable") from exc
        # `amount` of margin, position size 0 (see lock_collateral).
        accounts = self._accounts(spec, user, {"amount": amount, "size": 0})
        instructions = [self.chain.position_manager_instruction(instruction, [amount, 0], accounts)]
        margin_account = accounts.get("margin_account")
        if instruction == OPEN_POSITION and margin_account and not self.chain.account_exists(margin_account):
            # First position: the user's margin account is created in the same transaction.
            create_spec = self.chain.position_manager_instruction_spec(CREATE_MARGIN_ACCOUNT)
            create = self.chain.position_manager_instruction(
                CREATE_MARGIN_ACCOUNT, [], self._accounts(create_spec, user, {}))
            instructions.insert(0, create)
        if approve:
            # The owner's consent, signed by the owner in this very transaction.
            instructions.insert(0, self.chain.approve_caller_instruction(user, pm_id, None))
        return VaultManager(self.chain, self.builder)._complete(user, instructions)

    def position_accounts(self, instruction: str, user: str) -> dict:
        """The accounts of the position manager's `instruction` for `user` with no position size,
        resolved once: a load generator then builds many instructions of one kind."""
        return self._accounts(self.chain.position_manager_instruction_spec(instruction), user, {"amount": 0, "size": 0})

    def _accounts(self, spec: dict, user: str, args: dict) -> dict:
        owner = parse_pubkey(user)
        known = {a["name"]: owner for a in spec["accounts"] if a.get("signer")}
        vault = self.chain.vault_address(owner)
        known.update({
            "vault": vault,
            "caller_lock": self.chain.caller_lock_address(vault, self.chain.position_manager_id),
            "vault_authority": self.chain.vault_authority_address(),
            "vault_program": self.chain.program_id,
            "vault_event_authority": self.chain.event_authority_address(),
            "caller_authority": self.chain.caller_authority_address(self.chain.position_manager_id),
        })
        known = {name: value for name, value in known.items() if any(a["name"] == name for a in spec["accounts"])}
        return resolve_instruction_accounts(self.chain, self.chain.position_manager_id, spec, known, args)
