"""CPIManager: collateral locks and unlocks go through the position manager program, which
calls the vault program by CPI and signs with its `[b"vault_caller"]` PDA; the vault accepts
only programs on the VaultAuthority's allow-list.

The position manager's accounts are resolved from its IDL (fixed addresses and PDA seeds), so
this service follows the program as it evolves.
"""
from __future__ import annotations

from vaults.chain.client import ChainClient, ChainError, get_chain_client, parse_pubkey, resolve_instruction_accounts
from vaults.errors import InsufficientBalance, UpstreamUnavailable, VaultNotFound
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
        with chain_errors():
            vault = self.chain.get_vault(user)
            if vault is None:
                raise VaultNotFound(f"no vault for {user}")
            if vault.available_balance < amount:
                raise InsufficientBalance(f"the vault's available balance is {vault.available_balance}, less than {amount}")
            return self._through_position_manager(OPEN_POSITION, user, amount)

    def unlock_collateral(self, user: str, amount: int) -> VaultOperation:
        with chain_errors():
            vault = self.chain.get_vault(user)
            if vault is None:
                raise VaultNotFound(f"no vault for {user}")
            if vault.locked_balance < amount:
                raise InsufficientBalance(
                    f"the vault's locked balance is {vault.locked_balance}, less than {amount}",
                    code="insufficient_locked_balance",
                )
            return self._through_position_manager(CLOSE_POSITION, user, amount)

    def _through_position_manager(self, instruction: str, user: str, amount: int) -> VaultOperation:
        pm_id = self.chain.position_manager_id
        if pm_id is None or not self.is_authorized(pm_id):
            raise UpstreamUnavailable("the position manager is not authorized on the vault program",
                                      code="position_manager_unauthorized")
        try:
            spec = self.chain.position_manager_instruction_spec(instruction)
        except ChainError as exc:
            raise UpstreamUnavailable(str(exc), code="position_manager_unavailable") from exc
        accounts = self._accounts(spec, user, {"amount": amount})
        instructions = [self.chain.position_manager_instruction(instruction, [amount], accounts)]
        margin_account = accounts.get("margin_account")
        if instruction == OPEN_POSITION and margin_account and not self.chain.account_exists(margin_account):
            # First position: the user's margin account is created in the same transaction.
            create_spec = self.chain.position_manager_instruction_spec(CREATE_MARGIN_ACCOUNT)
            create = self.chain.position_manager_instruction(
                CREATE_MARGIN_ACCOUNT, [], self._accounts(create_spec, user, {}))
            instructions.insert(0, create)
        return VaultManager(self.chain, self.builder)._complete(user, instructions)

    def _accounts(self, spec: dict, user: str, args: dict) -> dict:
        owner = parse_pubkey(user)
        known = {a["name"]: owner for a in spec["accounts"] if a.get("signer")}
        known.update({
            "vault": self.chain.vault_address(owner),
            "vault_authority": self.chain.vault_authority_address(),
            "vault_program": self.chain.program_id,
            "vault_event_authority": self.chain.event_authority_address(),
            "caller_authority": self.chain.caller_authority_address(self.chain.position_manager_id),
        })
        known = {name: value for name, value in known.items() if any(a["name"] == name for a in spec["accounts"])}
        return resolve_instruction_accounts(self.chain, self.chain.position_manager_id, spec, known, args)
