//! Anchor events, emitted the way Anchor's `emit_cpi!` does: a self-invocation signed by the
//! `[b"__event_authority"]` PDA whose instruction data is `EVENT_IX_TAG_LE ++ discriminator ++
//! borsh`. Only this program can sign for that PDA, so such an inner instruction cannot be forged
//! by another program (see `process_event_cpi`), and it survives log truncation.
//!
//! v2 no longer logs events as `Program data:` lines: the self-CPI alone carries them (as with
//! Anchor's `emit_cpi!`), which saves about 330 compute units per event.
//!
//! Every event about a vault carries the vault's `generation` (its creation slot) and `seq`.
//! Sequence numbers of one vault address only ever grow, across close and re-creation too (see
//! `state::vault::SEQ_GENERATION_SHIFT`): a vault's first event is `(generation << 20) + 1`.

use pinocchio::{
    cpi::{invoke_signed, Seed, Signer},
    instruction::{InstructionAccount, InstructionView},
    AccountView, Address, ProgramResult,
};

use crate::{
    discriminator::{self, EVENT_IX_TAG_LE},
    errors::VaultError,
    layout,
    pod::{PodBool, PodI64, PodU64},
    schema::Layout,
    seeds::{EVENT_AUTHORITY, EVENT_AUTHORITY_ADDRESS, EVENT_AUTHORITY_BUMP},
    state::PauseAction,
    ID,
};

pub trait Event: Layout {
    const DISCRIMINATOR: [u8; 8];
}

macro_rules! event {
    ($(#[$meta:meta])* pub struct $name:ident { $($body:tt)* }) => {
        layout! { $(#[$meta])* pub struct $name { $($body)* } }
        impl Event for $name {
            const DISCRIMINATOR: [u8; 8] = discriminator::event(stringify!($name));
        }
    };
}

event! {
    pub struct VaultInitializedEvent {
        pub owner: Address,
        pub vault: Address,
        pub token_account: Address,
        pub generation: PodU64,
        pub seq: PodU64,
        pub timestamp: PodI64,
    }
}

event! {
    /// A user deposit, with the vault's balances after it.
    pub struct DepositEvent {
        pub owner: Address,
        pub vault: Address,
        pub amount: PodU64,
        pub total_balance: PodU64,
        pub locked_balance: PodU64,
        pub available_balance: PodU64,
        pub generation: PodU64,
        pub seq: PodU64,
        pub timestamp: PodI64,
    }
}

event! {
    /// A user withdrawal, with the vault's balances after it.
    pub struct WithdrawEvent {
        pub owner: Address,
        pub vault: Address,
        pub amount: PodU64,
        pub total_balance: PodU64,
        pub locked_balance: PodU64,
        pub available_balance: PodU64,
        pub generation: PodU64,
        pub seq: PodU64,
        pub timestamp: PodI64,
    }
}

event! {
    /// Tokens that reached the vault's token account outside this program, credited to the owner.
    pub struct SurplusCreditedEvent {
        pub owner: Address,
        pub vault: Address,
        pub amount: PodU64,
        pub total_balance: PodU64,
        pub locked_balance: PodU64,
        pub available_balance: PodU64,
        pub generation: PodU64,
        pub seq: PodU64,
        pub timestamp: PodI64,
    }
}

event! {
    pub struct LockEvent {
        pub owner: Address,
        pub vault: Address,
        /// The authorized program that locked the collateral.
        pub caller_program: Address,
        pub amount: PodU64,
        /// What this program holds locked in the vault after the event.
        pub caller_locked: PodU64,
        pub total_balance: PodU64,
        pub locked_balance: PodU64,
        pub available_balance: PodU64,
        pub generation: PodU64,
        pub seq: PodU64,
        pub timestamp: PodI64,
    }
}

event! {
    pub struct UnlockEvent {
        pub owner: Address,
        pub vault: Address,
        pub caller_program: Address,
        pub amount: PodU64,
        pub caller_locked: PodU64,
        pub total_balance: PodU64,
        pub locked_balance: PodU64,
        pub available_balance: PodU64,
        pub generation: PodU64,
        pub seq: PodU64,
        pub timestamp: PodI64,
    }
}

event! {
    /// The owner released what a removed program still had locked, after the grace period.
    pub struct StrandedLockReleasedEvent {
        pub owner: Address,
        pub vault: Address,
        /// The removed program whose locks were released.
        pub caller_program: Address,
        pub amount: PodU64,
        pub caller_locked: PodU64,
        pub total_balance: PodU64,
        pub locked_balance: PodU64,
        pub available_balance: PodU64,
        pub generation: PodU64,
        pub seq: PodU64,
        pub timestamp: PodI64,
    }
}

event! {
    /// Locked collateral moved from one vault to another (settlement, liquidation); it arrives
    /// available in the destination. Only what `caller_program` itself had locked can move.
    pub struct TransferEvent {
        pub caller_program: Address,
        pub from_owner: Address,
        pub from_vault: Address,
        pub to_owner: Address,
        pub to_vault: Address,
        pub amount: PodU64,
        pub from_caller_locked: PodU64,
        pub from_total_balance: PodU64,
        pub from_locked_balance: PodU64,
        pub from_available_balance: PodU64,
        pub from_generation: PodU64,
        pub from_seq: PodU64,
        pub to_total_balance: PodU64,
        pub to_locked_balance: PodU64,
        pub to_available_balance: PodU64,
        pub to_generation: PodU64,
        pub to_seq: PodU64,
        pub timestamp: PodI64,
    }
}

event! {
    pub struct VaultClosedEvent {
        pub owner: Address,
        pub vault: Address,
        pub generation: PodU64,
        pub seq: PodU64,
        pub timestamp: PodI64,
    }
}

event! {
    /// The owner approved a program to lock collateral in their vault (or changed its cap).
    pub struct CallerApprovedEvent {
        pub owner: Address,
        pub vault: Address,
        pub caller_program: Address,
        /// Most the program may hold locked at once; `u64::MAX` for no cap.
        pub cap: PodU64,
        pub timestamp: PodI64,
    }
}

event! {
    /// The owner withdrew a program's approval. With nothing locked the record is closed and
    /// its rent returned; otherwise the program keeps only the right to unlock and settle.
    pub struct CallerRevokedEvent {
        pub owner: Address,
        pub vault: Address,
        pub caller_program: Address,
        pub locked: PodU64,
        pub closed: PodBool,
        pub timestamp: PodI64,
    }
}

event! {
    pub struct AuthorityInitializedEvent {
        pub admin: Address,
        pub collateral_mint: Address,
        pub stranded_lock_grace_seconds: PodI64,
        pub timestamp: PodI64,
    }
}

event! {
    pub struct ProgramAuthorizedEvent {
        pub program_id: Address,
        pub caller_authority: Address,
        pub timestamp: PodI64,
    }
}

event! {
    /// A program left the allow-list. Its locks become releasable by each vault owner at
    /// `releasable_at` (Unix time), unless it is authorized again before.
    pub struct ProgramDeauthorizedEvent {
        pub program_id: Address,
        pub releasable_at: PodI64,
        pub timestamp: PodI64,
    }
}

event! {
    pub struct StrandedLockGraceChangedEvent {
        pub admin: Address,
        pub stranded_lock_grace_seconds: PodI64,
        pub timestamp: PodI64,
    }
}

event! {
    pub struct PauseChangedEvent {
        pub action: PauseAction,
        pub paused: PodBool,
        pub admin: Address,
        pub timestamp: PodI64,
    }
}

event! {
    pub struct AdminProposedEvent {
        pub admin: Address,
        pub pending_admin: Address,
        pub timestamp: PodI64,
    }
}

event! {
    pub struct AdminChangedEvent {
        pub previous_admin: Address,
        pub admin: Address,
        pub timestamp: PodI64,
    }
}

const MAX_EVENT_LEN: usize = 320;

/// Emits `event` as a self-CPI. `event_authority` must already be checked with
/// [`check_event_accounts`].
#[inline(always)]
pub fn emit<E: Event>(event: &E, event_authority: &AccountView) -> ProgramResult {
    const { assert!(E::LEN <= MAX_EVENT_LEN) };
    // Not zero-initialized: every byte up to `16 + LEN` is written below and nothing past it is
    // read. This and the syscall copy keep the event off the hot path's budget.
    let mut buffer = core::mem::MaybeUninit::<[u8; 16 + MAX_EVENT_LEN]>::uninit();
    let base = buffer.as_mut_ptr() as *mut u8;
    // SAFETY: all writes stay within the buffer's first `16 + LEN` bytes.
    let cpi_data = unsafe {
        core::ptr::copy_nonoverlapping(EVENT_IX_TAG_LE.as_ptr(), base, 8);
        core::ptr::copy_nonoverlapping(E::DISCRIMINATOR.as_ptr(), base.add(8), 8);
        crate::runtime::copy_bytes(base.add(16), event.as_bytes());
        core::slice::from_raw_parts(base, 16 + E::LEN)
    };

    let accounts = [InstructionAccount::readonly_signer(event_authority.address())];
    let instruction = InstructionView {
        program_id: &ID,
        accounts: &accounts,
        data: cpi_data,
    };
    let bump = [crate::runtime::opaque(EVENT_AUTHORITY_BUMP)];
    let seeds = [Seed::from(EVENT_AUTHORITY), Seed::from(&bump)];
    invoke_signed(&instruction, &[event_authority], &[Signer::from(&seeds)])
}

/// The two trailing accounts of every event-emitting instruction (Anchor's `#[event_cpi]`):
/// the event authority PDA and this program (the runtime needs it to invoke itself).
#[inline(always)]
pub fn check_event_accounts(event_authority: &AccountView, program: &AccountView) -> ProgramResult {
    if event_authority.address() != &EVENT_AUTHORITY_ADDRESS {
        return Err(VaultError::InvalidEventAuthority.into());
    }
    if program.address() != &ID {
        return Err(VaultError::InvalidProgramAccount.into());
    }
    Ok(())
}

/// The inbound side of a self-CPI: only our event authority may sign it, which only this
/// program can do. Anything else (a direct call, or another program's CPI that passes the event
/// authority unsigned) is an attempt to forge an event, and fails the whole transaction.
pub fn process_event_cpi(accounts: &[AccountView]) -> ProgramResult {
    match accounts.first() {
        Some(authority) if authority.is_signer() && authority.address() == &EVENT_AUTHORITY_ADDRESS => {
            Ok(())
        }
        _ => Err(VaultError::InvalidEventAuthority.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_fits_the_buffer() {
        assert!(TransferEvent::LEN <= MAX_EVENT_LEN);
        assert_eq!(TransferEvent::LEN, 5 * 32 + 13 * 8);
        assert_eq!(DepositEvent::LEN, 2 * 32 + 7 * 8);
        assert_eq!(LockEvent::LEN, 3 * 32 + 8 * 8);
    }

    #[test]
    fn event_bytes_are_borsh() {
        let event = DepositEvent {
            owner: Address::new_from_array([1; 32]),
            vault: Address::new_from_array([2; 32]),
            amount: PodU64::new(5),
            total_balance: PodU64::new(6),
            locked_balance: PodU64::new(1),
            available_balance: PodU64::new(5),
            generation: PodU64::new(7),
            seq: PodU64::new(9),
            timestamp: PodI64::new(-3),
        };
        let bytes = event.as_bytes();
        assert_eq!(&bytes[..32], &[1; 32]);
        assert_eq!(&bytes[64..72], &5u64.to_le_bytes());
        assert_eq!(&bytes[96..104], &7u64.to_le_bytes());
        assert_eq!(&bytes[112..120], &(-3i64).to_le_bytes());
    }
}
