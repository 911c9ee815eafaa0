//! Account checks shared by the instructions. Each returns the documented error.

use pinocchio::{AccountView, Address, ProgramResult};

use crate::{
    errors::VaultError,
    seeds::{vault_address, VAULT_AUTHORITY_ADDRESS},
    state::{account_data, check_account_type, CollateralVault, VaultAuthority},
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

/// A `CollateralVault`: writable, ours, of the right type, at the PDA of its stored owner and
/// stored bump.
#[inline(always)]
pub fn vault(account: &AccountView) -> Result<&CollateralVault, pinocchio::error::ProgramError> {
    writable(account)?;
    check_account_type::<CollateralVault>(account)?;
    // SAFETY: type checked above; nothing holds a mutable reference yet.
    let vault = unsafe { account_data::<CollateralVault>(account) };
    if vault_address(&vault.owner, vault.bump) != *account.address() {
        return Err(VaultError::InvalidVaultAddress.into());
    }
    Ok(vault)
}

/// The account is a fresh system account: nobody has initialized it yet.
#[inline(always)]
pub fn uninitialized(account: &AccountView) -> ProgramResult {
    if !account.owned_by(&pinocchio_system::ID) || !account.is_data_empty() {
        return Err(VaultError::AlreadyInitialized.into());
    }
    Ok(())
}
