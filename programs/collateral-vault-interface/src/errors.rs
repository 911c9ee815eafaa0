//! Anchor-style custom errors: codes from 6000, each with a name and a message. On failure the
//! program logs the line Anchor programs log (`AnchorError occurred. Error Code: <Name>. Error
//! Number: <n>. Error Message: <msg>.`), so Anchor clients (`AnchorError.parse`, anchorpy) read
//! our errors. The line is built at compile time and logged only on the error path.

/// Declares an Anchor-style error enum, its IDL table, its conversion to `ProgramError`, and
/// `log_anchor_error`, which logs Anchor's error line for one of its codes.
#[macro_export]
macro_rules! define_errors {
    ($enum:ident, $table:ident; $( $code:literal $name:ident => $msg:literal, )*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u32)]
        pub enum $enum {
            $( #[doc = $msg] $name = $code, )*
        }

        pub const $table: &[$crate::schema::ErrorSpec] = &[
            $( $crate::schema::ErrorSpec { code: $code, name: stringify!($name), msg: $msg }, )*
        ];

        impl From<$enum> for pinocchio::error::ProgramError {
            #[inline(always)]
            fn from(error: $enum) -> Self {
                pinocchio::error::ProgramError::Custom(error as u32)
            }
        }

        impl $enum {
            /// Anchor's error lines of every code, from 6000 on (codes are dense; a unit test
            /// checks it), concatenated, and where each one ends. One string plus integer
            /// offsets, rather than a `match` (LLVM makes a jump table of it, an indirect jump
            /// SBPF v0 lacks) or a table of `&str` (pointers in read-only data, which
            /// sbpf-linker 0.1.9 leaves unrelocated).
            const ANCHOR_LOG_TEXT: &'static str = concat!($( concat!(
                "AnchorError occurred. Error Code: ", stringify!($name),
                ". Error Number: ", stringify!($code),
                ". Error Message: ", $msg, "."
            ), )*);
            const ANCHOR_LOG_ENDS: [u32; [$($code),*].len()] = {
                let lengths = [$( concat!(
                    "AnchorError occurred. Error Code: ", stringify!($name),
                    ". Error Number: ", stringify!($code),
                    ". Error Message: ", $msg, "."
                ).len(), )*];
                let mut ends = [0u32; [$($code),*].len()];
                let mut end = 0;
                let mut index = 0;
                while index < lengths.len() {
                    end += lengths[index];
                    ends[index] = end as u32;
                    index += 1;
                }
                ends
            };

            /// The line Anchor logs for this error, without the runtime's `Program log: `.
            pub fn anchor_log_line(code: u32) -> Option<&'static str> {
                let index = code.checked_sub(6000)? as usize;
                let end = *Self::ANCHOR_LOG_ENDS.get(index)? as usize;
                let start = if index == 0 { 0 } else { Self::ANCHOR_LOG_ENDS[index - 1] as usize };
                Self::ANCHOR_LOG_TEXT.get(start..end)
            }
        }

        /// Logs Anchor's error line when `result` carries one of this program's codes. The
        /// success path pays one comparison.
        #[inline(always)]
        pub fn log_anchor_error(result: &pinocchio::ProgramResult) {
            if let Err(pinocchio::error::ProgramError::Custom(code)) = result {
                $crate::errors::log_line($enum::anchor_log_line(*code));
            }
        }
    };
}

/// Logs one line (`Program log: <line>`), if any. Out of line, but not `#[cold]`: LLVM puts
/// cold functions in `.text.unlikely`, and sbpf-linker 0.1.9 drops the call relocations into
/// that section (the call then fails at run time as an unsupported instruction).
#[inline(never)]
pub fn log_line(line: Option<&'static str>) {
    let Some(line) = line else { return };
    #[cfg(any(target_os = "solana", target_arch = "bpf"))]
    // SAFETY: a valid UTF-8 slice; the syscall only reads it.
    unsafe {
        pinocchio::syscalls::sol_log_(line.as_ptr(), line.len() as u64)
    };
    #[cfg(not(any(target_os = "solana", target_arch = "bpf")))]
    let _ = line;
}

define_errors! { VaultError, ERRORS;
    6000 InvalidInstructionData => "Instruction data is malformed",
    6001 NotEnoughAccounts => "Not enough accounts were provided",
    6002 AccountNotSigner => "A required signature is missing",
    6003 AccountNotWritable => "An account that must be writable is read-only",
    6004 InvalidAccountOwner => "An account is not owned by the expected program",
    6005 InvalidDiscriminator => "An account holds data of another type",
    6006 InvalidVaultAddress => "The vault is not the PDA of its owner",
    6007 InvalidAuthorityAddress => "The vault authority account is not the program's PDA",
    6008 InvalidEventAuthority => "The event authority is not the program's PDA",
    6009 InvalidProgramAccount => "The program account is not this program",
    6010 InvalidTokenProgram => "The token program is not SPL Token",
    6011 InvalidSystemProgram => "The system program account is wrong",
    6012 InvalidAssociatedTokenProgram => "The associated token program account is wrong",
    6013 InvalidMint => "The mint is not the vault authority's collateral mint",
    6014 InvalidTokenAccount => "The token account is not the vault's token account",
    6015 AlreadyInitialized => "The account is already initialized",
    6016 NotVaultOwner => "Only the vault owner may do this",
    6017 NotAdmin => "Only the admin may do this",
    6018 NotPendingAdmin => "Only the proposed admin may accept the admin role",
    6019 UnauthorizedCaller => "The caller is not an authorized program",
    6020 ZeroAmount => "The amount must be greater than zero",
    6021 InsufficientAvailableBalance => "The amount exceeds the vault's available balance",
    6022 InsufficientLockedBalance => "The amount exceeds what this program has locked in the vault",
    6023 MathOverflow => "Arithmetic overflow",
    6024 DepositsPaused => "Deposits are paused",
    6025 WithdrawalsPaused => "Withdrawals are paused",
    6026 LocksPaused => "Locking collateral is paused",
    6027 VaultNotEmpty => "The vault still holds collateral",
    6028 AuthorizedProgramsFull => "The authorized program list is full",
    6029 ProgramAlreadyAuthorized => "The program is already authorized",
    6030 ProgramNotAuthorized => "The program is not in the authorized list",
    6031 InvariantViolated => "Vault balances are inconsistent",
    6032 TokenBalanceMismatch => "The vault token account does not match the ledger",
    6033 SameVault => "Source and destination vaults must differ",
    6034 InvalidMintDecimals => "The mint is not a valid SPL Token mint",
    6035 NotUpgradeAuthority => "Only the program's upgrade authority may initialize it",
    6036 InvalidPauseAction => "Unknown pause action",
    6037 InvalidAdmin => "The admin address is not allowed",
    6038 CallerNotApproved => "The vault owner has not approved this program to lock collateral",
    6039 ApprovalCapExceeded => "The lock exceeds the cap the vault owner approved for this program",
    6040 InvalidCallerLock => "The caller lock account does not belong to this vault and program",
    6041 ProgramStillAuthorized => "The program is still authorized: its locks are not stranded",
    6042 GracePeriodActive => "The program was removed too recently: its locks are releasable after the grace period",
    6043 InvalidGracePeriod => "The grace period must be between 0 and 30 days",
    6044 TokenAccountFrozen => "A token account is frozen by the mint's freeze authority",
    6045 VaultTooNewToClose => "A vault cannot be closed in the slot it was created",
    6046 UnsupportedLoader => "The program is deployed by a loader this program does not support",
}

#[cfg(test)]
mod tests {
    use super::*;
    use pinocchio::error::ProgramError;

    #[test]
    fn codes_are_dense_from_6000_and_unique() {
        for (i, spec) in ERRORS.iter().enumerate() {
            assert_eq!(spec.code, 6000 + i as u32, "{}", spec.name);
        }
    }

    #[test]
    fn converts_to_custom_program_error() {
        assert_eq!(
            ProgramError::from(VaultError::UnauthorizedCaller),
            ProgramError::Custom(6019)
        );
    }

    #[test]
    fn anchor_log_line_has_anchors_exact_format() {
        assert_eq!(
            VaultError::anchor_log_line(6021),
            Some(
                "AnchorError occurred. Error Code: InsufficientAvailableBalance. Error Number: 6021. \
                 Error Message: The amount exceeds the vault's available balance."
            )
        );
        assert_eq!(VaultError::anchor_log_line(17), None);
        for spec in ERRORS {
            let line = VaultError::anchor_log_line(spec.code).unwrap();
            assert!(line.contains(spec.name) && line.ends_with(&std::format!("{}.", spec.msg)));
        }
    }
}
