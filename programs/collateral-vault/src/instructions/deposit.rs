//! `deposit(amount)`: the owner moves collateral from their token account into the vault with
//! `transfer_checked`; the vault's token account must then hold exactly the ledger's total.

use pinocchio::{AccountView, ProgramResult};

use crate::{
    discriminator,
    errors::VaultError,
    events::{self, DepositEvent},
    guards, layout,
    pod::PodU64,
    runtime,
    schema::{AccountSpec, InstructionSpec, Layout, Seed},
    seeds::{EVENT_AUTHORITY_ADDRESS, VAULT, VAULT_AUTHORITY, VAULT_AUTHORITY_ADDRESS},
    state::{account_data_mut, CollateralVault},
    token::{self, TOKEN_PROGRAM_ID},
    ID,
};

use super::vault_ops::{balance_event, credit_surplus};

pub const NAME: &str = "deposit";
pub const DISCRIMINATOR: [u8; 8] = discriminator::instruction(NAME);

layout! {
    pub struct DepositArgs {
        pub amount: PodU64,
    }
}

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
    args: DepositArgs::FIELDS,
};

struct Deposit<'a> {
    owner: &'a AccountView,
    vault: &'a AccountView,
    vault_token_account: &'a AccountView,
    user_token_account: &'a AccountView,
    mint: &'a AccountView,
    event_authority: &'a AccountView,
    decimals: u8,
    token_amount: u64,
    amount: u64,
}

fn validate<'a>(accounts: &'a mut [AccountView], data: &[u8]) -> Result<Deposit<'a>, pinocchio::error::ProgramError> {
    let [owner, vault_authority, vault, vault_token_account, user_token_account, mint, token_program, event_authority, program, ..] =
        accounts
    else {
        return Err(VaultError::NotEnoughAccounts.into());
    };
    let args = DepositArgs::from_bytes(data).ok_or(VaultError::InvalidInstructionData)?;
    guards::signer(owner)?;
    let authority = guards::authority(vault_authority)?;
    if authority.deposit_paused.get() {
        return Err(VaultError::DepositsPaused.into());
    }
    let state = guards::vault(vault)?;
    if state.owner != *owner.address() {
        return Err(VaultError::NotVaultOwner.into());
    }
    guards::address(mint, &authority.collateral_mint, VaultError::InvalidMint)?;
    let token_amount = token::vault_token_amount(vault_token_account, &state.token_account, mint.address())?;
    token::check_token_program(token_program)?;
    events::check_event_accounts(event_authority, program)?;
    Ok(Deposit {
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
