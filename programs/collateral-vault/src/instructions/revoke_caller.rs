//! `revoke_caller(program_id)`: the vault owner withdraws a program's approval. Nothing is
//! locked any more from then on; what the program already holds locked stays locked (its
//! positions must still be settled), and it can still unlock and settle it. A record with
//! nothing locked is closed and its rent returned to the owner.

use pinocchio::{AccountView, Address, ProgramResult};

use crate::{
    discriminator,
    errors::VaultError,
    events::{self, CallerRevokedEvent},
    guards, layout,
    pod::{PodBool, PodI64, PodU64},
    runtime,
    schema::{AccountSpec, InstructionSpec, Layout, Seed},
    seeds::{EVENT_AUTHORITY_ADDRESS, VAULT},
    state::{account_data, account_data_mut, check_account_type, CallerLock, CollateralVault},
    system, ID,
};

use super::approve_caller::CALLER_LOCK_SEEDS;

pub const NAME: &str = "revoke_caller";
pub const DISCRIMINATOR: [u8; 8] = discriminator::instruction(NAME);

layout! {
    pub struct RevokeCallerArgs {
        pub program_id: Address,
    }
}

pub const ACCOUNTS: &[AccountSpec] = &[
    AccountSpec::new("owner").writable().signer().docs("The vault owner; receives the record's rent when it closes"),
    AccountSpec::new("vault").pda(&[Seed::Const(VAULT), Seed::Account("owner")]),
    AccountSpec::new("caller_lock").writable().pda(CALLER_LOCK_SEEDS),
    AccountSpec::new("event_authority").address(EVENT_AUTHORITY_ADDRESS),
    AccountSpec::new("program").address(ID),
];

pub const SPEC: InstructionSpec = InstructionSpec {
    name: NAME,
    docs: "Withdraws a program's approval to lock collateral in the signer's vault (owner only).",
    discriminator: DISCRIMINATOR,
    accounts: ACCOUNTS,
    args: RevokeCallerArgs::FIELDS,
};

struct RevokeCaller<'a> {
    owner: &'a mut AccountView,
    vault: &'a AccountView,
    caller_lock: &'a mut AccountView,
    event_authority: &'a AccountView,
    program_id: Address,
}

fn validate<'a>(accounts: &'a mut [AccountView], data: &[u8]) -> Result<RevokeCaller<'a>, pinocchio::error::ProgramError> {
    let [owner, vault, caller_lock, event_authority, program, ..] = accounts else {
        return Err(VaultError::NotEnoughAccounts.into());
    };
    let args = RevokeCallerArgs::from_bytes(data).ok_or(VaultError::InvalidInstructionData)?;
    guards::signer(owner)?;
    guards::writable(owner)?;
    check_account_type::<CollateralVault>(vault)?;
    // SAFETY: type checked above.
    if unsafe { account_data::<CollateralVault>(vault) }.owner != *owner.address() {
        return Err(VaultError::NotVaultOwner.into());
    }
    guards::caller_lock(caller_lock, vault.address(), &args.program_id)?;
    events::check_event_accounts(event_authority, program)?;
    Ok(RevokeCaller { owner, vault, caller_lock, event_authority, program_id: args.program_id })
}

pub fn process(accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let ix = validate(accounts, data)?;
    // SAFETY: type checked in `validate`; nothing else borrows it.
    let record = unsafe { account_data_mut::<CallerLock>(ix.caller_lock) };
    let locked = record.locked;
    let closed = locked.get() == 0;
    if !closed {
        record.cap = PodU64::new(0);
    }
    let event = CallerRevokedEvent {
        owner: *ix.owner.address(),
        vault: *ix.vault.address(),
        caller_program: ix.program_id,
        locked,
        closed: PodBool::new(closed),
        timestamp: PodI64::new(runtime::unix_timestamp()?),
    };
    events::emit(&event, ix.event_authority)?;
    if closed {
        system::close_program_account(ix.caller_lock, ix.owner)?;
    }
    Ok(())
}
