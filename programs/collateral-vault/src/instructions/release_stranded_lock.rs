//! `release_stranded_lock(program_id)`: the owner's way out when the admin removed a program
//! that still holds some of their collateral locked. Once the grace period recorded at the
//! removal has passed (and unless the program was authorized again), the owner releases the
//! program's whole lock in their vault, and the record is closed with its rent returned.

use pinocchio::{AccountView, Address, ProgramResult};

use crate::{
    discriminator,
    errors::VaultError,
    events::{self, StrandedLockReleasedEvent},
    guards, layout,
    pod::{PodI64, PodU64},
    runtime,
    schema::{AccountSpec, InstructionSpec, Layout, Seed},
    seeds::{EVENT_AUTHORITY_ADDRESS, VAULT, VAULT_AUTHORITY, VAULT_AUTHORITY_ADDRESS},
    state::{account_data_mut, CallerLock, CollateralVault},
    system, ID,
};

use super::approve_caller::CALLER_LOCK_SEEDS;

pub const NAME: &str = "release_stranded_lock";
pub const DISCRIMINATOR: [u8; 8] = discriminator::instruction(NAME);

layout! {
    pub struct ReleaseStrandedLockArgs {
        pub program_id: Address,
    }
}

pub const ACCOUNTS: &[AccountSpec] = &[
    AccountSpec::new("owner").writable().signer().docs("The vault owner; receives the record's rent"),
    AccountSpec::new("vault_authority").address(VAULT_AUTHORITY_ADDRESS).pda(&[Seed::Const(VAULT_AUTHORITY)]),
    AccountSpec::new("vault").writable().pda(&[Seed::Const(VAULT), Seed::Account("owner")]),
    AccountSpec::new("caller_lock").writable().pda(CALLER_LOCK_SEEDS),
    AccountSpec::new("event_authority").address(EVENT_AUTHORITY_ADDRESS),
    AccountSpec::new("program").address(ID),
];

pub const SPEC: InstructionSpec = InstructionSpec {
    name: NAME,
    docs: "Releases what a removed program still holds locked in the signer's vault, once its grace period has passed (owner only).",
    discriminator: DISCRIMINATOR,
    accounts: ACCOUNTS,
    args: ReleaseStrandedLockArgs::FIELDS,
};

struct ReleaseStrandedLock<'a> {
    owner: &'a mut AccountView,
    vault: &'a AccountView,
    caller_lock: &'a mut AccountView,
    event_authority: &'a AccountView,
    program_id: Address,
    timestamp: i64,
}

fn validate<'a>(accounts: &'a mut [AccountView], data: &[u8]) -> Result<ReleaseStrandedLock<'a>, pinocchio::error::ProgramError> {
    let [owner, vault_authority, vault, caller_lock, event_authority, program, ..] = accounts else {
        return Err(VaultError::NotEnoughAccounts.into());
    };
    let args = ReleaseStrandedLockArgs::from_bytes(data).ok_or(VaultError::InvalidInstructionData)?;
    guards::signer(owner)?;
    guards::writable(owner)?;
    let authority = guards::authority(vault_authority)?;
    let state = guards::vault(vault)?;
    if state.owner != *owner.address() {
        return Err(VaultError::NotVaultOwner.into());
    }
    guards::caller_lock(caller_lock, vault.address(), &args.program_id)?;
    events::check_event_accounts(event_authority, program)?;
    let timestamp = runtime::unix_timestamp()?;
    authority.ensure_stranded(&args.program_id, timestamp)?;
    Ok(ReleaseStrandedLock { owner, vault, caller_lock, event_authority, program_id: args.program_id, timestamp })
}

pub fn process(accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let ix = validate(accounts, data)?;
    // SAFETY: both type checked in `validate`; different types, so different accounts.
    let (vault, record) = unsafe { (account_data_mut::<CollateralVault>(ix.vault), account_data_mut::<CallerLock>(ix.caller_lock)) };
    let amount = record.locked.get();
    // Nothing to release: `revoke_caller` closes an empty record.
    record.release(amount)?;
    vault.unlock(amount)?;
    let seq = vault.next_event_seq()?;
    let event = StrandedLockReleasedEvent {
        owner: vault.owner,
        vault: *ix.vault.address(),
        caller_program: ix.program_id,
        amount: PodU64::new(amount),
        caller_locked: record.locked,
        total_balance: vault.total_balance,
        locked_balance: vault.locked_balance,
        available_balance: vault.available_balance,
        generation: vault.generation,
        seq: PodU64::new(seq),
        timestamp: PodI64::new(ix.timestamp),
    };
    events::emit(&event, ix.event_authority)?;
    system::close_program_account(ix.caller_lock, ix.owner)
}
