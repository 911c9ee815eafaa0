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
        /// The slot this vault was created in. A vault closed and created again at the same
        /// address gets a later one, and its event numbering starts above every earlier number.
        pub generation: PodU64,
        /// Room for future fields without a migration.
        pub reserved: [u8; 24],
    }
}

impl AccountType for CollateralVault {
    const DISCRIMINATOR: [u8; 8] = discriminator::account("CollateralVault");
}

type Result<T = ()> = core::result::Result<T, VaultError>;

/// Event numbers of a vault created in slot `s` start at `(s << SEQ_GENERATION_SHIFT) + 1`.
/// `close_vault` refuses while the next number would reach the current slot's base, so every
/// number a later incarnation at the same address uses is larger than all earlier ones: one
/// address never repeats a sequence number. 2^20 events per slot of a vault's life is far above
/// what the per-account compute limit of a block allows; numbers stay below 2^53 (exact in
/// JavaScript) until slot 2^33.
pub const SEQ_GENERATION_SHIFT: u32 = 20;

/// The first event number of the vault generation created in `slot`.
pub const fn first_seq(generation: u64) -> u64 {
    (generation << SEQ_GENERATION_SHIFT) + 1
}

#[inline(always)]
fn add(a: u64, b: u64) -> Result<u64> {
    a.checked_add(b).ok_or(VaultError::MathOverflow)
}

impl CollateralVault {
    pub fn new(owner: Address, token_account: Address, bump: u8, created_at: i64, generation: u64) -> Self {
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
            event_seq: PodU64::new(first_seq(generation) - 1),
            total_transferred_in: PodU64::new(0),
            total_transferred_out: PodU64::new(0),
            generation: PodU64::new(generation),
            reserved: [0; 24],
        }
    }

    /// Whether the vault may be closed at `slot` without its closing event number reaching the
    /// numbers a vault created again at this address in the same slot would use.
    pub fn can_close_at(&self, slot: u64) -> bool {
        match self.event_seq.get().checked_add(1) {
            Some(closing_seq) => closing_seq < first_seq(slot),
            None => false,
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

    /// Tokens in the vault's token account beyond the ledger: sent to it from outside this
    /// program. Less than the ledger is an inconsistency.
    pub fn surplus(&self, token_amount: u64) -> Result<u64> {
        token_amount.checked_sub(self.total_balance.get()).ok_or(VaultError::TokenBalanceMismatch)
    }

    /// Credits a surplus to the owner as a deposit, so a stray transfer never blocks the vault.
    /// Only while deposits are open: a deposit pause stops every inflow to the ledger, and the
    /// surplus waits in the token account until deposits resume (see `check_token_amount`).
    pub fn credit_surplus(&mut self, surplus: u64) -> Result {
        if surplus > 0 {
            self.deposit(surplus)?;
        }
        Ok(())
    }

    /// After a transfer, the token account must hold exactly the ledger's total plus the
    /// surplus that was left uncredited (zero unless deposits are paused).
    pub fn check_token_amount(&self, token_amount: u64, uncredited: u64) -> Result {
        if Some(token_amount) != self.total_balance.get().checked_add(uncredited) {
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
        CollateralVault::new(Address::new_from_array([1; 32]), Address::new_from_array([2; 32]), 254, 0, 0)
    }

    #[test]
    fn layout_matches_borsh_size() {
        // 2 pubkeys, 5 u64, i64, u8, 4 u64, 24 reserved: the size v1 had.
        assert_eq!(CollateralVault::LEN, 64 + 40 + 8 + 1 + 32 + 24);
        assert_eq!(CollateralVault::LEN, 169);
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
    fn surplus_is_measured_credited_and_shortfall_rejected() {
        let mut v = vault();
        v.deposit(100).unwrap();
        assert_eq!(v.surplus(100), Ok(0));
        assert_eq!(v.surplus(130), Ok(30));
        assert_eq!(v.surplus(99), Err(VaultError::TokenBalanceMismatch));
        v.credit_surplus(30).unwrap();
        assert_eq!((v.total_balance.get(), v.total_deposited.get()), (130, 130));
        // Left uncredited (deposits paused), it is accounted for in the token check.
        assert_eq!(v.check_token_amount(140, 10), Ok(()));
        assert_eq!(v.check_token_amount(140, 0), Err(VaultError::TokenBalanceMismatch));
    }

    #[test]
    fn generations_number_events_above_every_earlier_generation() {
        let first = CollateralVault::new(Address::new_from_array([1; 32]), Address::new_from_array([2; 32]), 254, 0, 5);
        let mut v = first;
        assert_eq!(v.next_event_seq(), Ok(first_seq(5)));
        // Not in the creation slot; from the next slot on, yes.
        assert!(!v.can_close_at(5));
        assert!(v.can_close_at(6));
        let closing = v.next_event_seq().unwrap();
        let again = CollateralVault::new(Address::new_from_array([1; 32]), Address::new_from_array([2; 32]), 254, 0, 6);
        assert!(again.event_seq.get() + 1 > closing);
        // A vault that used up its slot's range must wait for a later slot.
        let mut busy = first;
        busy.event_seq.set(first_seq(6) - 1);
        assert!(!busy.can_close_at(6) && busy.can_close_at(7));
    }

    #[test]
    fn event_sequence_is_monotonic() {
        let mut v = vault();
        assert_eq!(v.next_event_seq(), Ok(1));
        assert_eq!(v.next_event_seq(), Ok(2));
    }
}
