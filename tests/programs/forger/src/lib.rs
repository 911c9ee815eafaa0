//! The event forger: what an attacker deploys to make an indexer believe in money movements
//! the vault program never made.
//!
//! Instruction data is a script of steps, run in order: `kind: u8, len: u16 LE, body`.
//! - kind 0, LOG: `sol_log_data(body)`, i.e. a `Program data: base64(body)` line in this
//!   program's own frame (the body is a vault event's discriminator + borsh, built by the test);
//! - kind 1, INVOKE: a CPI to `accounts[0]` with `body` as instruction data and `accounts[1..]`
//!   as its accounts, each passed with the signer/writable flags it has here (a user's signature
//!   passes through, so the forger can wrap a genuine deposit between forged lines).
//!
//! Nothing is checked: it is an attacker.
#![no_std]

use pinocchio::{
    cpi::invoke_with_bounds,
    error::ProgramError,
    instruction::{InstructionAccount, InstructionView},
    AccountView, Address, ProgramResult,
};

#[cfg(any(target_os = "solana", target_arch = "bpf"))]
mod entrypoint {
    pinocchio::program_entrypoint!(crate::process_instruction);
    pinocchio::no_allocator!();
    pinocchio::nostd_panic_handler!();
}

const LOG: u8 = 0;
const INVOKE: u8 = 1;
const MAX_CPI_ACCOUNTS: usize = 12;

#[inline(always)]
pub fn process_instruction(_program_id: &Address, accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let mut rest = data;
    while !rest.is_empty() {
        let Some((&[kind, lo, hi], tail)) = rest.split_first_chunk::<3>() else {
            return Err(ProgramError::InvalidInstructionData);
        };
        let len = u16::from_le_bytes([lo, hi]) as usize;
        if tail.len() < len {
            return Err(ProgramError::InvalidInstructionData);
        }
        let (body, tail) = tail.split_at(len);
        rest = tail;
        match kind {
            LOG => log_data(body),
            INVOKE => relay(accounts, body)?,
            _ => return Err(ProgramError::InvalidInstructionData),
        }
    }
    Ok(())
}

#[inline(always)]
fn relay(accounts: &[AccountView], data: &[u8]) -> ProgramResult {
    let Some((program, targets)) = accounts.split_first() else {
        return Err(ProgramError::NotEnoughAccountKeys);
    };
    if targets.len() > MAX_CPI_ACCOUNTS {
        return Err(ProgramError::InvalidArgument);
    }
    let filler = InstructionAccount::readonly(program.address());
    let mut metas: [InstructionAccount; MAX_CPI_ACCOUNTS] = core::array::from_fn(|_| filler.clone());
    for (meta, account) in metas.iter_mut().zip(targets) {
        *meta = InstructionAccount::new(account.address(), account.is_writable(), account.is_signer());
    }
    let instruction = InstructionView { program_id: program.address(), accounts: &metas[..targets.len()], data };
    invoke_with_bounds::<MAX_CPI_ACCOUNTS, _>(&instruction, targets)
}

#[inline(always)]
fn log_data(data: &[u8]) {
    #[cfg(any(target_os = "solana", target_arch = "bpf"))]
    {
        let fields: [&[u8]; 1] = [data];
        // SAFETY: an array of one valid slice, as `sol_log_data` expects.
        unsafe { pinocchio::syscalls::sol_log_data(fields.as_ptr() as *const u8, 1) };
    }
    #[cfg(not(any(target_os = "solana", target_arch = "bpf")))]
    let _ = data;
}
