//! Program-owned account types. Each is an 8-byte Anchor discriminator followed by a
//! [`crate::layout!`] struct.

pub mod authority;
pub mod caller_lock;
pub mod vault;

use pinocchio::{error::ProgramError, AccountView};

use crate::{errors::VaultError, schema::Layout, ID};

pub use authority::{
    AuthorizedProgram, PauseAction, RemovedProgram, VaultAuthority, DEFAULT_STRANDED_LOCK_GRACE_SECONDS,
    MAX_AUTHORIZED_PROGRAMS, MAX_REMOVED_PROGRAMS,
};
pub use caller_lock::{CallerLock, NO_CAP};
pub use vault::{first_seq, CollateralVault, SEQ_GENERATION_SHIFT};

/// A program account type: `discriminator ++ layout`.
pub trait AccountType: Layout {
    const DISCRIMINATOR: [u8; 8];
    const SPACE: usize = 8 + Self::LEN;
}

/// Type-checks an account: owned by this program, exactly the type's size, and carrying its
/// discriminator. Nothing else may be read as `T`.
#[inline(always)]
pub fn check_account_type<T: AccountType>(account: &AccountView) -> Result<(), ProgramError> {
    if !account.owned_by(&ID) {
        return Err(VaultError::InvalidAccountOwner.into());
    }
    if account.data_len() != T::SPACE {
        return Err(VaultError::InvalidDiscriminator.into());
    }
    // SAFETY: read-only peek at the first 8 bytes; the length was checked above.
    let data = unsafe { account.borrow_unchecked() };
    if data[..8] != T::DISCRIMINATOR {
        return Err(VaultError::InvalidDiscriminator.into());
    }
    Ok(())
}

/// Reads a type-checked account.
///
/// # Safety
/// `check_account_type::<T>` must have succeeded for `account`, and no mutable reference to its
/// data may be alive.
#[inline(always)]
pub unsafe fn account_data<T: AccountType>(account: &AccountView) -> &T {
    // SAFETY: the caller checked the type and size; `Layout` has alignment 1.
    unsafe { &*(account.data_ptr().add(8) as *const T) }
}

/// Mutably borrows a type-checked account.
///
/// # Safety
/// `check_account_type::<T>` must have succeeded for `account`, the account must be writable,
/// and no other reference to its data may be alive (accounts passed twice are rejected first).
#[inline(always)]
pub unsafe fn account_data_mut<T: AccountType>(account: &AccountView) -> &mut T {
    // SAFETY: as above; the runtime maps writable account data as writable memory.
    unsafe { &mut *(account.data_ptr().add(8) as *mut T) }
}

/// Writes the discriminator and initial state into a freshly created account of `T::SPACE`
/// bytes, and returns the state for further mutation.
///
/// # Safety
/// `account` must have just been created with `T::SPACE` bytes, owned by this program, and be
/// writable; no other reference to its data may be alive.
#[inline(always)]
pub unsafe fn init_account<'a, T: AccountType>(account: &'a AccountView, value: &T) -> &'a mut T {
    // SAFETY: per the contract, `SPACE` writable bytes that nothing else references.
    let bytes = unsafe { core::slice::from_raw_parts_mut(account.data_ptr() as *mut u8, T::SPACE) };
    bytes[..8].copy_from_slice(&T::DISCRIMINATOR);
    bytes[8..].copy_from_slice(value.as_bytes());
    // SAFETY: the type was just written.
    unsafe { account_data_mut::<T>(account) }
}
