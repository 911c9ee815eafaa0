//! `withdraw(amount)`: the owner takes available collateral back; the vault PDA signs the
//! `transfer_checked`, and the token account must then hold exactly the ledger's total (plus any
//! surplus left uncredited while deposits are paused).

use pinocchio::{
    cpi::{Seed as CpiSeed, Signer},
    AccountView, ProgramResult,
};

use crate::{
    discriminator,
    events::{self, WithdrawEvent},
    runtime,
    schema::{AccountSpec, InstructionSpec, Layout},
    seeds::VAULT,
    state::{account_data_mut, CollateralVault, VaultAuthority},
    token,
};

use super::vault_ops::{balance_event, owner_flow_accounts, settle_surplus, validate_owner_flow, AmountArgs, OwnerFlow};

pub const NAME: &str = "withdraw";
pub const DISCRIMINATOR: [u8; 8] = discriminator::instruction(NAME);

pub const ACCOUNTS: &[AccountSpec] = &owner_flow_accounts("Destination token account of the collateral mint");

pub const SPEC: InstructionSpec = InstructionSpec {
    name: NAME,
    docs: "Withdraws available collateral to a token account of the owner's choice.",
    discriminator: DISCRIMINATOR,
    accounts: ACCOUNTS,
    args: AmountArgs::FIELDS,
};

fn validate<'a>(accounts: &'a mut [AccountView], data: &[u8]) -> Result<OwnerFlow<'a>, pinocchio::error::ProgramError> {
    validate_owner_flow(accounts, data, VaultAuthority::ensure_withdrawals_open)
}

pub fn process(accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let ix = validate(accounts, data)?;
    let timestamp = runtime::unix_timestamp()?;
    let address = *ix.vault.address();
    // SAFETY: type checked in `validate`. The token program receives the vault only as a
    // read-only signer and cannot change its data.
    let vault = unsafe { account_data_mut::<CollateralVault>(ix.vault) };
    let uncredited = settle_surplus(vault, &address, ix.token_amount, ix.deposits_open, ix.event_authority, timestamp)?;
    vault.withdraw(ix.amount)?;

    let bump = [vault.bump];
    let seeds = [CpiSeed::from(VAULT), CpiSeed::from(vault.owner.as_ref()), CpiSeed::from(&bump)];
    token::transfer_checked(
        ix.vault_token_account,
        ix.mint,
        ix.user_token_account,
        ix.vault,
        (ix.amount, ix.decimals),
        &[Signer::from(&seeds)],
    )?;
    vault.check_token_amount(token::TokenAccount::load(ix.vault_token_account)?.amount(), uncredited)?;

    let seq = vault.next_event_seq()?;
    let event: WithdrawEvent = balance_event!(WithdrawEvent, vault, &address, ix.amount, seq, timestamp);
    events::emit(&event, ix.event_authority)
}
