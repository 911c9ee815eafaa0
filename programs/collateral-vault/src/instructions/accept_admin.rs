//! `accept_admin()`: the proposed admin takes over.

use pinocchio::{AccountView, Address, ProgramResult};

use crate::{
    discriminator,
    errors::VaultError,
    events::{self, AdminChangedEvent},
    guards, layout,
    pod::PodI64,
    runtime,
    schema::{AccountSpec, InstructionSpec, Layout, Seed},
    seeds::{EVENT_AUTHORITY_ADDRESS, VAULT_AUTHORITY, VAULT_AUTHORITY_ADDRESS},
    state::{account_data_mut, VaultAuthority},
    ID,
};

pub const NAME: &str = "accept_admin";
pub const DISCRIMINATOR: [u8; 8] = discriminator::instruction(NAME);

layout! {
    pub struct AcceptAdminArgs {}
}

pub const ACCOUNTS: &[AccountSpec] = &[
    AccountSpec::new("pending_admin").signer(),
    AccountSpec::new("vault_authority").writable().address(VAULT_AUTHORITY_ADDRESS).pda(&[Seed::Const(VAULT_AUTHORITY)]),
    AccountSpec::new("event_authority").address(EVENT_AUTHORITY_ADDRESS),
    AccountSpec::new("program").address(ID),
];

pub const SPEC: InstructionSpec = InstructionSpec {
    name: NAME,
    docs: "Completes the admin hand-over (the proposed admin signs).",
    discriminator: DISCRIMINATOR,
    accounts: ACCOUNTS,
    args: AcceptAdminArgs::FIELDS,
};

struct AcceptAdmin<'a> {
    authority: &'a mut VaultAuthority,
    pending_admin: &'a AccountView,
    event_authority: &'a AccountView,
}

fn validate<'a>(accounts: &'a mut [AccountView], data: &[u8]) -> Result<AcceptAdmin<'a>, pinocchio::error::ProgramError> {
    let [pending_admin, vault_authority, event_authority, program, ..] = accounts else {
        return Err(VaultError::NotEnoughAccounts.into());
    };
    AcceptAdminArgs::from_bytes(data).ok_or(VaultError::InvalidInstructionData)?;
    guards::signer(pending_admin)?;
    let state = guards::authority(vault_authority)?;
    if !state.has_pending_admin() || state.pending_admin != *pending_admin.address() {
        return Err(VaultError::NotPendingAdmin.into());
    }
    guards::writable(vault_authority)?;
    events::check_event_accounts(event_authority, program)?;
    // SAFETY: type checked by `guards::authority`; the shared borrow has ended.
    let authority = unsafe { account_data_mut::<VaultAuthority>(vault_authority) };
    Ok(AcceptAdmin { authority, pending_admin, event_authority })
}

pub fn process(accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let ix = validate(accounts, data)?;
    let previous_admin = ix.authority.admin;
    ix.authority.admin = *ix.pending_admin.address();
    ix.authority.pending_admin = Address::new_from_array([0; 32]);
    let event = AdminChangedEvent {
        previous_admin,
        admin: ix.authority.admin,
        timestamp: PodI64::new(runtime::unix_timestamp()?),
    };
    events::emit(&event, ix.event_authority)
}
