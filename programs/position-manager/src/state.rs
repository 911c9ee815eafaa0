//! Account types.

use collateral_vault_interface::{discriminator, layout, pod::PodU64, schema::Layout};
use pinocchio::{AccountView, Address};

use crate::errors::ManagerError;

pub trait ManagerAccount: Layout {
    const DISCRIMINATOR: [u8; 8];
    const SPACE: usize = 8 + Self::LEN;
}

layout! {
    pub struct ManagerConfig {
        pub admin: Address,
        /// May liquidate positions; liquidations pay into the keeper's own vault.
        pub keeper: Address,
        pub caller_authority_bump: u8,
        pub bump: u8,
    }
}

layout! {
    /// Collateral this manager has locked for one user.
    pub struct MarginAccount {
        pub owner: Address,
        pub vault: Address,
        pub locked: PodU64,
        pub bump: u8,
    }
}

impl ManagerAccount for ManagerConfig {
    const DISCRIMINATOR: [u8; 8] = discriminator::account("ManagerConfig");
}

impl ManagerAccount for MarginAccount {
    const DISCRIMINATOR: [u8; 8] = discriminator::account("MarginAccount");
}

/// Type-checks and maps an account of ours (owner, size, discriminator).
///
/// # Safety
/// No other reference to the account's data may be alive while the result is.
#[inline(always)]
pub unsafe fn load<'a, T: ManagerAccount>(account: &'a AccountView, program_id: &Address) -> Result<&'a mut T, ManagerError> {
    if !account.owned_by(program_id) || account.data_len() != T::SPACE {
        return Err(ManagerError::InvalidAccount);
    }
    let data = account.data_ptr() as *mut u8;
    // SAFETY: SPACE bytes, alignment 1; aliasing is the caller's contract.
    unsafe {
        if core::slice::from_raw_parts(data, 8) != T::DISCRIMINATOR {
            return Err(ManagerError::InvalidAccount);
        }
        Ok(&mut *(data.add(8) as *mut T))
    }
}

/// Writes a freshly created account.
///
/// # Safety
/// `account` was just created with `T::SPACE` bytes and nothing references its data.
#[inline(always)]
pub unsafe fn init<T: ManagerAccount>(account: &AccountView, value: &T) {
    // SAFETY: per the contract.
    let bytes = unsafe { core::slice::from_raw_parts_mut(account.data_ptr() as *mut u8, T::SPACE) };
    bytes[..8].copy_from_slice(&T::DISCRIMINATOR);
    bytes[8..].copy_from_slice(value.as_bytes());
}

impl MarginAccount {
    pub fn add(&mut self, amount: u64) -> Result<(), ManagerError> {
        if amount == 0 {
            return Err(ManagerError::ZeroAmount);
        }
        let locked = self.locked.get().checked_add(amount).ok_or(ManagerError::MathOverflow)?;
        self.locked.set(locked);
        Ok(())
    }

    pub fn release(&mut self, amount: u64) -> Result<(), ManagerError> {
        if amount == 0 {
            return Err(ManagerError::ZeroAmount);
        }
        let locked = self.locked.get().checked_sub(amount).ok_or(ManagerError::InsufficientMargin)?;
        self.locked.set(locked);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_cannot_release_more_than_it_locked() {
        let mut margin = MarginAccount {
            owner: Address::new_from_array([1; 32]),
            vault: Address::new_from_array([2; 32]),
            locked: PodU64::new(0),
            bump: 255,
        };
        margin.add(10).unwrap();
        assert_eq!(margin.release(11), Err(ManagerError::InsufficientMargin));
        margin.release(10).unwrap();
        assert_eq!(margin.add(0), Err(ManagerError::ZeroAmount));
        margin.add(u64::MAX).unwrap();
        assert_eq!(margin.add(1), Err(ManagerError::MathOverflow));
    }
}
