//! Creating and closing program accounts.

use pinocchio::{cpi::Signer, AccountView, Address, ProgramResult};
use pinocchio_system::instructions::{Allocate, Assign, CreateAccount, Transfer};

use crate::runtime;

/// Creates a rent-exempt PDA account owned by `owner`. Lamports sent to the address beforehand
/// (a cheap way to block `CreateAccount`) are topped up instead of failing the creation.
#[inline(always)]
pub fn create_pda_account(
    payer: &AccountView,
    account: &AccountView,
    space: usize,
    owner: &Address,
    signer: &Signer,
) -> ProgramResult {
    let required = runtime::minimum_balance(space)?;
    let signers = core::slice::from_ref(signer);
    let current = account.lamports();
    if current == 0 {
        return CreateAccount { from: payer, to: account, lamports: required, space: space as u64, owner }
            .invoke_signed(signers);
    }
    if required > current {
        Transfer { from: payer, to: account, lamports: required - current }.invoke()?;
    }
    Allocate { account, space: space as u64 }.invoke_signed(signers)?;
    Assign { account, owner }.invoke_signed(signers)
}

/// Returns a program account's lamports to `destination` and closes it: zero data, zero
/// lamports, system-owned, so it cannot be revived with stale contents in the same transaction.
pub fn close_program_account(account: &mut AccountView, destination: &mut AccountView) -> ProgramResult {
    let lamports = account.lamports();
    let credited = destination
        .lamports()
        .checked_add(lamports)
        .ok_or(crate::errors::VaultError::MathOverflow)?;
    destination.set_lamports(credited);
    account.set_lamports(0);
    // SAFETY: no reference into the account's data is alive at this point.
    unsafe {
        account.borrow_unchecked_mut().fill(0);
        account.close_unchecked();
    }
    Ok(())
}
