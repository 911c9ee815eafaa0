//! `lock_collateral(amount)`: an authorized program (the position manager) locks available
//! collateral for a position. Only by CPI, proven by the caller's signer PDA.

use pinocchio::{AccountView, ProgramResult};

use crate::{
    discriminator,
    events::{self, LockEvent},
    pod::{PodI64, PodU64},
    runtime,
    schema::{AccountSpec, InstructionSpec, Layout, Seed},
    seeds::{CALLER_AUTHORITY, EVENT_AUTHORITY_ADDRESS, VAULT_AUTHORITY, VAULT_AUTHORITY_ADDRESS},
    state::{account_data_mut, CollateralVault, VaultAuthority},
    ID,
};

use super::{
    caller::{validate_caller_op, CallerOp},
    vault_ops::AmountArgs,
};

pub const NAME: &str = "lock_collateral";
pub const DISCRIMINATOR: [u8; 8] = discriminator::instruction(NAME);

pub const ACCOUNTS: &[AccountSpec] = &[
    AccountSpec::new("caller_authority").signer().pda(&[Seed::Const(CALLER_AUTHORITY)]).docs("The calling program's [b\"vault_caller\"] PDA"),
    AccountSpec::new("vault_authority").address(VAULT_AUTHORITY_ADDRESS).pda(&[Seed::Const(VAULT_AUTHORITY)]),
    AccountSpec::new("vault").writable(),
    AccountSpec::new("event_authority").address(EVENT_AUTHORITY_ADDRESS),
    AccountSpec::new("program").address(ID),
];

pub const SPEC: InstructionSpec = InstructionSpec {
    name: NAME,
    docs: "Moves available collateral to locked (authorized programs only, by CPI).",
    discriminator: DISCRIMINATOR,
    accounts: ACCOUNTS,
    args: AmountArgs::FIELDS,
};

fn validate<'a>(accounts: &'a mut [AccountView], data: &[u8]) -> Result<CallerOp<'a>, pinocchio::error::ProgramError> {
    validate_caller_op(accounts, data, VaultAuthority::ensure_locks_open)
}

pub fn process(accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let ix = validate(accounts, data)?;
    // SAFETY: type checked in `validate`; no other reference exists.
    let vault = unsafe { account_data_mut::<CollateralVault>(ix.vault) };
    vault.lock(ix.amount)?;
    let seq = vault.next_event_seq()?;
    let event = LockEvent {
        owner: vault.owner,
        vault: *ix.vault.address(),
        caller_program: ix.caller_program,
        amount: PodU64::new(ix.amount),
        total_balance: vault.total_balance,
        locked_balance: vault.locked_balance,
        available_balance: vault.available_balance,
        seq: PodU64::new(seq),
        timestamp: PodI64::new(runtime::unix_timestamp()?),
    };
    events::emit(&event, ix.event_authority)
}
