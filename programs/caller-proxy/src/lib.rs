//! TEST FIXTURE: never deployed anywhere but the test suite's LiteSVM.
//!
//! A generic CPI proxy into the vault program, as the outside audit's malicious program: it
//! forwards any instruction data and accounts to the vault program and signs with *its own*
//! `[b"vault_caller"]` PDA. Authorized by the admin, it plays the compromised or buggy
//! integration the vault must contain: it tries to lock without the owner's consent, to seize
//! by lock + transfer, to unlock another program's locks, and to forge event self-CPIs.
//!
//! Instruction data: `[caller_bump] ++ <vault instruction data>`.
//! Accounts: `[caller_authority, vault_program, <the vault instruction's accounts after its
//! first>]`; the first vault account is always `caller_authority`, signed here. Every other
//! account keeps the signer and writable flags it was passed with.
#![no_std]

use pinocchio::{
    cpi::{invoke_signed_with_bounds, Seed, Signer},
    error::ProgramError,
    instruction::{InstructionAccount, InstructionView},
    AccountView, Address, ProgramResult,
};

const MAX_ACCOUNTS: usize = 16;

#[cfg(not(feature = "no-entrypoint"))]
mod entrypoint {
    pinocchio::program_entrypoint!(crate::process_instruction);
    pinocchio::no_allocator!();
    pinocchio::nostd_panic_handler!();
}

#[inline(always)]
pub fn process_instruction(_program_id: &Address, accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let Some((&bump, vault_data)) = data.split_first() else {
        return Err(ProgramError::InvalidInstructionData);
    };
    if accounts.len() < 2 || accounts.len() - 1 > MAX_ACCOUNTS {
        return Err(ProgramError::NotEnoughAccountKeys);
    }
    let (head, rest) = accounts.split_at(2);
    let (caller_authority, vault_program) = (&head[0], &head[1]);

    let metas: [InstructionAccount; MAX_ACCOUNTS] = core::array::from_fn(|index| match index {
        0 => InstructionAccount::readonly_signer(caller_authority.address()),
        _ if index <= rest.len() => {
            let account = &rest[index - 1];
            InstructionAccount::new(account.address(), account.is_writable(), account.is_signer())
        }
        _ => InstructionAccount::readonly(caller_authority.address()),
    });
    let views: [&AccountView; MAX_ACCOUNTS] = core::array::from_fn(|index| match index {
        0 => caller_authority,
        _ if index <= rest.len() => &rest[index - 1],
        _ => caller_authority,
    });
    let count = rest.len() + 1;
    let instruction = InstructionView { program_id: vault_program.address(), accounts: &metas[..count], data: vault_data };
    let bump = [collateral_vault_interface::runtime::opaque(bump)];
    let seeds = [Seed::from(collateral_vault_interface::seeds::CALLER_AUTHORITY), Seed::from(&bump)];
    invoke_signed_with_bounds::<MAX_ACCOUNTS, &AccountView>(&instruction, &views[..count], &[Signer::from(&seeds)])
}
