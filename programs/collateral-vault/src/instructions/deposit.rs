//! `deposit(amount)`: the owner moves collateral from their token account into the vault with
//! `transfer_checked`; the vault's token account must then hold exactly the ledger's total.

use pinocchio::{AccountView, ProgramResult};

use crate::{
    discriminator,
    events::{self, DepositEvent},
    runtime,
    schema::{AccountSpec, InstructionSpec, Layout, Seed},
    seeds::{EVENT_AUTHORITY_ADDRESS, VAULT, VAULT_AUTHORITY, VAULT_AUTHORITY_ADDRESS},
    state::{account_data_mut, CollateralVault, VaultAuthority},
    token::{self, TOKEN_PROGRAM_ID},
    ID,
};

use super::vault_ops::{balance_event, credit_surplus, validate_owner_flow, AmountArgs, OwnerFlow};

pub const NAME: &str = "deposit";
pub const DISCRIMINATOR: [u8; 8] = discriminator::instruction(NAME);

pub const ACCOUNTS: &[AccountSpec] = &[
    AccountSpec::new("owner").signer(),
    AccountSpec::new("vault_authority").address(VAULT_AUTHORITY_ADDRESS).pda(&[Seed::Const(VAULT_AUTHORITY)]),
    AccountSpec::new("vault").writable().pda(&[Seed::Const(VAULT), Seed::Account("owner")]),
    AccountSpec::new("vault_token_account").writable(),
    AccountSpec::new("user_token_account").writable().docs("Source: any token account of the collateral mint the owner controls"),
    AccountSpec::new("collateral_mint"),
    AccountSpec::new("token_program").address(TOKEN_PROGRAM_ID),
    AccountSpec::new("event_authority").address(EVENT_AUTHORITY_ADDRESS),
    AccountSpec::new("program").address(ID),
];

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
    credit_surplus(vault, &address, ix.token_amount, ix.event_authority, timestamp)?;
    vault.deposit(ix.amount)?;

    token::transfer_checked(ix.user_token_account, ix.mint, ix.vault_token_account, ix.owner, (ix.amount, ix.decimals), &[])?;
    vault.check_token_amount(token::TokenAccount::load(ix.vault_token_account)?.amount())?;

    let seq = vault.next_event_seq()?;
    let event: DepositEvent = balance_event!(DepositEvent, vault, &address, ix.amount, seq, timestamp);
    events::emit(&event, ix.event_authority)
}
