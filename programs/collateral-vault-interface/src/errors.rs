//! Anchor-style custom errors: codes from 6000, each with a name and a message.

/// Declares an Anchor-style error enum, its IDL table, and its conversion to `ProgramError`.
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
    };
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
    6022 InsufficientLockedBalance => "The amount exceeds the vault's locked balance",
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
}
