//! `transfer_collateral(amount)`: an authorized program settles a position by moving collateral
//! *it* locked from one vault to another (it arrives available). Another program's locks are out
//! of its reach: the amount comes out of the caller's own `CallerLock`. The tokens move between
//! the two vault token accounts, signed by the source vault's PDA; both must then match their
//! ledgers. No owner signature: liquidations keep working.

use pinocchio::{
    cpi::{Seed as CpiSeed, Signer},
    AccountView, Address, ProgramResult,
};

use crate::{
    discriminator,
    errors::VaultError,
    events::{self, TransferEvent},
    guards,
    pod::{PodI64, PodU64},
    runtime,
    schema::{AccountSpec, InstructionSpec, Layout, Seed},
    seeds::{EVENT_AUTHORITY_ADDRESS, VAULT, VAULT_AUTHORITY, VAULT_AUTHORITY_ADDRESS},
    state::{account_data_mut, CallerLock, CollateralVault},
    token::{self, TokenAccount, TOKEN_PROGRAM_ID},
    ID,
};

use super::{
    caller::authorized_caller,
    vault_ops::{settle_surplus, vault_token_account_spec, AmountArgs, COLLATERAL_MINT, FROM_VAULT_ATA_SEEDS, TO_VAULT_ATA_SEEDS},
};

pub const NAME: &str = "transfer_collateral";
pub const DISCRIMINATOR: [u8; 8] = discriminator::instruction(NAME);

pub const ACCOUNTS: &[AccountSpec] = &[
    AccountSpec::new("caller_authority").signer().docs("The calling program's [b\"vault_caller\"] PDA (derived under the calling program's id)"),
    AccountSpec::new("vault_authority").address(VAULT_AUTHORITY_ADDRESS).pda(&[Seed::Const(VAULT_AUTHORITY)]),
    AccountSpec::new("from_vault").writable(),
    AccountSpec::new("from_caller_lock").writable().docs("The calling program's CallerLock in the source vault"),
    vault_token_account_spec("from_vault_token_account", FROM_VAULT_ATA_SEEDS),
    AccountSpec::new("to_vault").writable(),
    vault_token_account_spec("to_vault_token_account", TO_VAULT_ATA_SEEDS),
    COLLATERAL_MINT,
    AccountSpec::new("token_program").address(TOKEN_PROGRAM_ID),
    AccountSpec::new("event_authority").address(EVENT_AUTHORITY_ADDRESS),
    AccountSpec::new("program").address(ID),
];

pub const SPEC: InstructionSpec = InstructionSpec {
    name: NAME,
    docs: "Moves collateral the calling program locked to another vault, for settlement or liquidation (authorized programs only, by CPI).",
    discriminator: DISCRIMINATOR,
    accounts: ACCOUNTS,
    args: AmountArgs::FIELDS,
};

struct TransferCollateral<'a> {
    from_vault: &'a AccountView,
    from_lock: &'a AccountView,
    from_token: &'a AccountView,
    to_vault: &'a AccountView,
    to_token: &'a AccountView,
    mint: &'a AccountView,
    event_authority: &'a AccountView,
    caller_program: Address,
    decimals: u8,
    deposits_open: bool,
    token_amounts: (u64, u64),
    amount: u64,
}

fn validate<'a>(accounts: &'a mut [AccountView], data: &[u8]) -> Result<TransferCollateral<'a>, pinocchio::error::ProgramError> {
    let [caller_authority, vault_authority, from_vault, from_lock, from_token, to_vault, to_token, mint, token_program, event_authority, program, ..] =
        accounts
    else {
        return Err(VaultError::NotEnoughAccounts.into());
    };
    let args = AmountArgs::from_bytes(data).ok_or(VaultError::InvalidInstructionData)?;
    let authority = guards::authority(vault_authority)?;
    let caller_program = authorized_caller(caller_authority, authority)?;
    // One account passed twice would alias both ledgers.
    if from_vault.address() == to_vault.address() {
        return Err(VaultError::SameVault.into());
    }
    let from = guards::vault(from_vault)?;
    let to = guards::vault(to_vault)?;
    guards::caller_lock(from_lock, from_vault.address(), &caller_program)?;
    guards::address(mint, &authority.collateral_mint, VaultError::InvalidMint)?;
    let from_amount = token::vault_token_amount(from_token, &from.token_account, mint.address())?;
    let to_amount = token::vault_token_amount(to_token, &to.token_account, mint.address())?;
    token::check_token_program(token_program)?;
    events::check_event_accounts(event_authority, program)?;
    Ok(TransferCollateral {
        from_vault,
        from_lock,
        from_token,
        to_vault,
        to_token,
        mint,
        event_authority,
        caller_program,
        decimals: authority.collateral_decimals,
        deposits_open: !authority.deposit_paused.get(),
        token_amounts: (from_amount, to_amount),
        amount: args.amount.get(),
    })
}

pub fn process(accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let ix = validate(accounts, data)?;
    let timestamp = runtime::unix_timestamp()?;
    let (from_address, to_address) = (*ix.from_vault.address(), *ix.to_vault.address());
    // SAFETY: all three type checked in `validate`; the vaults are distinct and the record is of
    // another type, so the references do not alias.
    let (from, to, record) = unsafe {
        (
            account_data_mut::<CollateralVault>(ix.from_vault),
            account_data_mut::<CollateralVault>(ix.to_vault),
            account_data_mut::<CallerLock>(ix.from_lock),
        )
    };
    let from_uncredited = settle_surplus(from, &from_address, ix.token_amounts.0, ix.deposits_open, ix.event_authority, timestamp)?;
    let to_uncredited = settle_surplus(to, &to_address, ix.token_amounts.1, ix.deposits_open, ix.event_authority, timestamp)?;
    record.release(ix.amount)?;
    from.transfer_out_locked(ix.amount)?;
    to.transfer_in(ix.amount)?;

    let bump = [from.bump];
    let seeds = [CpiSeed::from(VAULT), CpiSeed::from(from.owner.as_ref()), CpiSeed::from(&bump)];
    token::transfer_checked(ix.from_token, ix.mint, ix.to_token, ix.from_vault, (ix.amount, ix.decimals), &[Signer::from(&seeds)])?;
    from.check_token_amount(TokenAccount::load(ix.from_token)?.amount(), from_uncredited)?;
    to.check_token_amount(TokenAccount::load(ix.to_token)?.amount(), to_uncredited)?;

    let event = TransferEvent {
        caller_program: ix.caller_program,
        from_owner: from.owner,
        from_vault: from_address,
        to_owner: to.owner,
        to_vault: to_address,
        amount: PodU64::new(ix.amount),
        from_caller_locked: record.locked,
        from_total_balance: from.total_balance,
        from_locked_balance: from.locked_balance,
        from_available_balance: from.available_balance,
        from_generation: from.generation,
        from_seq: PodU64::new(from.next_event_seq()?),
        to_total_balance: to.total_balance,
        to_locked_balance: to.locked_balance,
        to_available_balance: to.available_balance,
        to_generation: to.generation,
        to_seq: PodU64::new(to.next_event_seq()?),
        timestamp: PodI64::new(timestamp),
    };
    events::emit(&event, ix.event_authority)
}
