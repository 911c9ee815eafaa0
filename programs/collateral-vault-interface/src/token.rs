//! SPL Token accounts and CPIs. Only the classic SPL Token program is accepted: its accounts have
//! no extensions, so transfer fees and transfer hooks cannot exist.

use pinocchio::{cpi::Signer, AccountView, Address, ProgramResult};
use pinocchio_token::instructions::TransferChecked;

use crate::errors::VaultError;

pub use pinocchio_token::ID as TOKEN_PROGRAM_ID;
pub const ASSOCIATED_TOKEN_PROGRAM_ID: Address =
    Address::from_str_const("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL");

const TOKEN_ACCOUNT_LEN: usize = 165;
const MINT_LEN: usize = 82;
/// `AccountState` byte of an SPL token account: 0 uninitialized, 1 initialized, 2 frozen.
const STATE_OFFSET: usize = 108;
const STATE_FROZEN: u8 = 2;

#[inline(always)]
pub fn check_token_program(account: &AccountView) -> ProgramResult {
    if account.address() != &TOKEN_PROGRAM_ID {
        return Err(VaultError::InvalidTokenProgram.into());
    }
    Ok(())
}

/// An SPL Token account's fields we rely on, read in place.
pub struct TokenAccount<'a>(&'a [u8]);

impl<'a> TokenAccount<'a> {
    /// Owned by SPL Token and exactly an account's size (a mint is 82 bytes, so no confusion).
    #[inline(always)]
    pub fn load(account: &'a AccountView) -> Result<Self, pinocchio::error::ProgramError> {
        if !account.owned_by(&TOKEN_PROGRAM_ID) || account.data_len() != TOKEN_ACCOUNT_LEN {
            return Err(VaultError::InvalidTokenAccount.into());
        }
        // SAFETY: read-only view; the token program is not running while we hold it.
        Ok(Self(unsafe { account.borrow_unchecked() }))
    }

    #[inline(always)]
    pub fn mint(&self) -> &Address {
        // SAFETY: 32 bytes at offset 0 of a 165-byte account; `Address` has alignment 1.
        unsafe { &*(self.0.as_ptr() as *const Address) }
    }

    #[inline(always)]
    pub fn owner(&self) -> &Address {
        // SAFETY: 32 bytes at offset 32.
        unsafe { &*(self.0.as_ptr().add(32) as *const Address) }
    }

    /// Frozen by the mint's freeze authority: the token program would refuse any transfer with
    /// its raw error 17, so we refuse first, with a named error.
    #[inline(always)]
    pub fn is_frozen(&self) -> bool {
        self.0[STATE_OFFSET] == STATE_FROZEN
    }

    /// Refuses a frozen account.
    #[inline(always)]
    pub fn ensure_not_frozen(&self) -> Result<(), pinocchio::error::ProgramError> {
        if self.is_frozen() {
            return Err(VaultError::TokenAccountFrozen.into());
        }
        Ok(())
    }

    #[inline(always)]
    pub fn amount(&self) -> u64 {
        u64::from_le_bytes([
            self.0[64], self.0[65], self.0[66], self.0[67], self.0[68], self.0[69], self.0[70],
            self.0[71],
        ])
    }
}

/// The vault's own token account: the address stored in the vault, holding the collateral mint,
/// not frozen. Returns its amount.
#[inline(always)]
pub fn vault_token_amount(
    account: &AccountView,
    expected: &Address,
    mint: &Address,
) -> Result<u64, pinocchio::error::ProgramError> {
    if account.address() != expected {
        return Err(VaultError::InvalidTokenAccount.into());
    }
    let token = TokenAccount::load(account)?;
    if token.mint() != mint {
        return Err(VaultError::InvalidTokenAccount.into());
    }
    token.ensure_not_frozen()?;
    Ok(token.amount())
}

/// A token account on the user's side of a transfer: if it is an SPL token account and frozen,
/// refuse with the named error (anything else is left to the token program's own checks).
#[inline(always)]
pub fn ensure_counterparty_not_frozen(account: &AccountView) -> Result<(), pinocchio::error::ProgramError> {
    match TokenAccount::load(account) {
        Ok(token) => token.ensure_not_frozen(),
        Err(_) => Ok(()),
    }
}

/// Reads a mint's decimals, checking that it is an initialized SPL Token mint.
pub fn mint_decimals(mint: &AccountView) -> Result<u8, pinocchio::error::ProgramError> {
    if !mint.owned_by(&TOKEN_PROGRAM_ID) || mint.data_len() != MINT_LEN {
        return Err(VaultError::InvalidMintDecimals.into());
    }
    // SAFETY: read-only view of an 82-byte mint.
    let data = unsafe { mint.borrow_unchecked() };
    if data[45] != 1 {
        return Err(VaultError::InvalidMintDecimals.into());
    }
    Ok(data[44])
}

/// `transfer_checked`, optionally signed by a PDA.
#[inline(always)]
pub fn transfer_checked(
    from: &AccountView,
    mint: &AccountView,
    to: &AccountView,
    authority: &AccountView,
    amount_and_decimals: (u64, u8),
    signers: &[Signer],
) -> ProgramResult {
    TransferChecked::new(from, mint, to, authority, amount_and_decimals.0, amount_and_decimals.1)
        .invoke_signed(signers)
}
