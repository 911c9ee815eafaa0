//! Pieces shared by the instructions that move collateral.

use pinocchio::{AccountView, Address, ProgramResult};

use crate::{
    events::{self, SurplusCreditedEvent},
    state::CollateralVault,
};

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
