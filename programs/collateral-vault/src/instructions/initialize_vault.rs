//! `initialize_vault()`: creates the owner's vault PDA and, by CPI to the Associated Token
//! Account program, the vault's token account.

use pinocchio::{
    cpi::{Seed as CpiSeed, Signer},
    AccountView, Address, ProgramResult,
};
use pinocchio_associated_token_account::instructions::CreateIdempotent;

use crate::{
    discriminator,
    errors::VaultError,
    events::{self, VaultInitializedEvent},
    guards, layout,
    pod::{PodI64, PodU64},
    runtime,
    schema::{AccountSpec, InstructionSpec, Layout, Seed},
    seeds::{EVENT_AUTHORITY_ADDRESS, VAULT, VAULT_AUTHORITY, VAULT_AUTHORITY_ADDRESS},
    state::{init_account, AccountType, CollateralVault},
    system,
    token::{self, TokenAccount, ASSOCIATED_TOKEN_PROGRAM_ID, TOKEN_PROGRAM_ID},
    ID,
};

use super::vault_ops::{settle_surplus, vault_token_account_spec, COLLATERAL_MINT, VAULT_ATA_SEEDS};

pub const NAME: &str = "initialize_vault";
pub const DISCRIMINATOR: [u8; 8] = discriminator::instruction(NAME);

layout! {
    pub struct InitializeVaultArgs {}
}

pub const ACCOUNTS: &[AccountSpec] = &[
    AccountSpec::new("owner").writable().signer().docs("The user; pays rent for both accounts"),
    AccountSpec::new("vault").writable().pda(&[Seed::Const(VAULT), Seed::Account("owner")]),
    vault_token_account_spec("vault_token_account", VAULT_ATA_SEEDS).docs("Associated token account of the vault PDA for the collateral mint"),
    COLLATERAL_MINT,
    AccountSpec::new("vault_authority").address(VAULT_AUTHORITY_ADDRESS).pda(&[Seed::Const(VAULT_AUTHORITY)]),
    AccountSpec::new("token_program").address(TOKEN_PROGRAM_ID),
    AccountSpec::new("associated_token_program").address(ASSOCIATED_TOKEN_PROGRAM_ID),
    AccountSpec::new("system_program").address(pinocchio_system::ID),
    AccountSpec::new("event_authority").address(EVENT_AUTHORITY_ADDRESS),
    AccountSpec::new("program").address(ID),
];

pub const SPEC: InstructionSpec = InstructionSpec {
    name: NAME,
    docs: "Creates the signer's vault and its token account.",
    discriminator: DISCRIMINATOR,
    accounts: ACCOUNTS,
    args: InitializeVaultArgs::FIELDS,
};

struct InitializeVault<'a> {
    owner: &'a AccountView,
    vault: &'a AccountView,
    vault_token_account: &'a AccountView,
    mint: &'a AccountView,
    system_program: &'a AccountView,
    token_program: &'a AccountView,
    event_authority: &'a AccountView,
    deposits_open: bool,
    bump: u8,
}

fn validate<'a>(accounts: &'a mut [AccountView], data: &[u8]) -> Result<InitializeVault<'a>, pinocchio::error::ProgramError> {
    let [owner, vault, vault_token_account, mint, vault_authority, token_program, ata_program, system_program, event_authority, program, ..] =
        accounts
    else {
        return Err(VaultError::NotEnoughAccounts.into());
    };
    InitializeVaultArgs::from_bytes(data).ok_or(VaultError::InvalidInstructionData)?;
    guards::signer(owner)?;
    guards::writable(owner)?;
    let authority = guards::authority(vault_authority)?;
    guards::address(mint, &authority.collateral_mint, VaultError::InvalidMint)?;
    guards::writable(vault)?;
    guards::uninitialized(vault)?;
    let (expected, bump) = Address::find_program_address(&[VAULT, owner.address().as_ref()], &ID);
    guards::address(vault, &expected, VaultError::InvalidVaultAddress)?;
    guards::writable(vault_token_account)?;
    token::check_token_program(token_program)?;
    guards::address(ata_program, &ASSOCIATED_TOKEN_PROGRAM_ID, VaultError::InvalidAssociatedTokenProgram)?;
    guards::address(system_program, &pinocchio_system::ID, VaultError::InvalidSystemProgram)?;
    events::check_event_accounts(event_authority, program)?;
    let deposits_open = !authority.deposit_paused.get();
    Ok(InitializeVault { owner, vault, vault_token_account, mint, system_program, token_program, event_authority, deposits_open, bump })
}

pub fn process(accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let ix = validate(accounts, data)?;
    let bump = [ix.bump];
    let seeds = [CpiSeed::from(VAULT), CpiSeed::from(ix.owner.address().as_ref()), CpiSeed::from(&bump)];
    system::create_pda_account(ix.owner, ix.vault, CollateralVault::SPACE, &ID, &Signer::from(&seeds))?;

    // Idempotent: anyone can create an ATA for any wallet, so a pre-created one must not block us.
    CreateIdempotent {
        funding_account: ix.owner,
        account: ix.vault_token_account,
        wallet: ix.vault,
        mint: ix.mint,
        system_program: ix.system_program,
        token_program: ix.token_program,
    }
    .invoke()?;
    // The ATA program derived and checked the address; re-check what we rely on.
    let token_amount = {
        let token_account = TokenAccount::load(ix.vault_token_account)?;
        if token_account.owner() != ix.vault.address() || token_account.mint() != ix.mint.address() {
            return Err(VaultError::InvalidTokenAccount.into());
        }
        token_account.ensure_not_frozen()?;
        token_account.amount()
    };

    let now = runtime::now()?;
    let vault_address = *ix.vault.address();
    // The creation slot is the vault's generation: its event numbers start above those of any
    // earlier vault at this address (see `CollateralVault::can_close_at`).
    let initial = CollateralVault::new(*ix.owner.address(), *ix.vault_token_account.address(), ix.bump, now.unix_timestamp, now.slot);
    // SAFETY: just created with SPACE bytes, owned by us; no other reference exists.
    let vault = unsafe { init_account(ix.vault, &initial) };

    let seq = vault.next_event_seq()?;
    let event = VaultInitializedEvent {
        owner: vault.owner,
        vault: vault_address,
        token_account: vault.token_account,
        generation: vault.generation,
        seq: PodU64::new(seq),
        timestamp: PodI64::new(now.unix_timestamp),
    };
    events::emit(&event, ix.event_authority)?;
    settle_surplus(vault, &vault_address, token_amount, ix.deposits_open, ix.event_authority, now.unix_timestamp)?;
    Ok(())
}
