//! `propose_admin(new_admin)`: first step of the admin hand-over. Nothing changes hands until
//! the proposed admin signs `accept_admin`, so a mistyped address cannot lock the admin out.

use pinocchio::{AccountView, Address, ProgramResult};

use crate::{
    discriminator,
    errors::VaultError,
    events::{self, AdminProposedEvent},
    layout,
    pod::PodI64,
    runtime,
    schema::{AccountSpec, InstructionSpec, Layout},
    state::VaultAuthority,
};

use super::admin::{validate_admin, ADMIN_ACCOUNTS};

pub const NAME: &str = "propose_admin";
pub const DISCRIMINATOR: [u8; 8] = discriminator::instruction(NAME);

layout! {
    pub struct ProposeAdminArgs {
        pub new_admin: Address,
    }
}

pub const ACCOUNTS: &[AccountSpec] = ADMIN_ACCOUNTS;

pub const SPEC: InstructionSpec = InstructionSpec {
    name: NAME,
    docs: "Proposes a new admin; the proposal replaces any earlier one (admin only).",
    discriminator: DISCRIMINATOR,
    accounts: ACCOUNTS,
    args: ProposeAdminArgs::FIELDS,
};

struct ProposeAdmin<'a> {
    authority: &'a mut VaultAuthority,
    event_authority: &'a AccountView,
    new_admin: Address,
}

fn validate<'a>(accounts: &'a mut [AccountView], data: &[u8]) -> Result<ProposeAdmin<'a>, pinocchio::error::ProgramError> {
    let [admin, vault_authority, event_authority, program, ..] = accounts else {
        return Err(VaultError::NotEnoughAccounts.into());
    };
    let args = ProposeAdminArgs::from_bytes(data).ok_or(VaultError::InvalidInstructionData)?;
    if args.new_admin == Address::new_from_array([0; 32]) {
        return Err(VaultError::InvalidAdmin.into());
    }
    let authority = validate_admin(admin, vault_authority, event_authority, program)?;
    Ok(ProposeAdmin { authority, event_authority, new_admin: args.new_admin })
}

pub fn process(accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let ix = validate(accounts, data)?;
    ix.authority.pending_admin = ix.new_admin;
    let event = AdminProposedEvent {
        admin: ix.authority.admin,
        pending_admin: ix.new_admin,
        timestamp: PodI64::new(runtime::unix_timestamp()?),
    };
    events::emit(&event, ix.event_authority)
}
