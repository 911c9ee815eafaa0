//! `set_paused(action, paused)`: admin pauses or resumes deposits, withdrawals or locks, each on
//! its own. Unlocks and settlements are never paused, so positions can always be closed.

use pinocchio::{AccountView, ProgramResult};

use crate::{
    discriminator,
    errors::VaultError,
    events::{self, PauseChangedEvent},
    layout,
    pod::{PodBool, PodI64},
    runtime,
    schema::{AccountSpec, InstructionSpec, Layout},
    state::{PauseAction, VaultAuthority},
};

use super::admin::{validate_admin, ADMIN_ACCOUNTS};

pub const NAME: &str = "set_paused";
pub const DISCRIMINATOR: [u8; 8] = discriminator::instruction(NAME);

layout! {
    pub struct SetPausedArgs {
        pub action: PauseAction,
        pub paused: PodBool,
    }
}

pub const ACCOUNTS: &[AccountSpec] = ADMIN_ACCOUNTS;

pub const SPEC: InstructionSpec = InstructionSpec {
    name: NAME,
    docs: "Pauses or resumes one action: deposit, withdraw or lock (admin only).",
    discriminator: DISCRIMINATOR,
    accounts: ACCOUNTS,
    args: SetPausedArgs::FIELDS,
};

struct SetPaused<'a> {
    authority: &'a mut VaultAuthority,
    admin: &'a AccountView,
    event_authority: &'a AccountView,
    action: PauseAction,
    paused: bool,
}

fn validate<'a>(accounts: &'a mut [AccountView], data: &[u8]) -> Result<SetPaused<'a>, pinocchio::error::ProgramError> {
    let [admin, vault_authority, event_authority, program, ..] = accounts else {
        return Err(VaultError::NotEnoughAccounts.into());
    };
    let args = SetPausedArgs::from_bytes(data).ok_or(VaultError::InvalidInstructionData)?;
    let paused = args.paused.try_get().ok_or(VaultError::InvalidInstructionData)?;
    let authority = validate_admin(admin, vault_authority, event_authority, program)?;
    Ok(SetPaused { authority, admin, event_authority, action: args.action, paused })
}

pub fn process(accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let ix = validate(accounts, data)?;
    ix.authority.set_paused(ix.action, ix.paused)?;
    let event = PauseChangedEvent {
        action: ix.action,
        paused: PodBool::new(ix.paused),
        admin: *ix.admin.address(),
        timestamp: PodI64::new(runtime::unix_timestamp()?),
    };
    events::emit(&event, ix.event_authority)
}
