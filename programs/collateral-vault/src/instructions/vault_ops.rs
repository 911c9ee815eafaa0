//! Pieces shared by the instructions that move collateral.

use pinocchio::{error::ProgramError, AccountView, Address, ProgramResult};

use crate::{
    errors::VaultError,
    events::{self, SurplusCreditedEvent},
    guards, layout,
    pod::PodU64,
    schema::{AccountSpec, Layout, Seed},
    seeds::{EVENT_AUTHORITY_ADDRESS, VAULT, VAULT_AUTHORITY, VAULT_AUTHORITY_ADDRESS},
    state::{CollateralVault, VaultAuthority},
    token::{self, ASSOCIATED_TOKEN_PROGRAM_ID, TOKEN_PROGRAM_ID},
    ID,
};

layout! {
    /// The argument of every instruction that moves an amount of collateral.
    pub struct AmountArgs {
        pub amount: PodU64,
    }
}

const TOKEN_PROGRAM_BYTES: [u8; 32] = TOKEN_PROGRAM_ID.to_bytes();

/// Seeds of a vault's token account: the associated token account of the vault PDA for the
/// collateral mint (under the associated token program), so clients derive it.
pub const VAULT_ATA_SEEDS: &[Seed] = &[Seed::Account("vault"), Seed::Const(&TOKEN_PROGRAM_BYTES), Seed::Account("collateral_mint")];
pub const FROM_VAULT_ATA_SEEDS: &[Seed] = &[Seed::Account("from_vault"), Seed::Const(&TOKEN_PROGRAM_BYTES), Seed::Account("collateral_mint")];
pub const TO_VAULT_ATA_SEEDS: &[Seed] = &[Seed::Account("to_vault"), Seed::Const(&TOKEN_PROGRAM_BYTES), Seed::Account("collateral_mint")];

pub const fn vault_token_account_spec(name: &'static str, seeds: &'static [Seed]) -> AccountSpec {
    AccountSpec::new(name).writable().pda_of(seeds, ASSOCIATED_TOKEN_PROGRAM_ID)
}

/// The collateral mint as the IDL declares it: the one the vault authority stores.
pub const COLLATERAL_MINT: AccountSpec = AccountSpec::new("collateral_mint").relations(&["vault_authority"]);

/// The accounts of `deposit` and `withdraw`, in order.
pub const fn owner_flow_accounts(user_token_docs: &'static str) -> [AccountSpec; 9] {
    [
        AccountSpec::new("owner").signer(),
        AccountSpec::new("vault_authority").address(VAULT_AUTHORITY_ADDRESS).pda(&[Seed::Const(VAULT_AUTHORITY)]),
        AccountSpec::new("vault").writable().pda(&[Seed::Const(VAULT), Seed::Account("owner")]),
        vault_token_account_spec("vault_token_account", VAULT_ATA_SEEDS),
        AccountSpec::new("user_token_account").writable().docs(user_token_docs),
        COLLATERAL_MINT,
        AccountSpec::new("token_program").address(TOKEN_PROGRAM_ID),
        AccountSpec::new("event_authority").address(EVENT_AUTHORITY_ADDRESS),
        AccountSpec::new("program").address(ID),
    ]
}

/// What `deposit` and `withdraw` validate alike, in their common account order: the owner's
/// signature over their own vault, the action's pause flag, the collateral mint, the vault's
/// token account (and neither side frozen), the token program and the event accounts.
pub struct OwnerFlow<'a> {
    pub owner: &'a AccountView,
    pub vault: &'a AccountView,
    pub vault_token_account: &'a AccountView,
    pub user_token_account: &'a AccountView,
    pub mint: &'a AccountView,
    pub event_authority: &'a AccountView,
    pub decimals: u8,
    pub deposits_open: bool,
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
    token::ensure_counterparty_not_frozen(user_token_account)?;
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
        deposits_open: !authority.deposit_paused.get(),
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
            generation: $vault.generation,
            seq: $crate::pod::PodU64::new($seq),
            timestamp: $crate::pod::PodI64::new($timestamp),
        }
    };
}
pub(crate) use balance_event;

/// Tokens that reached the vault's token account outside this program. While deposits are open
/// they are credited to the owner with their own event, so a stray transfer can never block the
/// vault. While deposits are paused nothing enters the ledger: the surplus stays in the token
/// account, uncredited, until the first operation after deposits resume. Returns the amount
/// left uncredited, which the post-transfer token check accounts for.
#[inline(always)]
pub fn settle_surplus(
    vault: &mut CollateralVault,
    address: &Address,
    token_amount: u64,
    deposits_open: bool,
    event_authority: &AccountView,
    timestamp: i64,
) -> Result<u64, ProgramError> {
    let surplus = vault.surplus(token_amount)?;
    if surplus == 0 {
        return Ok(0);
    }
    if !deposits_open {
        return Ok(surplus);
    }
    credit(vault, address, surplus, event_authority, timestamp)?;
    Ok(0)
}

#[inline(always)]
fn credit(vault: &mut CollateralVault, address: &Address, surplus: u64, event_authority: &AccountView, timestamp: i64) -> ProgramResult {
    vault.credit_surplus(surplus)?;
    let seq = vault.next_event_seq()?;
    let event: SurplusCreditedEvent = balance_event!(SurplusCreditedEvent, vault, address, surplus, seq, timestamp);
    events::emit(&event, event_authority)
}
