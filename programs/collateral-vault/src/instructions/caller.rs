//! Proof that an authorized program is calling: it signs with its `[b"vault_caller"]` PDA, which
//! only that program can produce by `invoke_signed`. A program account merely passed in proves
//! nothing, and a direct call cannot produce the signature.

use pinocchio::{error::ProgramError, AccountView, Address};

use crate::{errors::VaultError, events, guards, schema::Layout, state::VaultAuthority};

use super::vault_ops::AmountArgs;

/// Returns the id of the allow-listed program whose caller PDA signed.
#[inline(always)]
pub fn authorized_caller(caller_authority: &AccountView, authority: &VaultAuthority) -> Result<Address, ProgramError> {
    if !caller_authority.is_signer() {
        return Err(VaultError::UnauthorizedCaller.into());
    }
    authority
        .program_for_caller(caller_authority.address())
        .copied()
        .ok_or_else(|| VaultError::UnauthorizedCaller.into())
}

/// What `lock_collateral` and `unlock_collateral` validate alike:
/// `[caller_authority, vault_authority, vault, event_authority, program]`.
pub struct CallerOp<'a> {
    pub vault: &'a AccountView,
    pub event_authority: &'a AccountView,
    pub caller_program: Address,
    pub amount: u64,
}

#[inline(always)]
pub fn validate_caller_op<'a>(
    accounts: &'a mut [AccountView],
    data: &[u8],
    gate: fn(&VaultAuthority) -> Result<(), VaultError>,
) -> Result<CallerOp<'a>, ProgramError> {
    let [caller_authority, vault_authority, vault, event_authority, program, ..] = accounts else {
        return Err(VaultError::NotEnoughAccounts.into());
    };
    let args = AmountArgs::from_bytes(data).ok_or(VaultError::InvalidInstructionData)?;
    let authority = guards::authority(vault_authority)?;
    let caller_program = authorized_caller(caller_authority, authority)?;
    gate(authority)?;
    guards::vault(vault)?;
    events::check_event_accounts(event_authority, program)?;
    Ok(CallerOp { vault, event_authority, caller_program, amount: args.amount.get() })
}
