//! Anchor-style errors from 6000.

use collateral_vault_interface::schema::ErrorSpec;
use pinocchio::error::ProgramError;

macro_rules! errors {
    ($( $code:literal $name:ident => $msg:literal, )*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u32)]
        pub enum ManagerError {
            $( #[doc = $msg] $name = $code, )*
        }

        pub const ERRORS: &[ErrorSpec] = &[
            $( ErrorSpec { code: $code, name: stringify!($name), msg: $msg }, )*
        ];
    };
}

errors! {
    6000 InvalidInstructionData => "Instruction data is malformed",
    6001 NotEnoughAccounts => "Not enough accounts were provided",
    6002 AccountNotSigner => "A required signature is missing",
    6003 AccountNotWritable => "An account that must be writable is read-only",
    6004 InvalidAccount => "An account is not the expected program account",
    6005 AlreadyInitialized => "The account is already initialized",
    6006 NotOwner => "Only the margin account's owner may do this",
    6007 NotKeeper => "Only the keeper may liquidate",
    6008 InsufficientMargin => "The amount exceeds what this manager locked for the user",
    6009 ZeroAmount => "The amount must be greater than zero",
    6010 MathOverflow => "Arithmetic overflow",
    6011 InvalidVaultProgram => "The vault program account is wrong",
    6012 InvalidDestination => "Liquidations pay into the keeper's vault only",
}

impl From<ManagerError> for ProgramError {
    #[inline(always)]
    fn from(error: ManagerError) -> Self {
        ProgramError::Custom(error as u32)
    }
}
