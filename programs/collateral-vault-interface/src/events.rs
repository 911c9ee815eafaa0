//! Anchor events. Each is logged as `Program data: base64(discriminator ++ borsh)` and also
//! emitted as an `emit_cpi!`-style self-invocation signed by the `[b"__event_authority"]` PDA,
//! whose instruction data (`EVENT_IX_TAG_LE ++ discriminator ++ borsh`) survives log truncation.

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
        pub total_balance: PodU64,
        pub locked_balance: PodU64,
        pub available_balance: PodU64,
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
        pub total_balance: PodU64,
        pub locked_balance: PodU64,
        pub available_balance: PodU64,
        pub seq: PodU64,
        pub timestamp: PodI64,
    }
}

event! {
    /// Locked collateral moved from one vault to another (settlement, liquidation); it arrives
    /// available in the destination.
    pub struct TransferEvent {
        pub caller_program: Address,
        pub from_owner: Address,
        pub from_vault: Address,
        pub to_owner: Address,
        pub to_vault: Address,
        pub amount: PodU64,
        pub from_total_balance: PodU64,
        pub from_locked_balance: PodU64,
        pub from_available_balance: PodU64,
        pub from_seq: PodU64,
        pub to_total_balance: PodU64,
        pub to_locked_balance: PodU64,
        pub to_available_balance: PodU64,
        pub to_seq: PodU64,
        pub timestamp: PodI64,
    }
}

event! {
    pub struct VaultClosedEvent {
        pub owner: Address,
        pub vault: Address,
        pub seq: PodU64,
        pub timestamp: PodI64,
    }
}

event! {
    pub struct AuthorityInitializedEvent {
        pub admin: Address,
        pub collateral_mint: Address,
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
    pub struct ProgramDeauthorizedEvent {
        pub program_id: Address,
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

const MAX_EVENT_LEN: usize = 256;

/// Emits `event` in both forms. `event_authority` must already be checked with
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

    log_data(&cpi_data[8..]);

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

#[inline(always)]
fn log_data(data: &[u8]) {
    #[cfg(any(target_os = "solana", target_arch = "bpf"))]
    {
        let fields: [&[u8]; 1] = [data];
        // SAFETY: `fields` is an array of one valid slice, as `sol_log_data` expects.
        unsafe { pinocchio::syscalls::sol_log_data(fields.as_ptr() as *const u8, 1) };
    }
    #[cfg(not(any(target_os = "solana", target_arch = "bpf")))]
    let _ = data;
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
/// program can do. Anything else is an attempt to forge an event.
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
        assert_eq!(TransferEvent::LEN, 5 * 32 + 10 * 8);
        assert_eq!(DepositEvent::LEN, 2 * 32 + 6 * 8);
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
            seq: PodU64::new(9),
            timestamp: PodI64::new(-3),
        };
        let bytes = event.as_bytes();
        assert_eq!(&bytes[..32], &[1; 32]);
        assert_eq!(&bytes[64..72], &5u64.to_le_bytes());
        assert_eq!(&bytes[104..112], &(-3i64).to_le_bytes());
    }
}
