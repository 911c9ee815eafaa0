//! What every admin instruction validates first: the admin's signature over the authority.

use pinocchio::{error::ProgramError, AccountView};

use crate::{
    errors::VaultError,
    events, guards,
    schema::{AccountSpec, Seed},
    seeds::{EVENT_AUTHORITY_ADDRESS, VAULT_AUTHORITY, VAULT_AUTHORITY_ADDRESS},
    state::{account_data_mut, VaultAuthority},
    ID,
};

/// The accounts of every admin instruction, in order.
pub const ADMIN_ACCOUNTS: &[AccountSpec] = &[
    AccountSpec::new("admin").signer(),
    AccountSpec::new("vault_authority").writable().address(VAULT_AUTHORITY_ADDRESS).pda(&[Seed::Const(VAULT_AUTHORITY)]),
    AccountSpec::new("event_authority").address(EVENT_AUTHORITY_ADDRESS),
    AccountSpec::new("program").address(ID),
];

/// Checks `[admin, vault_authority, event_authority, program]` and returns the authority for
/// mutation.
///
/// The returned reference points into `vault_authority`'s data, which no other reference
/// aliases: the account is typed by its discriminator and appears once in these checks.
pub fn validate_admin<'a>(
    admin: &AccountView,
    vault_authority: &'a AccountView,
    event_authority: &AccountView,
    program: &AccountView,
) -> Result<&'a mut VaultAuthority, ProgramError> {
    guards::signer(admin)?;
    let state = guards::authority(vault_authority)?;
    if state.admin != *admin.address() {
        return Err(VaultError::NotAdmin.into());
    }
    guards::writable(vault_authority)?;
    events::check_event_accounts(event_authority, program)?;
    // SAFETY: type checked by `guards::authority`; the shared borrow above has ended.
    Ok(unsafe { account_data_mut::<VaultAuthority>(vault_authority) })
}

