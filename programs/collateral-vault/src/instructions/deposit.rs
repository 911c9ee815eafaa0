//! `deposit(amount)`: the owner moves collateral from their token account into the vault with
//! `transfer_checked`; the vault's token account must then hold exactly the ledger's total.

use pinocchio::{AccountView, ProgramResult};

use crate::{
    discriminator,
    events::{self, DepositEvent},
    runtime,
    schema::{AccountSpec, InstructionSpec, Layout},
    state::{account_data_mut, CollateralVault, VaultAuthority},
    token,
};

use super::vault_ops::{balance_event, owner_flow_accounts, settle_surplus, validate_owner_flow, AmountArgs, OwnerFlow};

pub const NAME: &str = "deposit";
pub const DISCRIMINATOR: [u8; 8] = discriminator::instruction(NAME);

pub const ACCOUNTS: &[AccountSpec] = &owner_flow_accounts("Source: any token account of the collateral mint the owner controls");

pub const SPEC: InstructionSpec = InstructionSpec {
    name: NAME,
    docs: "Deposits collateral from the owner's token account.",
    discriminator: DISCRIMINATOR,
    accounts: ACCOUNTS,
    args: AmountArgs::FIELDS,
};

fn validate<'a>(accounts: &'a mut [AccountView], data: &[u8]) -> Result<OwnerFlow<'a>, pinocchio::error::ProgramError> {
    validate_owner_flow(accounts, data, VaultAuthority::ensure_deposits_open)
}

pub fn process(accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let ix = validate(accounts, data)?;
    let timestamp = runtime::unix_timestamp()?;
    let address = *ix.vault.address();
    // SAFETY: type checked in `validate`; the token program never sees this account.
    let vault = unsafe { account_data_mut::<CollateralVault>(ix.vault) };
    // Deposits are open here (the gate), so any surplus is credited.
    settle_surplus(vault, &address, ix.token_amount, true, ix.event_authority, timestamp)?;
    vault.deposit(ix.amount)?;

    token::transfer_checked(ix.user_token_account, ix.mint, ix.vault_token_account, ix.owner, (ix.amount, ix.decimals), &[])?;
    vault.check_token_amount(token::TokenAccount::load(ix.vault_token_account)?.amount(), 0)?;

    let seq = vault.next_event_seq()?;
    let event: DepositEvent = balance_event!(DepositEvent, vault, &address, ix.amount, seq, timestamp);
    events::emit(&event, ix.event_authority)
}
