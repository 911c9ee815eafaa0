//! `remove_authorized_program(program_id)`: admin revokes a program's right to move collateral.
//! Its existing locks stay locked for the grace period the authority stores (so a program
//! removed by mistake can be re-added and settle), then each vault owner may release them with
//! `release_stranded_lock`. No other program can touch them.

use pinocchio::{AccountView, Address, ProgramResult};

use crate::{
    discriminator,
    errors::VaultError,
    events::{self, ProgramDeauthorizedEvent},
    layout,
    pod::PodI64,
    runtime,
    schema::{AccountSpec, InstructionSpec, Layout},
    state::VaultAuthority,
};

use super::admin::{validate_admin, ADMIN_ACCOUNTS};

pub const NAME: &str = "remove_authorized_program";
pub const DISCRIMINATOR: [u8; 8] = discriminator::instruction(NAME);

layout! {
    pub struct RemoveAuthorizedProgramArgs {
        pub program_id: Address,
    }
}

pub const ACCOUNTS: &[AccountSpec] = ADMIN_ACCOUNTS;

pub const SPEC: InstructionSpec = InstructionSpec {
    name: NAME,
    docs: "Removes a program from the caller allow-list (admin only); its locks become releasable by the vault owners after the grace period.",
    discriminator: DISCRIMINATOR,
    accounts: ACCOUNTS,
    args: RemoveAuthorizedProgramArgs::FIELDS,
};

struct RemoveAuthorizedProgram<'a> {
    authority: &'a mut VaultAuthority,
    event_authority: &'a AccountView,
    program_id: Address,
}

fn validate<'a>(accounts: &'a mut [AccountView], data: &[u8]) -> Result<RemoveAuthorizedProgram<'a>, pinocchio::error::ProgramError> {
    let [admin, vault_authority, event_authority, program, ..] = accounts else {
        return Err(VaultError::NotEnoughAccounts.into());
    };
    let args = RemoveAuthorizedProgramArgs::from_bytes(data).ok_or(VaultError::InvalidInstructionData)?;
    let authority = validate_admin(admin, vault_authority, event_authority, program)?;
    Ok(RemoveAuthorizedProgram { authority, event_authority, program_id: args.program_id })
}

pub fn process(accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let ix = validate(accounts, data)?;
    let timestamp = runtime::unix_timestamp()?;
    ix.authority.remove_program(&ix.program_id)?;
    let releasable_at = ix.authority.record_removal(&ix.program_id, timestamp)?;
    let event = ProgramDeauthorizedEvent {
        program_id: ix.program_id,
        releasable_at: PodI64::new(releasable_at),
        timestamp: PodI64::new(timestamp),
    };
    events::emit(&event, ix.event_authority)
}
