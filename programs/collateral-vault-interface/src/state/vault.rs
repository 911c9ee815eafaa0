//! `CollateralVault`: one per user at `[b"vault", owner]`. All balance arithmetic lives here,
//! checked, and every mutation re-establishes `total = locked + available`.

use pinocchio::Address;

use crate::{
    discriminator,
    errors::VaultError,
    layout,
    pod::{PodI64, PodU64},
};

use super::AccountType;

layout! {
    /// A user's collateral ledger. The first nine fields are the seeds' account structure.
    pub struct CollateralVault {
        /// User who owns the vault.
        pub owner: Address,
        /// The vault PDA's associated token account holding the collateral.
        pub token_account: Address,
        /// Total collateral in the vault.
        pub total_balance: PodU64,
        /// Collateral locked in positions.
        pub locked_balance: PodU64,
        /// Collateral available for withdrawal (`total - locked`).
        pub available_balance: PodU64,
        /// Lifetime deposits.
        pub total_deposited: PodU64,
        /// Lifetime withdrawals.
        pub total_withdrawn: PodU64,
        /// Unix timestamp of creation.
        pub created_at: PodI64,
        /// PDA bump seed.
        pub bump: u8,
        /// Sequence number of the last event about this vault; indexers detect gaps with it.
        pub event_seq: PodU64,
        /// Lifetime collateral received by settlement transfers.
        pub total_transferred_in: PodU64,
        /// Lifetime collateral paid out by settlement transfers.
        pub total_transferred_out: PodU64,
        /// Room for future fields without a migration.
        pub reserved: [u8; 32],
    }
}

impl AccountType for CollateralVault {
    const DISCRIMINATOR: [u8; 8] = discriminator::account("CollateralVault");
}

type Result<T = ()> = core::result::Result<T, VaultError>;

#[inline(always)]
fn add(a: u64, b: u64) -> Result<u64> {
    a.checked_add(b).ok_or(VaultError::MathOverflow)
}

impl CollateralVault {
    pub fn new(owner: Address, token_account: Address, bump: u8, created_at: i64) -> Self {
        Self {
            owner,
            token_account,
            total_balance: PodU64::new(0),
            locked_balance: PodU64::new(0),
            available_balance: PodU64::new(0),
            total_deposited: PodU64::new(0),
            total_withdrawn: PodU64::new(0),
            created_at: PodI64::new(created_at),
            bump,
            event_seq: PodU64::new(0),
            total_transferred_in: PodU64::new(0),
            total_transferred_out: PodU64::new(0),
            reserved: [0; 32],
        }
    }

    /// `total = locked + available`, and the lifetime flows explain the total.
    pub fn check_invariants(&self) -> Result {
        let parts = add(self.locked_balance.get(), self.available_balance.get())?;
        if parts != self.total_balance.get() {
            return Err(VaultError::InvariantViolated);
        }
        let inflow = add(self.total_deposited.get(), self.total_transferred_in.get())?;
        let outflow = add(self.total_withdrawn.get(), self.total_transferred_out.get())?;
        if inflow.checked_sub(outflow) != Some(self.total_balance.get()) {
            return Err(VaultError::InvariantViolated);
        }
        Ok(())
    }

    /// Advances and returns the event sequence number.
    pub fn next_event_seq(&mut self) -> Result<u64> {
        let seq = add(self.event_seq.get(), 1)?;
        self.event_seq.set(seq);
        Ok(seq)
    }

    pub fn deposit(&mut self, amount: u64) -> Result {
        nonzero(amount)?;
        self.total_balance.set(add(self.total_balance.get(), amount)?);
        self.available_balance.set(add(self.available_balance.get(), amount)?);
        self.total_deposited.set(add(self.total_deposited.get(), amount)?);
        self.check_invariants()
    }

    pub fn withdraw(&mut self, amount: u64) -> Result {
        nonzero(amount)?;
        let available = self.available_balance.get();
        if amount > available {
            return Err(VaultError::InsufficientAvailableBalance);
        }
        self.available_balance.set(available - amount);
        self.total_balance.set(self.total_balance.get() - amount);
        self.total_withdrawn.set(add(self.total_withdrawn.get(), amount)?);
        self.check_invariants()
    }

    pub fn lock(&mut self, amount: u64) -> Result {
        nonzero(amount)?;
        let available = self.available_balance.get();
        if amount > available {
            return Err(VaultError::InsufficientAvailableBalance);
        }
        self.available_balance.set(available - amount);
        self.locked_balance.set(add(self.locked_balance.get(), amount)?);
        self.check_invariants()
    }

    pub fn unlock(&mut self, amount: u64) -> Result {
        nonzero(amount)?;
        let locked = self.locked_balance.get();
        if amount > locked {
            return Err(VaultError::InsufficientLockedBalance);
        }
        self.locked_balance.set(locked - amount);
        self.available_balance.set(add(self.available_balance.get(), amount)?);
        self.check_invariants()
    }

    /// Pays out locked collateral in a settlement.
    pub fn transfer_out_locked(&mut self, amount: u64) -> Result {
        nonzero(amount)?;
        let locked = self.locked_balance.get();
        if amount > locked {
            return Err(VaultError::InsufficientLockedBalance);
        }
        self.locked_balance.set(locked - amount);
        self.total_balance.set(self.total_balance.get() - amount);
        self.total_transferred_out.set(add(self.total_transferred_out.get(), amount)?);
        self.check_invariants()
    }

    /// Receives settled collateral; it arrives available.
    pub fn transfer_in(&mut self, amount: u64) -> Result {
        nonzero(amount)?;
        self.total_balance.set(add(self.total_balance.get(), amount)?);
        self.available_balance.set(add(self.available_balance.get(), amount)?);
        self.total_transferred_in.set(add(self.total_transferred_in.get(), amount)?);
        self.check_invariants()
    }

    /// Tokens sent straight to the vault's token account (outside this program) belong to the
    /// owner: they are credited as a deposit so that the token account and the ledger agree
    /// again, instead of blocking the vault. Returns the amount credited.
    pub fn absorb_surplus(&mut self, token_amount: u64) -> Result<u64> {
        let total = self.total_balance.get();
        if token_amount < total {
            return Err(VaultError::TokenBalanceMismatch);
        }
        let surplus = token_amount - total;
        if surplus > 0 {
            self.deposit(surplus)?;
        }
        Ok(surplus)
    }

    /// The token account must hold exactly what the ledger says.
    pub fn check_token_amount(&self, token_amount: u64) -> Result {
        if token_amount != self.total_balance.get() {
            return Err(VaultError::TokenBalanceMismatch);
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.total_balance.get() == 0 && self.locked_balance.get() == 0
    }
}

#[inline(always)]
fn nonzero(amount: u64) -> Result {
    if amount == 0 {
        return Err(VaultError::ZeroAmount);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Layout;

    fn vault() -> CollateralVault {
        CollateralVault::new(Address::new_from_array([1; 32]), Address::new_from_array([2; 32]), 254, 0)
    }

    #[test]
    fn layout_matches_borsh_size() {
        // 2 pubkeys, 5 u64, i64, u8, 3 u64, 32 reserved.
        assert_eq!(CollateralVault::LEN, 64 + 40 + 8 + 1 + 24 + 32);
        assert_eq!(CollateralVault::SPACE, 8 + CollateralVault::LEN);
    }

    #[test]
    fn lifecycle_keeps_invariants() {
        let mut v = vault();
        v.deposit(1_000).unwrap();
        v.lock(600).unwrap();
        v.unlock(100).unwrap();
        v.withdraw(400).unwrap();
        v.transfer_out_locked(500).unwrap();
        v.transfer_in(50).unwrap();
        assert_eq!(
            (v.total_balance.get(), v.locked_balance.get(), v.available_balance.get()),
            (150, 0, 150)
        );
        v.check_invariants().unwrap();
    }

    #[test]
    fn rejects_zero_and_excess_amounts_without_mutating() {
        let mut v = vault();
        v.deposit(100).unwrap();
        let before = v;
        assert_eq!(v.deposit(0), Err(VaultError::ZeroAmount));
        assert_eq!(v.withdraw(101), Err(VaultError::InsufficientAvailableBalance));
        assert_eq!(v.lock(101), Err(VaultError::InsufficientAvailableBalance));
        assert_eq!(v.unlock(1), Err(VaultError::InsufficientLockedBalance));
        assert_eq!(v.transfer_out_locked(1), Err(VaultError::InsufficientLockedBalance));
        assert_eq!(v, before);
    }

    #[test]
    fn overflow_at_u64_max_is_an_error() {
        let mut v = vault();
        v.deposit(u64::MAX).unwrap();
        assert_eq!(v.deposit(1), Err(VaultError::MathOverflow));
        assert_eq!(v.transfer_in(1), Err(VaultError::MathOverflow));
    }

    #[test]
    fn surplus_is_credited_and_shortfall_rejected() {
        let mut v = vault();
        v.deposit(100).unwrap();
        assert_eq!(v.absorb_surplus(100), Ok(0));
        assert_eq!(v.absorb_surplus(130), Ok(30));
        assert_eq!(v.total_balance.get(), 130);
        assert_eq!(v.absorb_surplus(129), Err(VaultError::TokenBalanceMismatch));
    }

    #[test]
    fn event_sequence_is_monotonic() {
        let mut v = vault();
        assert_eq!(v.next_event_seq(), Ok(1));
        assert_eq!(v.next_event_seq(), Ok(2));
    }
}
