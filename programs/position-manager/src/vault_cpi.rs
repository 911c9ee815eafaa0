//! CPIs into the vault program, signed by this program's `[b"vault_caller"]` PDA.

use collateral_vault_interface::{
    discriminator::instruction,
    instruction_names::{LOCK_COLLATERAL, TRANSFER_COLLATERAL, UNLOCK_COLLATERAL},
    seeds::{EVENT_AUTHORITY_ADDRESS, VAULT_AUTHORITY_ADDRESS},
};
use pinocchio::{
    cpi::{invoke_signed, Seed, Signer},
    instruction::{InstructionAccount, InstructionView},
    AccountView, ProgramResult,
};

use crate::{errors::ManagerError, seeds::CALLER_AUTHORITY};

/// The accounts every vault CPI needs besides the vaults themselves.
pub struct VaultProgram<'a> {
    pub caller_authority: &'a AccountView,
    pub vault_authority: &'a AccountView,
    pub event_authority: &'a AccountView,
    pub program: &'a AccountView,
    pub caller_bump: u8,
}

impl<'a> VaultProgram<'a> {
    /// Checks the vault program's addresses (it re-checks everything it relies on). The caller
    /// PDA needs no check here: `invoke_signed` derives it from our seeds and program id, and the
    /// runtime refuses the call if the account passed is any other.
    #[inline(always)]
    pub fn new(accounts: [&'a AccountView; 4], caller_bump: u8) -> Result<Self, ManagerError> {
        let [caller_authority, vault_authority, event_authority, program] = accounts;
        if program.address() != &collateral_vault_interface::ID
            || vault_authority.address() != &VAULT_AUTHORITY_ADDRESS
            || event_authority.address() != &EVENT_AUTHORITY_ADDRESS
        {
            return Err(ManagerError::InvalidVaultProgram);
        }
        Ok(Self { caller_authority, vault_authority, event_authority, program, caller_bump })
    }

    #[inline(always)]
    fn data(discriminator: [u8; 8], amount: u64) -> [u8; 16] {
        let mut data = [0u8; 16];
        data[..8].copy_from_slice(&discriminator);
        data[8..].copy_from_slice(&amount.to_le_bytes());
        data
    }

    /// `vault_accounts` is `[vault, caller_lock]`: the user's vault and this program's
    /// `CallerLock` in it (the vault program checks that it is ours and the owner's approval).
    #[inline(always)]
    fn lock_or_unlock(&self, discriminator: [u8; 8], vault_accounts: [&AccountView; 2], amount: u64) -> ProgramResult {
        let [vault, caller_lock] = vault_accounts;
        let metas = [
            InstructionAccount::readonly_signer(self.caller_authority.address()),
            InstructionAccount::readonly(self.vault_authority.address()),
            InstructionAccount::writable(vault.address()),
            InstructionAccount::writable(caller_lock.address()),
            InstructionAccount::readonly(self.event_authority.address()),
            InstructionAccount::readonly(self.program.address()),
        ];
        let data = Self::data(discriminator, amount);
        let instruction = InstructionView { program_id: &collateral_vault_interface::ID, accounts: &metas, data: &data };
        let views = [self.caller_authority, self.vault_authority, vault, caller_lock, self.event_authority, self.program];
        let bump = [self.caller_bump];
        let seeds = [Seed::from(CALLER_AUTHORITY), Seed::from(&bump)];
        invoke_signed(&instruction, &views, &[Signer::from(&seeds)])
    }

    #[inline(always)]
    pub fn lock(&self, vault_accounts: [&AccountView; 2], amount: u64) -> ProgramResult {
        self.lock_or_unlock(const { instruction(LOCK_COLLATERAL) }, vault_accounts, amount)
    }

    #[inline(always)]
    pub fn unlock(&self, vault_accounts: [&AccountView; 2], amount: u64) -> ProgramResult {
        self.lock_or_unlock(const { instruction(UNLOCK_COLLATERAL) }, vault_accounts, amount)
    }

    /// Settles `amount` of what this program locked in `from` into `to`. `accounts` is
    /// `[from_vault, from_caller_lock, from_token, to_vault, to_token, mint, token_program]`.
    #[inline(always)]
    pub fn transfer(&self, accounts: [&AccountView; 7], amount: u64) -> ProgramResult {
        let [from_vault, from_lock, from_token, to_vault, to_token, mint, token_program] = accounts;
        let metas = [
            InstructionAccount::readonly_signer(self.caller_authority.address()),
            InstructionAccount::readonly(self.vault_authority.address()),
            InstructionAccount::writable(from_vault.address()),
            InstructionAccount::writable(from_lock.address()),
            InstructionAccount::writable(from_token.address()),
            InstructionAccount::writable(to_vault.address()),
            InstructionAccount::writable(to_token.address()),
            InstructionAccount::readonly(mint.address()),
            InstructionAccount::readonly(token_program.address()),
            InstructionAccount::readonly(self.event_authority.address()),
            InstructionAccount::readonly(self.program.address()),
        ];
        let data = Self::data(const { instruction(TRANSFER_COLLATERAL) }, amount);
        let instruction = InstructionView { program_id: &collateral_vault_interface::ID, accounts: &metas, data: &data };
        let views = [
            self.caller_authority,
            self.vault_authority,
            from_vault,
            from_lock,
            from_token,
            to_vault,
            to_token,
            mint,
            token_program,
            self.event_authority,
            self.program,
        ];
        let bump = [self.caller_bump];
        let seeds = [Seed::from(CALLER_AUTHORITY), Seed::from(&bump)];
        invoke_signed(&instruction, &views, &[Signer::from(&seeds)])
    }
}
