//! `VaultAuthority`: the configuration singleton at `[b"vault_authority"]`.

use pinocchio::Address;

use crate::{
    discriminator,
    errors::VaultError,
    layout,
    pod::{PodBool, PodI64},
    schema::{EnumSpec, IdlType, Ty},
};

use super::AccountType;

pub const MAX_AUTHORIZED_PROGRAMS: usize = 8;
pub const MAX_REMOVED_PROGRAMS: usize = 8;
/// The grace period a new authority starts with: 7 days.
pub const DEFAULT_STRANDED_LOCK_GRACE_SECONDS: i64 = 7 * 24 * 60 * 60;
/// The longest grace period the admin may set: 30 days. A bound, so an admin cannot take the
/// owners' way out away by setting an endless one.
pub const MAX_STRANDED_LOCK_GRACE_SECONDS: i64 = 30 * 24 * 60 * 60;

layout! {
    /// A program allowed to lock, unlock and transfer collateral, with the signer PDA it must
    /// present (`[b"vault_caller"]` derived from `program_id`).
    pub struct AuthorizedProgram {
        pub program_id: Address,
        pub caller_authority: Address,
    }
}

layout! {
    /// A program the admin removed from the allow-list, and when its locks become releasable by
    /// the vault owners (`release_stranded_lock`).
    pub struct RemovedProgram {
        pub program_id: Address,
        pub releasable_at: PodI64,
    }
}

layout! {
    /// Program configuration: admin hand-over, collateral mint, caller allow-list and pauses.
    pub struct VaultAuthority {
        pub admin: Address,
        /// Proposed admin; all zeroes when no hand-over is under way.
        pub pending_admin: Address,
        /// The collateral mint (USDT).
        pub collateral_mint: Address,
        pub collateral_decimals: u8,
        pub deposit_paused: PodBool,
        pub withdraw_paused: PodBool,
        pub lock_paused: PodBool,
        pub authorized_program_count: u8,
        pub authorized_programs: [AuthorizedProgram; 8],
        pub bump: u8,
        /// How long after a program's removal its locks stay locked before each vault owner may
        /// release them (seconds, at most 30 days).
        pub stranded_lock_grace_seconds: PodI64,
        pub removed_program_count: u8,
        /// Removed programs still within their grace period (expired entries are reused).
        pub removed_programs: [RemovedProgram; 8],
        pub reserved: [u8; 64],
    }
}

impl AccountType for VaultAuthority {
    const DISCRIMINATOR: [u8; 8] = discriminator::account("VaultAuthority");
}

const _: () = assert!(MAX_AUTHORIZED_PROGRAMS == 8 && MAX_REMOVED_PROGRAMS == 8);

/// Which action `set_paused` switches. One byte on the wire (a borsh unit enum).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PauseAction(pub u8);

impl PauseAction {
    pub const DEPOSIT: Self = Self(0);
    pub const WITHDRAW: Self = Self(1);
    pub const LOCK: Self = Self(2);
    pub const SPEC: EnumSpec = EnumSpec {
        name: "PauseAction",
        variants: &["Deposit", "Withdraw", "Lock"],
    };
}

impl IdlType for PauseAction {
    const TY: Ty = Ty::Defined("PauseAction");
}

impl VaultAuthority {
    pub fn authorized(&self) -> &[AuthorizedProgram] {
        let count = (self.authorized_program_count as usize).min(MAX_AUTHORIZED_PROGRAMS);
        &self.authorized_programs[..count]
    }

    /// The allow-listed program whose caller PDA is `signer`, if any.
    #[inline(always)]
    pub fn program_for_caller(&self, signer: &Address) -> Option<&Address> {
        self.authorized()
            .iter()
            .find(|entry| entry.caller_authority == *signer)
            .map(|entry| &entry.program_id)
    }

    pub fn is_authorized(&self, program_id: &Address) -> bool {
        self.authorized().iter().any(|entry| entry.program_id == *program_id)
    }

    pub fn add_program(&mut self, entry: AuthorizedProgram) -> Result<(), VaultError> {
        if self.is_authorized(&entry.program_id) {
            return Err(VaultError::ProgramAlreadyAuthorized);
        }
        let count = self.authorized_program_count as usize;
        if count >= MAX_AUTHORIZED_PROGRAMS {
            return Err(VaultError::AuthorizedProgramsFull);
        }
        self.authorized_programs[count] = entry;
        self.authorized_program_count += 1;
        Ok(())
    }

    /// Removes by swapping the last entry into the hole; order carries no meaning.
    pub fn remove_program(&mut self, program_id: &Address) -> Result<(), VaultError> {
        let count = (self.authorized_program_count as usize).min(MAX_AUTHORIZED_PROGRAMS);
        let index = self.authorized_programs[..count]
            .iter()
            .position(|entry| entry.program_id == *program_id)
            .ok_or(VaultError::ProgramNotAuthorized)?;
        let last = count - 1;
        self.authorized_programs[index] = self.authorized_programs[last];
        self.authorized_programs[last] = AuthorizedProgram {
            program_id: Address::new_from_array([0; 32]),
            caller_authority: Address::new_from_array([0; 32]),
        };
        self.authorized_program_count = last as u8;
        Ok(())
    }

    pub fn set_paused(&mut self, action: PauseAction, paused: bool) -> Result<(), VaultError> {
        let flag = match action {
            PauseAction::DEPOSIT => &mut self.deposit_paused,
            PauseAction::WITHDRAW => &mut self.withdraw_paused,
            PauseAction::LOCK => &mut self.lock_paused,
            _ => return Err(VaultError::InvalidPauseAction),
        };
        *flag = PodBool::new(paused);
        Ok(())
    }

    pub fn ensure_deposits_open(&self) -> Result<(), VaultError> {
        if self.deposit_paused.get() { Err(VaultError::DepositsPaused) } else { Ok(()) }
    }

    pub fn ensure_withdrawals_open(&self) -> Result<(), VaultError> {
        if self.withdraw_paused.get() { Err(VaultError::WithdrawalsPaused) } else { Ok(()) }
    }

    pub fn ensure_locks_open(&self) -> Result<(), VaultError> {
        if self.lock_paused.get() { Err(VaultError::LocksPaused) } else { Ok(()) }
    }

    /// Unlocks and settlements are never paused, so positions can always be closed.
    pub fn always_open(&self) -> Result<(), VaultError> {
        Ok(())
    }

    pub fn removed(&self) -> &[RemovedProgram] {
        let count = (self.removed_program_count as usize).min(MAX_REMOVED_PROGRAMS);
        &self.removed_programs[..count]
    }

    /// Records a removal at `now`; returns when the program's locks become releasable. Entries
    /// whose grace has passed are dropped first: a program absent from both lists has no live
    /// locks to protect. A removal never fails for lack of room (the admin must always be able to
    /// remove a compromised program): with the list full of live entries, the one whose grace
    /// ends first is dropped, which only lets its owners release sooner.
    pub fn record_removal(&mut self, program_id: &Address, now: i64) -> Result<i64, VaultError> {
        self.forget_removal(program_id);
        let mut index = 0;
        while index < (self.removed_program_count as usize).min(MAX_REMOVED_PROGRAMS) {
            if self.removed_programs[index].releasable_at.get() <= now {
                self.drop_removed(index);
            } else {
                index += 1;
            }
        }
        if self.removed_program_count as usize >= MAX_REMOVED_PROGRAMS {
            let earliest = (0..MAX_REMOVED_PROGRAMS)
                .min_by_key(|&index| self.removed_programs[index].releasable_at.get())
                .unwrap_or(0);
            self.drop_removed(earliest);
        }
        let count = self.removed_program_count as usize;
        let releasable_at = now.checked_add(self.stranded_lock_grace_seconds.get()).ok_or(VaultError::MathOverflow)?;
        self.removed_programs[count] = RemovedProgram { program_id: *program_id, releasable_at: PodI64::new(releasable_at) };
        self.removed_program_count += 1;
        Ok(releasable_at)
    }

    /// A re-authorized program's locks are live again.
    pub fn forget_removal(&mut self, program_id: &Address) {
        if let Some(index) = self.removed().iter().position(|entry| entry.program_id == *program_id) {
            self.drop_removed(index);
        }
    }

    fn drop_removed(&mut self, index: usize) {
        let last = (self.removed_program_count as usize).min(MAX_REMOVED_PROGRAMS) - 1;
        self.removed_programs[index] = self.removed_programs[last];
        self.removed_programs[last] = RemovedProgram { program_id: Address::new_from_array([0; 32]), releasable_at: PodI64::new(0) };
        self.removed_program_count = last as u8;
    }

    /// Whether a vault owner may release `program_id`'s locks at `now`: the program is off the
    /// allow-list and its grace period (if it is still recorded) has passed.
    pub fn ensure_stranded(&self, program_id: &Address, now: i64) -> Result<(), VaultError> {
        if self.is_authorized(program_id) {
            return Err(VaultError::ProgramStillAuthorized);
        }
        match self.removed().iter().find(|entry| entry.program_id == *program_id) {
            Some(entry) if now < entry.releasable_at.get() => Err(VaultError::GracePeriodActive),
            _ => Ok(()),
        }
    }

    pub fn set_stranded_lock_grace(&mut self, seconds: i64) -> Result<(), VaultError> {
        if !(0..=MAX_STRANDED_LOCK_GRACE_SECONDS).contains(&seconds) {
            return Err(VaultError::InvalidGracePeriod);
        }
        self.stranded_lock_grace_seconds.set(seconds);
        Ok(())
    }

    pub fn has_pending_admin(&self) -> bool {
        self.pending_admin != Address::new_from_array([0; 32])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Layout;

    fn entry(n: u8) -> AuthorizedProgram {
        AuthorizedProgram {
            program_id: Address::new_from_array([n; 32]),
            caller_authority: Address::new_from_array([n + 100; 32]),
        }
    }

    fn authority() -> VaultAuthority {
        let mut bytes = [0u8; VaultAuthority::LEN];
        *VaultAuthority::from_bytes_mut(&mut bytes).unwrap()
    }

    #[test]
    fn allow_list_is_bounded_and_unique() {
        let mut a = authority();
        for n in 1..=8 {
            a.add_program(entry(n)).unwrap();
        }
        assert_eq!(a.add_program(entry(9)), Err(VaultError::AuthorizedProgramsFull));
        assert_eq!(a.add_program(entry(3)), Err(VaultError::ProgramAlreadyAuthorized));
        assert_eq!(a.program_for_caller(&entry(5).caller_authority), Some(&entry(5).program_id));
        // A program id is not a caller authority: passing the program's own address fails.
        assert_eq!(a.program_for_caller(&entry(5).program_id), None);
    }

    #[test]
    fn removal_keeps_the_others() {
        let mut a = authority();
        for n in 1..=3 {
            a.add_program(entry(n)).unwrap();
        }
        a.remove_program(&entry(1).program_id).unwrap();
        assert!(!a.is_authorized(&entry(1).program_id));
        assert!(a.is_authorized(&entry(2).program_id) && a.is_authorized(&entry(3).program_id));
        assert_eq!(a.remove_program(&entry(1).program_id), Err(VaultError::ProgramNotAuthorized));
    }

    #[test]
    fn removed_programs_become_releasable_after_the_grace() {
        let mut a = authority();
        a.set_stranded_lock_grace(100).unwrap();
        a.add_program(entry(1)).unwrap();
        let program = entry(1).program_id;
        assert_eq!(a.ensure_stranded(&program, 0), Err(VaultError::ProgramStillAuthorized));
        a.remove_program(&program).unwrap();
        assert_eq!(a.record_removal(&program, 1_000), Ok(1_100));
        assert_eq!(a.ensure_stranded(&program, 1_099), Err(VaultError::GracePeriodActive));
        assert_eq!(a.ensure_stranded(&program, 1_100), Ok(()));
        // Re-authorized: live again, and the record is gone.
        a.add_program(entry(1)).unwrap();
        a.forget_removal(&program);
        assert!(a.removed().is_empty());
        assert_eq!(a.ensure_stranded(&program, 5_000), Err(VaultError::ProgramStillAuthorized));
    }

    #[test]
    fn removed_list_reuses_expired_entries_and_never_refuses_a_removal() {
        let mut a = authority();
        a.set_stranded_lock_grace(100).unwrap();
        for n in 1..=8 {
            a.record_removal(&entry(n).program_id, n as i64).unwrap();
        }
        // Full of live entries: the one whose grace ends first (program 1, at 101) makes room.
        assert_eq!(a.record_removal(&entry(9).program_id, 50), Ok(150));
        assert_eq!(a.removed().len(), 8);
        assert_eq!(a.ensure_stranded(&entry(1).program_id, 51), Ok(()));
        assert_eq!(a.ensure_stranded(&entry(2).program_id, 51), Err(VaultError::GracePeriodActive));
        // Expired entries are dropped first.
        assert_eq!(a.record_removal(&entry(10).program_id, 200), Ok(300));
        assert_eq!(a.removed().len(), 1);
        // An expired program is not recorded any more and counts as stranded.
        assert_eq!(a.ensure_stranded(&entry(3).program_id, 200), Ok(()));
    }

    #[test]
    fn grace_period_is_bounded() {
        let mut a = authority();
        assert_eq!(a.set_stranded_lock_grace(-1), Err(VaultError::InvalidGracePeriod));
        assert_eq!(a.set_stranded_lock_grace(MAX_STRANDED_LOCK_GRACE_SECONDS + 1), Err(VaultError::InvalidGracePeriod));
        a.set_stranded_lock_grace(0).unwrap();
        a.set_stranded_lock_grace(MAX_STRANDED_LOCK_GRACE_SECONDS).unwrap();
    }

    #[test]
    fn pause_flags_are_independent() {
        let mut a = authority();
        a.set_paused(PauseAction::WITHDRAW, true).unwrap();
        assert!(a.withdraw_paused.get() && !a.deposit_paused.get() && !a.lock_paused.get());
        assert_eq!(a.set_paused(PauseAction(3), true), Err(VaultError::InvalidPauseAction));
    }
}
