//! `add_authorized_program(program_id)`: admin allows a program to lock, unlock and transfer
//! collateral. The caller PDA it must sign with is derived here, once, and stored.

use pinocchio::{AccountView, Address, ProgramResult};

use crate::{
    discriminator,
    errors::VaultError,
    events::{self, ProgramAuthorizedEvent},
    layout,
    pod::PodI64,
    runtime,
    schema::{AccountSpec, InstructionSpec, Layout},
    seeds::CALLER_AUTHORITY,
    state::{AuthorizedProgram, VaultAuthority},
    ID,
};

use super::admin::{validate_admin, ADMIN_ACCOUNTS};

pub const NAME: &str = "add_authorized_program";
pub const DISCRIMINATOR: [u8; 8] = discriminator::instruction(NAME);

layout! {
    pub struct AddAuthorizedProgramArgs {
        pub program_id: Address,
    }
}

pub const ACCOUNTS: &[AccountSpec] = ADMIN_ACCOUNTS;

pub const SPEC: InstructionSpec = InstructionSpec {
    name: NAME,
    docs: "Adds a program to the caller allow-list (admin only).",
    discriminator: DISCRIMINATOR,
    accounts: ACCOUNTS,
    args: AddAuthorizedProgramArgs::FIELDS,
};

struct AddAuthorizedProgram<'a> {
    authority: &'a mut VaultAuthority,
    event_authority: &'a AccountView,
    program_id: Address,
}

fn validate<'a>(accounts: &'a mut [AccountView], data: &[u8]) -> Result<AddAuthorizedProgram<'a>, pinocchio::error::ProgramError> {
    let [admin, vault_authority, event_authority, program, ..] = accounts else {
        return Err(VaultError::NotEnoughAccounts.into());
    };
    let args = AddAuthorizedProgramArgs::from_bytes(data).ok_or(VaultError::InvalidInstructionData)?;
    // The vault program never calls itself for collateral, and a zero id is not a program.
    if args.program_id == ID || args.program_id == Address::new_from_array([0; 32]) {
        return Err(VaultError::InvalidProgramAccount.into());
    }
    let authority = validate_admin(admin, vault_authority, event_authority, program)?;
    Ok(AddAuthorizedProgram { authority, event_authority, program_id: args.program_id })
}

pub fn process(accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let ix = validate(accounts, data)?;
    let seeds = [runtime::opaque(CALLER_AUTHORITY)];
    let (caller_authority, _) = Address::find_program_address(&seeds, &ix.program_id);
    ix.authority.add_program(AuthorizedProgram { program_id: ix.program_id, caller_authority })?;
    // Re-authorized within its grace period: its locks are live again.
    ix.authority.forget_removal(&ix.program_id);
    let event = ProgramAuthorizedEvent {
        program_id: ix.program_id,
        caller_authority,
        timestamp: PodI64::new(runtime::unix_timestamp()?),
    };
    events::emit(&event, ix.event_authority)
}
