//! `withdraw(amount)`: the owner takes available collateral back; the vault PDA signs the
//! `transfer_checked`, and the token account must then hold exactly the ledger's total.

use pinocchio::{
    cpi::{Seed as CpiSeed, Signer},
    AccountView, ProgramResult,
};

use crate::{
    discriminator,
    errors::VaultError,
    events::{self, WithdrawEvent},
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

pub const NAME: &str = "withdraw";
pub const DISCRIMINATOR: [u8; 8] = discriminator::instruction(NAME);

layout! {
    pub struct WithdrawArgs {
        pub amount: PodU64,
    }
}

pub const ACCOUNTS: &[AccountSpec] = &[
    AccountSpec::new("owner").signer(),
    AccountSpec::new("vault_authority").address(VAULT_AUTHORITY_ADDRESS).pda(&[Seed::Const(VAULT_AUTHORITY)]),
    AccountSpec::new("vault").writable().pda(&[Seed::Const(VAULT), Seed::Account("owner")]),
    AccountSpec::new("vault_token_account").writable(),
    AccountSpec::new("user_token_account").writable().docs("Destination token account of the collateral mint"),
    AccountSpec::new("collateral_mint"),
    AccountSpec::new("token_program").address(TOKEN_PROGRAM_ID),
    AccountSpec::new("event_authority").address(EVENT_AUTHORITY_ADDRESS),
    AccountSpec::new("program").address(ID),
];

pub const SPEC: InstructionSpec = InstructionSpec {
    name: NAME,
    docs: "Withdraws available collateral to a token account of the owner's choice.",
    discriminator: DISCRIMINATOR,
    accounts: ACCOUNTS,
    args: WithdrawArgs::FIELDS,
};

struct Withdraw<'a> {
    vault: &'a AccountView,
    vault_token_account: &'a AccountView,
    user_token_account: &'a AccountView,
    mint: &'a AccountView,
    event_authority: &'a AccountView,
    decimals: u8,
    token_amount: u64,
    amount: u64,
}

fn validate<'a>(accounts: &'a mut [AccountView], data: &[u8]) -> Result<Withdraw<'a>, pinocchio::error::ProgramError> {
    let [owner, vault_authority, vault, vault_token_account, user_token_account, mint, token_program, event_authority, program, ..] =
        accounts
    else {
        return Err(VaultError::NotEnoughAccounts.into());
    };
    let args = WithdrawArgs::from_bytes(data).ok_or(VaultError::InvalidInstructionData)?;
    guards::signer(owner)?;
    let authority = guards::authority(vault_authority)?;
    if authority.withdraw_paused.get() {
        return Err(VaultError::WithdrawalsPaused.into());
    }
    let state = guards::vault(vault)?;
    if state.owner != *owner.address() {
        return Err(VaultError::NotVaultOwner.into());
    }
    guards::address(mint, &authority.collateral_mint, VaultError::InvalidMint)?;
    let token_amount = token::vault_token_amount(vault_token_account, &state.token_account, mint.address())?;
    token::check_token_program(token_program)?;
    events::check_event_accounts(event_authority, program)?;
    Ok(Withdraw {
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
    // SAFETY: type checked in `validate`. The token program receives the vault only as a
    // read-only signer and cannot change its data.
    let vault = unsafe { account_data_mut::<CollateralVault>(ix.vault) };
    credit_surplus(vault, &address, ix.token_amount, ix.event_authority, timestamp)?;
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
    vault.check_token_amount(token::TokenAccount::load(ix.vault_token_account)?.amount())?;

    let seq = vault.next_event_seq()?;
    let event: WithdrawEvent = balance_event!(WithdrawEvent, vault, &address, ix.amount, seq, timestamp);
    events::emit(&event, ix.event_authority)
}
