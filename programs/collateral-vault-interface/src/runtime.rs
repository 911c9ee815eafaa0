//! Clock and rent through the sysvar syscalls, under cfgs that cover both `target_os = "solana"`
//! (platform-tools) and `target_arch = "bpf"` (bpfel-unknown-none). Pinocchio 0.11's own
//! `Clock::get`/`Rent::get` only call the syscall under `target_os = "solana"`, and its `Rent`
//! assumes the post-SIMD-0194 layout; both would be wrong on some of our runtimes.

use pinocchio::error::ProgramError;

#[cfg(any(target_os = "solana", target_arch = "bpf"))]
#[allow(deprecated)]
use pinocchio::syscalls::{sol_get_clock_sysvar, sol_get_rent_sysvar};

/// Returns `value` unchanged, through a volatile read, so that the compiler cannot fold an array
/// built from it into read-only data. Syscalls reject misaligned slices, and sbpf-linker 0.1.9
/// packs the read-only sections without their alignment, so an all-constant seeds or signer
/// array passed to a syscall must live on the stack (always aligned) instead.
#[inline(always)]
pub fn opaque<T: Copy>(value: T) -> T {
    // SAFETY: reads a valid, initialized local.
    unsafe { core::ptr::read_volatile(&value) }
}

/// Copies `source` to `destination` with the `sol_memcpy_` syscall (a flat 10 CU for small
/// copies) rather than the BPF byte loop `compiler_builtins` would run.
///
/// # Safety
/// `destination` must be valid for `source.len()` writes and not overlap `source`.
#[inline(always)]
pub unsafe fn copy_bytes(destination: *mut u8, source: &[u8]) {
    #[cfg(any(target_os = "solana", target_arch = "bpf"))]
    // SAFETY: per the contract.
    unsafe {
        pinocchio::syscalls::sol_memcpy_(destination, source.as_ptr(), source.len() as u64)
    };
    #[cfg(not(any(target_os = "solana", target_arch = "bpf")))]
    // SAFETY: per the contract.
    unsafe {
        core::ptr::copy_nonoverlapping(source.as_ptr(), destination, source.len())
    };
}

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

/// What the programs read from the `Clock` sysvar.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Now {
    pub slot: u64,
    pub unix_timestamp: i64,
}

/// The current slot and Unix timestamp, in one `Clock` read.
#[inline(always)]
pub fn now() -> Result<Now, ProgramError> {
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
    let _ = (clock.epoch_start_timestamp, clock.epoch, clock.leader_schedule_epoch);
    Ok(Now { slot: clock.slot, unix_timestamp: clock.unix_timestamp })
}

/// Current Unix timestamp from the `Clock` sysvar.
#[inline(always)]
pub fn unix_timestamp() -> Result<i64, ProgramError> {
    Ok(now()?.unix_timestamp)
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
    // `checked_mul` on u64 lowers to a 128-bit multiply (`__multi3`), which the BPF backend
    // cannot call. With both factors below 2^31 the product cannot overflow.
    let bytes = ACCOUNT_STORAGE_OVERHEAD + space as u64;
    if bytes >= 1 << 31 || rent.lamports_per_byte_year >= 1 << 31 {
        return Err(ProgramError::ArithmeticOverflow);
    }
    Ok(bytes.wrapping_mul(rent.lamports_per_byte_year).wrapping_mul(years))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_is_the_identity() {
        assert_eq!(opaque(42u8), 42);
        assert_eq!(opaque(b"seed".as_slice()), b"seed");
    }

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
