//! Account types, and the health rule.

use collateral_vault_interface::{discriminator, layout, pod::PodU64, schema::Layout};
use pinocchio::{AccountView, Address};

use crate::errors::ManagerError;

pub trait ManagerAccount: Layout {
    const DISCRIMINATOR: [u8; 8];
    const SPACE: usize = 8 + Self::LEN;
}

/// The minimal health rule: an open position of size `s` (in collateral base units) needs at
/// least `ceil(s / MAX_LEVERAGE)` of collateral locked behind it (10x, a 10 % initial margin).
/// There are no prices here: positions are sized in collateral units, so a position cannot
/// become unhealthy on its own; the rule only stops a user from unlocking what backs it.
pub const MAX_LEVERAGE: u64 = 10;

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
    /// Collateral this manager has locked for one user, and the position it backs.
    pub struct MarginAccount {
        pub owner: Address,
        pub vault: Address,
        /// Collateral this manager holds locked in the user's vault.
        pub locked: PodU64,
        /// Size of the user's open position (collateral base units).
        pub position_size: PodU64,
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

/// Collateral an open position of `size` needs behind it, rounded up.
#[inline(always)]
pub const fn required_margin(size: u64) -> u64 {
    size.div_ceil(MAX_LEVERAGE)
}

impl MarginAccount {
    /// Locks `amount` more and grows the position by `size`; the result must be healthy.
    pub fn open(&mut self, amount: u64, size: u64) -> Result<(), ManagerError> {
        if amount == 0 && size == 0 {
            return Err(ManagerError::ZeroAmount);
        }
        let locked = self.locked.get().checked_add(amount).ok_or(ManagerError::MathOverflow)?;
        let position_size = self.position_size.get().checked_add(size).ok_or(ManagerError::MathOverflow)?;
        ensure_healthy(locked, position_size)?;
        self.locked.set(locked);
        self.position_size.set(position_size);
        Ok(())
    }

    /// Shrinks the position by `size` and unlocks `amount`; what stays locked must still back
    /// what stays open.
    pub fn close(&mut self, amount: u64, size: u64) -> Result<(), ManagerError> {
        if amount == 0 && size == 0 {
            return Err(ManagerError::ZeroAmount);
        }
        let position_size = self.position_size.get().checked_sub(size).ok_or(ManagerError::PositionTooSmall)?;
        let locked = self.locked.get().checked_sub(amount).ok_or(ManagerError::InsufficientMargin)?;
        ensure_healthy(locked, position_size)?;
        self.locked.set(locked);
        self.position_size.set(position_size);
        Ok(())
    }

    /// A liquidation seizes `amount` of the locked collateral and closes the position.
    pub fn liquidate(&mut self, amount: u64) -> Result<(), ManagerError> {
        if amount == 0 {
            return Err(ManagerError::ZeroAmount);
        }
        let locked = self.locked.get().checked_sub(amount).ok_or(ManagerError::InsufficientMargin)?;
        self.locked.set(locked);
        self.position_size.set(0);
        Ok(())
    }
}

#[inline(always)]
fn ensure_healthy(locked: u64, position_size: u64) -> Result<(), ManagerError> {
    if locked < required_margin(position_size) {
        return Err(ManagerError::MarginBacksOpenPosition);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn margin() -> MarginAccount {
        MarginAccount {
            owner: Address::new_from_array([1; 32]),
            vault: Address::new_from_array([2; 32]),
            locked: PodU64::new(0),
            position_size: PodU64::new(0),
            bump: 255,
        }
    }

    #[test]
    fn required_margin_rounds_up() {
        assert_eq!(required_margin(0), 0);
        assert_eq!(required_margin(1), 1);
        assert_eq!(required_margin(100), 10);
        assert_eq!(required_margin(101), 11);
        assert_eq!(required_margin(u64::MAX), u64::MAX / 10 + 1);
    }

    #[test]
    fn collateral_backing_an_open_position_cannot_be_unlocked() {
        let mut m = margin();
        m.open(1_000, 5_000).unwrap();
        // 5,000 open needs 500: up to 500 may go, not 501.
        assert_eq!(m.close(501, 0), Err(ManagerError::MarginBacksOpenPosition));
        m.close(500, 0).unwrap();
        // Closing the position frees the rest.
        m.close(500, 5_000).unwrap();
        assert_eq!((m.locked.get(), m.position_size.get()), (0, 0));
    }

    #[test]
    fn opening_needs_the_margin_and_closing_cannot_exceed_the_position() {
        let mut m = margin();
        assert_eq!(m.open(10, 101), Err(ManagerError::MarginBacksOpenPosition));
        assert_eq!(m.open(0, 0), Err(ManagerError::ZeroAmount));
        m.open(11, 101).unwrap();
        assert_eq!(m.close(0, 102), Err(ManagerError::PositionTooSmall));
        assert_eq!(m.close(12, 101), Err(ManagerError::InsufficientMargin));
        m.open(u64::MAX - 11, 0).unwrap();
        assert_eq!(m.open(1, 0), Err(ManagerError::MathOverflow));
    }

    #[test]
    fn liquidation_closes_the_position() {
        let mut m = margin();
        m.open(1_000, 9_000).unwrap();
        assert_eq!(m.liquidate(1_001), Err(ManagerError::InsufficientMargin));
        m.liquidate(900).unwrap();
        assert_eq!((m.locked.get(), m.position_size.get()), (100, 0));
    }
}
