//! Anchor-style errors from 6000 (logged in Anchor's format on failure, like the vault's).

collateral_vault_interface::define_errors! { ManagerError, ERRORS;
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
    6013 NotUpgradeAuthority => "Only the program's upgrade authority may initialize it",
    6014 UnsupportedLoader => "The program is deployed by a loader this program does not support",
    6015 MarginBacksOpenPosition => "The collateral backs an open position: the margin would fall below the requirement",
    6016 PositionTooSmall => "The size exceeds the open position",
}
