//! `unlock_collateral(amount)`: an authorized program releases collateral it locked itself, and
//! only that: another program's locks are out of its reach. Never paused and needs no owner
//! signature, so positions can always be closed.

use pinocchio::{AccountView, ProgramResult};

use crate::{
    discriminator,
    events::{self, UnlockEvent},
    pod::{PodI64, PodU64},
    runtime,
    schema::{AccountSpec, InstructionSpec, Layout},
    state::{account_data_mut, CallerLock, CollateralVault, VaultAuthority},
};

use super::{
    caller::{validate_caller_op, CallerOp, CALLER_OP_ACCOUNTS},
    vault_ops::AmountArgs,
};

pub const NAME: &str = "unlock_collateral";
pub const DISCRIMINATOR: [u8; 8] = discriminator::instruction(NAME);

pub const ACCOUNTS: &[AccountSpec] = CALLER_OP_ACCOUNTS;

pub const SPEC: InstructionSpec = InstructionSpec {
    name: NAME,
    docs: "Moves collateral the calling program locked back to available (authorized programs only, by CPI).",
    discriminator: DISCRIMINATOR,
    accounts: ACCOUNTS,
    args: AmountArgs::FIELDS,
};

fn validate<'a>(accounts: &'a mut [AccountView], data: &[u8]) -> Result<CallerOp<'a>, pinocchio::error::ProgramError> {
    validate_caller_op(accounts, data, VaultAuthority::always_open)
}

pub fn process(accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let ix = validate(accounts, data)?;
    // SAFETY: both type checked in `validate`; different types, so different accounts.
    let (vault, record) = unsafe { (account_data_mut::<CollateralVault>(ix.vault), account_data_mut::<CallerLock>(ix.caller_lock)) };
    record.release(ix.amount)?;
    vault.unlock(ix.amount)?;
    let seq = vault.next_event_seq()?;
    let event = UnlockEvent {
        owner: vault.owner,
        vault: *ix.vault.address(),
        caller_program: ix.caller_program,
        amount: PodU64::new(ix.amount),
        caller_locked: record.locked,
        total_balance: vault.total_balance,
        locked_balance: vault.locked_balance,
        available_balance: vault.available_balance,
        generation: vault.generation,
        seq: PodU64::new(seq),
        timestamp: PodI64::new(runtime::unix_timestamp()?),
    };
    events::emit(&event, ix.event_authority)
}
