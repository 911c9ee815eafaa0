//! `CallerLock`: the owner's consent to one program, and what that program holds locked, at
//! `[b"caller_lock", vault, program_id]`.
//!
//! Why one small PDA per (vault, program) rather than a table inside the vault: the vault's
//! layout stays the seeds' (and v1's) size; the owner creates it, pays its rent and gets it back
//! on revoke, so it costs nothing to users who never approve a program; the number of programs
//! a vault can work with is not bounded by a table size; and a lock touches exactly the two
//! accounts it changes. The program creates a `CallerLock` only at its PDA (in
//! `approve_caller`), so an account we own with this type's size and discriminator is at the PDA
//! of the vault and program it records.

use pinocchio::Address;

use crate::{discriminator, errors::VaultError, layout, pod::PodU64};

use super::AccountType;

/// Stored as the cap when the owner set none.
pub const NO_CAP: u64 = u64::MAX;

layout! {
    /// One program's locks in one vault, with the owner's consent.
    pub struct CallerLock {
        /// The vault this record belongs to.
        pub vault: Address,
        /// The program allowed to lock (the id whose `[b"vault_caller"]` PDA signs).
        pub caller_program: Address,
        /// Collateral this program holds locked in the vault now.
        pub locked: PodU64,
        /// Most this program may hold locked at once: `u64::MAX` when the owner set no cap,
        /// 0 once the owner revoked the approval (unlocks and settlements still work).
        pub cap: PodU64,
        /// PDA bump seed.
        pub bump: u8,
    }
}

impl AccountType for CallerLock {
    const DISCRIMINATOR: [u8; 8] = discriminator::account("CallerLock");
}

type Result<T = ()> = core::result::Result<T, VaultError>;

impl CallerLock {
    pub fn new(vault: Address, caller_program: Address, cap: u64, bump: u8) -> Self {
        Self { vault, caller_program, locked: PodU64::new(0), cap: PodU64::new(cap), bump }
    }

    /// The record of `caller_program` in `vault`, and nothing else.
    #[inline(always)]
    pub fn check_binding(&self, vault: &Address, caller_program: &Address) -> Result {
        if self.vault != *vault || self.caller_program != *caller_program {
            return Err(VaultError::InvalidCallerLock);
        }
        Ok(())
    }

    /// Adds to this program's locks, within the owner's cap.
    #[inline(always)]
    pub fn lock(&mut self, amount: u64) -> Result {
        let cap = self.cap.get();
        if cap == 0 {
            return Err(VaultError::CallerNotApproved);
        }
        let locked = self.locked.get().checked_add(amount).ok_or(VaultError::MathOverflow)?;
        if locked > cap {
            return Err(VaultError::ApprovalCapExceeded);
        }
        self.locked.set(locked);
        Ok(())
    }

    /// Takes from this program's own locks only.
    #[inline(always)]
    pub fn release(&mut self, amount: u64) -> Result {
        let locked = self.locked.get().checked_sub(amount).ok_or(VaultError::InsufficientLockedBalance)?;
        self.locked.set(locked);
        Ok(())
    }

    pub fn is_revoked(&self) -> bool {
        self.cap.get() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Layout;

    fn record(cap: u64) -> CallerLock {
        CallerLock::new(Address::new_from_array([1; 32]), Address::new_from_array([2; 32]), cap, 253)
    }

    #[test]
    fn layout_is_two_keys_two_amounts_and_a_bump() {
        assert_eq!(CallerLock::LEN, 32 + 32 + 8 + 8 + 1);
    }

    #[test]
    fn locks_stay_within_the_cap_and_release_only_what_was_locked() {
        let mut r = record(100);
        r.lock(60).unwrap();
        assert_eq!(r.lock(41), Err(VaultError::ApprovalCapExceeded));
        r.lock(40).unwrap();
        assert_eq!(r.release(101), Err(VaultError::InsufficientLockedBalance));
        r.release(100).unwrap();
        assert_eq!(r.locked.get(), 0);
    }

    #[test]
    fn no_cap_and_revoked() {
        let mut r = record(NO_CAP);
        r.lock(u64::MAX).unwrap();
        assert_eq!(r.lock(1), Err(VaultError::MathOverflow));
        let mut revoked = record(0);
        assert_eq!(revoked.lock(1), Err(VaultError::CallerNotApproved));
        assert!(revoked.is_revoked());
    }

    #[test]
    fn binding_is_checked_on_both_keys() {
        let r = record(1);
        let (vault, program) = (Address::new_from_array([1; 32]), Address::new_from_array([2; 32]));
        assert_eq!(r.check_binding(&vault, &program), Ok(()));
        assert_eq!(r.check_binding(&program, &program), Err(VaultError::InvalidCallerLock));
        assert_eq!(r.check_binding(&vault, &vault), Err(VaultError::InvalidCallerLock));
    }
}
