//! `set_stranded_lock_grace(seconds)`: admin sets how long a removed program's locks stay
//! locked before the vault owners may release them. Bounded to 30 days, so the owners' way out
//! cannot be taken away. A removal already made keeps the release time it announced.

use pinocchio::{AccountView, ProgramResult};

use crate::{
    discriminator,
    errors::VaultError,
    events::{self, StrandedLockGraceChangedEvent},
    layout,
    pod::PodI64,
    runtime,
    schema::{AccountSpec, InstructionSpec, Layout},
    state::VaultAuthority,
};

use super::admin::{validate_admin, ADMIN_ACCOUNTS};

pub const NAME: &str = "set_stranded_lock_grace";
pub const DISCRIMINATOR: [u8; 8] = discriminator::instruction(NAME);

layout! {
    pub struct SetStrandedLockGraceArgs {
        pub seconds: PodI64,
    }
}

pub const ACCOUNTS: &[AccountSpec] = ADMIN_ACCOUNTS;

pub const SPEC: InstructionSpec = InstructionSpec {
    name: NAME,
    docs: "Sets the grace period after which a removed program's locks become releasable by the vault owners (admin only; 0 to 30 days).",
    discriminator: DISCRIMINATOR,
    accounts: ACCOUNTS,
    args: SetStrandedLockGraceArgs::FIELDS,
};

struct SetStrandedLockGrace<'a> {
    authority: &'a mut VaultAuthority,
    admin: &'a AccountView,
    event_authority: &'a AccountView,
    seconds: i64,
}

fn validate<'a>(accounts: &'a mut [AccountView], data: &[u8]) -> Result<SetStrandedLockGrace<'a>, pinocchio::error::ProgramError> {
    let [admin, vault_authority, event_authority, program, ..] = accounts else {
        return Err(VaultError::NotEnoughAccounts.into());
    };
    let args = SetStrandedLockGraceArgs::from_bytes(data).ok_or(VaultError::InvalidInstructionData)?;
    let authority = validate_admin(admin, vault_authority, event_authority, program)?;
    Ok(SetStrandedLockGrace { authority, admin, event_authority, seconds: args.seconds.get() })
}

pub fn process(accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let ix = validate(accounts, data)?;
    ix.authority.set_stranded_lock_grace(ix.seconds)?;
    let event = StrandedLockGraceChangedEvent {
        admin: *ix.admin.address(),
        stranded_lock_grace_seconds: PodI64::new(ix.seconds),
        timestamp: PodI64::new(runtime::unix_timestamp()?),
    };
    events::emit(&event, ix.event_authority)
}
