//! Pieces shared by the instructions that move collateral.

use pinocchio::{error::ProgramError, AccountView, Address, ProgramResult};

use crate::{
    errors::VaultError,
    events::{self, SurplusCreditedEvent},
    guards, layout,
    pod::PodU64,
    schema::Layout,
    state::{CollateralVault, VaultAuthority},
    token,
};

layout! {
    /// The argument of every instruction that moves an amount of collateral.
    pub struct AmountArgs {
        pub amount: PodU64,
    }
}

/// What `deposit` and `withdraw` validate alike, in their common account order: the owner's
/// signature over their own vault, the action's pause flag, the collateral mint, the vault's
/// token account, the token program and the event accounts.
pub struct OwnerFlow<'a> {
    pub owner: &'a AccountView,
    pub vault: &'a AccountView,
    pub vault_token_account: &'a AccountView,
    pub user_token_account: &'a AccountView,
    pub mint: &'a AccountView,
    pub event_authority: &'a AccountView,
    pub decimals: u8,
    pub token_amount: u64,
    pub amount: u64,
}

#[inline(always)]
pub fn validate_owner_flow<'a>(
    accounts: &'a mut [AccountView],
    data: &[u8],
    gate: fn(&VaultAuthority) -> Result<(), VaultError>,
) -> Result<OwnerFlow<'a>, ProgramError> {
    let [owner, vault_authority, vault, vault_token_account, user_token_account, mint, token_program, event_authority, program, ..] =
        accounts
    else {
        return Err(VaultError::NotEnoughAccounts.into());
    };
    let args = AmountArgs::from_bytes(data).ok_or(VaultError::InvalidInstructionData)?;
    guards::signer(owner)?;
    let authority = guards::authority(vault_authority)?;
    gate(authority)?;
    let state = guards::vault(vault)?;
    if state.owner != *owner.address() {
        return Err(VaultError::NotVaultOwner.into());
    }
    guards::address(mint, &authority.collateral_mint, VaultError::InvalidMint)?;
    let token_amount = token::vault_token_amount(vault_token_account, &state.token_account, mint.address())?;
    token::check_token_program(token_program)?;
    events::check_event_accounts(event_authority, program)?;
    Ok(OwnerFlow {
        owner,
        vault,
        vault_token_account,
        user_token_account,
        mint,
        event_authority,
        decimals: authority.collateral_decimals,
        token_amount,
        amount: args.amount.get(),
    })
}

/// Builds one of the balance events (`DepositEvent`, `WithdrawEvent`, `SurplusCreditedEvent`),
/// which share their fields, from the vault's state after the change.
macro_rules! balance_event {
    ($event:ident, $vault:expr, $address:expr, $amount:expr, $seq:expr, $timestamp:expr) => {
        $crate::events::$event {
            owner: $vault.owner,
            vault: *$address,
            amount: $crate::pod::PodU64::new($amount),
            total_balance: $vault.total_balance,
            locked_balance: $vault.locked_balance,
            available_balance: $vault.available_balance,
            seq: $crate::pod::PodU64::new($seq),
            timestamp: $crate::pod::PodI64::new($timestamp),
        }
    };
}
pub(crate) use balance_event;

/// Credits tokens that reached the vault's token account outside this program, with its own
/// event, so that a stray transfer can never block the vault.
#[inline(always)]
pub fn credit_surplus(
    vault: &mut CollateralVault,
    address: &Address,
    token_amount: u64,
    event_authority: &AccountView,
    timestamp: i64,
) -> ProgramResult {
    let surplus = vault.absorb_surplus(token_amount)?;
    if surplus > 0 {
        let seq = vault.next_event_seq()?;
        let event: SurplusCreditedEvent = balance_event!(SurplusCreditedEvent, vault, address, surplus, seq, timestamp);
        events::emit(&event, event_authority)?;
    }
    Ok(())
}
