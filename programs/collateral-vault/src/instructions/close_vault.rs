//! `close_vault()`: closes an empty vault and its token account; all rent returns to the owner.

use pinocchio::{
    cpi::{Seed as CpiSeed, Signer},
    AccountView, ProgramResult,
};
use pinocchio_token::instructions::CloseAccount;

use super::vault_ops::{vault_token_account_spec, COLLATERAL_MINT, VAULT_ATA_SEEDS};
use crate::{
    discriminator,
    errors::VaultError,
    events::{self, VaultClosedEvent},
    guards, layout,
    pod::{PodI64, PodU64},
    runtime,
    schema::{AccountSpec, InstructionSpec, Layout, Seed},
    seeds::{EVENT_AUTHORITY_ADDRESS, VAULT, VAULT_AUTHORITY, VAULT_AUTHORITY_ADDRESS},
    state::{account_data_mut, CollateralVault},
    system,
    token::{self, TokenAccount, TOKEN_PROGRAM_ID},
    ID,
};

pub const NAME: &str = "close_vault";
pub const DISCRIMINATOR: [u8; 8] = discriminator::instruction(NAME);

layout! {
    pub struct CloseVaultArgs {}
}

pub const ACCOUNTS: &[AccountSpec] = &[
    AccountSpec::new("owner").writable().signer().docs("Receives the rent of both accounts"),
    AccountSpec::new("vault_authority").address(VAULT_AUTHORITY_ADDRESS).pda(&[Seed::Const(VAULT_AUTHORITY)]),
    AccountSpec::new("vault").writable().pda(&[Seed::Const(VAULT), Seed::Account("owner")]),
    vault_token_account_spec("vault_token_account", VAULT_ATA_SEEDS),
    COLLATERAL_MINT,
    AccountSpec::new("token_program").address(TOKEN_PROGRAM_ID),
    AccountSpec::new("event_authority").address(EVENT_AUTHORITY_ADDRESS),
    AccountSpec::new("program").address(ID),
];

pub const SPEC: InstructionSpec = InstructionSpec {
    name: NAME,
    docs: "Closes the signer's empty vault (no balance, nothing locked, empty token account).",
    discriminator: DISCRIMINATOR,
    accounts: ACCOUNTS,
    args: CloseVaultArgs::FIELDS,
};

struct CloseVault<'a> {
    owner: &'a mut AccountView,
    vault: &'a mut AccountView,
    vault_token_account: &'a AccountView,
    event_authority: &'a AccountView,
}

fn validate<'a>(accounts: &'a mut [AccountView], data: &[u8]) -> Result<CloseVault<'a>, pinocchio::error::ProgramError> {
    let [owner, vault_authority, vault, vault_token_account, mint, token_program, event_authority, program, ..] = accounts else {
        return Err(VaultError::NotEnoughAccounts.into());
    };
    CloseVaultArgs::from_bytes(data).ok_or(VaultError::InvalidInstructionData)?;
    guards::signer(owner)?;
    guards::writable(owner)?;
    let authority = guards::authority(vault_authority)?;
    guards::address(mint, &authority.collateral_mint, VaultError::InvalidMint)?;
    let state = guards::vault(vault)?;
    if state.owner != *owner.address() {
        return Err(VaultError::NotVaultOwner.into());
    }
    if !state.is_empty() {
        return Err(VaultError::VaultNotEmpty.into());
    }
    guards::address(vault_token_account, &state.token_account, VaultError::InvalidTokenAccount)?;
    guards::writable(vault_token_account)?;
    // Tokens sent here from outside must be withdrawn first (a withdraw credits them). A frozen
    // account cannot be closed either: say so by name.
    let token_account = TokenAccount::load(vault_token_account)?;
    token_account.ensure_not_frozen()?;
    if token_account.amount() != 0 {
        return Err(VaultError::VaultNotEmpty.into());
    }
    token::check_token_program(token_program)?;
    events::check_event_accounts(event_authority, program)?;
    Ok(CloseVault { owner, vault, vault_token_account, event_authority })
}

pub fn process(accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let ix = validate(accounts, data)?;
    let now = runtime::now()?;
    // SAFETY: type checked in `validate`; read before the account is closed.
    let vault = unsafe { account_data_mut::<CollateralVault>(ix.vault) };
    // A vault created again here in this slot would reuse event numbers: not in this slot.
    if !vault.can_close_at(now.slot) {
        return Err(VaultError::VaultTooNewToClose.into());
    }
    let seq = vault.next_event_seq()?;
    let event = VaultClosedEvent {
        owner: vault.owner,
        vault: *ix.vault.address(),
        generation: vault.generation,
        seq: PodU64::new(seq),
        timestamp: PodI64::new(now.unix_timestamp),
    };
    let bump = [vault.bump];
    let owner_key = vault.owner;
    let seeds = [CpiSeed::from(VAULT), CpiSeed::from(owner_key.as_ref()), CpiSeed::from(&bump)];
    CloseAccount::new(ix.vault_token_account, ix.owner, ix.vault).invoke_signed(&[Signer::from(&seeds)])?;
    events::emit(&event, ix.event_authority)?;
    system::close_program_account(ix.vault, ix.owner)
}
