//! Account checks shared by the instructions. Each returns the documented error.

use pinocchio::{AccountView, Address, ProgramResult};

use crate::{
    errors::VaultError,
    seeds::VAULT_AUTHORITY_ADDRESS,
    state::{account_data, check_account_type, CallerLock, CollateralVault, VaultAuthority},
};

#[inline(always)]
pub fn signer(account: &AccountView) -> ProgramResult {
    if !account.is_signer() {
        return Err(VaultError::AccountNotSigner.into());
    }
    Ok(())
}

#[inline(always)]
pub fn writable(account: &AccountView) -> ProgramResult {
    if !account.is_writable() {
        return Err(VaultError::AccountNotWritable.into());
    }
    Ok(())
}

#[inline(always)]
pub fn address(account: &AccountView, expected: &Address, error: VaultError) -> ProgramResult {
    if account.address() != expected {
        return Err(error.into());
    }
    Ok(())
}

/// The `VaultAuthority` singleton: its PDA address, our ownership and its type.
#[inline(always)]
pub fn authority(account: &AccountView) -> Result<&VaultAuthority, pinocchio::error::ProgramError> {
    address(account, &VAULT_AUTHORITY_ADDRESS, VaultError::InvalidAuthorityAddress)?;
    check_account_type::<VaultAuthority>(account)?;
    // SAFETY: type checked above; nothing holds a mutable reference yet.
    Ok(unsafe { account_data::<VaultAuthority>(account) })
}

/// A `CollateralVault`: writable, ours and of the right type.
///
/// Why that proves it sits at `[b"vault", owner]` without re-deriving the PDA (a sha256 of
/// about 150 compute units on every instruction): only this program can write data into an
/// account it owns, and it writes a `CollateralVault` discriminator only in `initialize_vault`,
/// into the account it just created at the PDA it derived there; `close_vault` zeroes the data
/// before handing the account back. An account assigned to us from outside holds zeroes.
#[inline(always)]
pub fn vault(account: &AccountView) -> Result<&CollateralVault, pinocchio::error::ProgramError> {
    writable(account)?;
    check_account_type::<CollateralVault>(account)?;
    // SAFETY: type checked above; nothing holds a mutable reference yet.
    Ok(unsafe { account_data::<CollateralVault>(account) })
}

/// A `CallerLock` of `vault` for `caller_program`, writable (created only at its PDA, in
/// `approve_caller`: the argument above holds for it too). A missing record means the owner
/// never approved the program.
#[inline(always)]
pub fn caller_lock<'a>(
    account: &'a AccountView,
    vault: &Address,
    caller_program: &Address,
) -> Result<&'a CallerLock, pinocchio::error::ProgramError> {
    if account.owned_by(&pinocchio_system::ID) {
        return Err(VaultError::CallerNotApproved.into());
    }
    writable(account)?;
    check_account_type::<CallerLock>(account)?;
    // SAFETY: type checked above; nothing holds a mutable reference yet.
    let record = unsafe { account_data::<CallerLock>(account) };
    record.check_binding(vault, caller_program)?;
    Ok(record)
}

/// The account is a fresh system account: nobody has initialized it yet.
#[inline(always)]
pub fn uninitialized(account: &AccountView) -> ProgramResult {
    if !account.owned_by(&pinocchio_system::ID) || !account.is_data_empty() {
        return Err(VaultError::AlreadyInitialized.into());
    }
    Ok(())
}
