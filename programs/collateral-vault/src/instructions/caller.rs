//! Proof that an authorized program is calling: it signs with its `[b"vault_caller"]` PDA, which
//! only that program can produce by `invoke_signed`. A program account merely passed in proves
//! nothing, and a direct call cannot produce the signature.

use pinocchio::{error::ProgramError, AccountView, Address};

use crate::{errors::VaultError, state::VaultAuthority};

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
