//! Clock and rent through the sysvar syscalls, under cfgs that cover both `target_os = "solana"`
//! (platform-tools) and `target_arch = "bpf"` (bpfel-unknown-none). Pinocchio 0.11's own
//! `Clock::get`/`Rent::get` only call the syscall under `target_os = "solana"`, and its `Rent`
//! assumes the post-SIMD-0194 layout; both would be wrong on some of our runtimes.

use pinocchio::error::ProgramError;

#[cfg(any(target_os = "solana", target_arch = "bpf"))]
#[allow(deprecated)]
use pinocchio::syscalls::{sol_get_clock_sysvar, sol_get_rent_sysvar};

/// The `Clock` sysvar as bincode lays it out.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct ClockSysvar {
    slot: u64,
    epoch_start_timestamp: i64,
    epoch: u64,
    leader_schedule_epoch: u64,
    unix_timestamp: i64,
}

/// The `Rent` sysvar as bincode lays it out (17 bytes, padded here to 24).
#[repr(C)]
#[derive(Clone, Copy)]
struct RentSysvar {
    lamports_per_byte_year: u64,
    exemption_threshold_bits: u64,
    burn_percent: u8,
}

const ACCOUNT_STORAGE_OVERHEAD: u64 = 128;
const THRESHOLD_TWO_YEARS: u64 = 0x4000_0000_0000_0000; // 2.0_f64
const THRESHOLD_ONE_YEAR: u64 = 0x3ff0_0000_0000_0000; // 1.0_f64

/// Current Unix timestamp from the `Clock` sysvar.
#[inline(always)]
pub fn unix_timestamp() -> Result<i64, ProgramError> {
    #[allow(unused_mut)]
    let mut clock = ClockSysvar::default();
    #[cfg(any(target_os = "solana", target_arch = "bpf"))]
    {
        // SAFETY: the syscall writes exactly one `Clock` (40 bytes) to a valid buffer.
        #[allow(deprecated)]
        let result = unsafe { sol_get_clock_sysvar(&mut clock as *mut ClockSysvar as *mut u8) };
        if result != pinocchio::SUCCESS {
            return Err(ProgramError::UnsupportedSysvar);
        }
    }
    Ok(clock.unix_timestamp)
}

/// Rent-exempt minimum for `space` bytes, in integers (the threshold is 2.0 or 1.0 on every
/// cluster; anything else is refused rather than approximated).
pub fn minimum_balance(space: usize) -> Result<u64, ProgramError> {
    #[allow(unused_mut)]
    let mut rent = RentSysvar {
        lamports_per_byte_year: 3480,
        exemption_threshold_bits: THRESHOLD_TWO_YEARS,
        burn_percent: 50,
    };
    #[cfg(any(target_os = "solana", target_arch = "bpf"))]
    {
        // SAFETY: the syscall writes 17 bytes into a 24-byte buffer.
        #[allow(deprecated)]
        let result = unsafe { sol_get_rent_sysvar(&mut rent as *mut RentSysvar as *mut u8) };
        if result != pinocchio::SUCCESS {
            return Err(ProgramError::UnsupportedSysvar);
        }
    }
    let _ = rent.burn_percent;
    let years = match rent.exemption_threshold_bits {
        THRESHOLD_TWO_YEARS => 2,
        THRESHOLD_ONE_YEAR => 1,
        _ => return Err(ProgramError::UnsupportedSysvar),
    };
    (ACCOUNT_STORAGE_OVERHEAD + space as u64)
        .checked_mul(rent.lamports_per_byte_year)
        .and_then(|v| v.checked_mul(years))
        .ok_or(ProgramError::ArithmeticOverflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_constants_are_the_f64_bits() {
        assert_eq!(THRESHOLD_TWO_YEARS, 2.0f64.to_bits());
        assert_eq!(THRESHOLD_ONE_YEAR, 1.0f64.to_bits());
    }

    #[test]
    fn minimum_balance_matches_mainnet_formula() {
        // Mainnet: an empty account needs 890,880 lamports; a 165-byte token account 2,039,280.
        assert_eq!(minimum_balance(0).unwrap(), 890_880);
        assert_eq!(minimum_balance(165).unwrap(), 2_039_280);
    }
}
