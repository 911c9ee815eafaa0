//! `initialize_authority()`: creates the `VaultAuthority` singleton with the signer as admin and
//! the given mint as collateral. When the program is upgradeable, only its upgrade authority may
//! do this, so nobody can front-run the deployment.

use pinocchio::{
    cpi::{Seed as CpiSeed, Signer},
    AccountView, Address, ProgramResult,
};

use crate::{
    discriminator,
    errors::VaultError,
    events::{self, AuthorityInitializedEvent},
    guards, layout,
    pod::{PodBool, PodI64},
    runtime,
    schema::{AccountSpec, InstructionSpec, Layout, Seed},
    seeds::{EVENT_AUTHORITY_ADDRESS, VAULT_AUTHORITY, VAULT_AUTHORITY_ADDRESS, VAULT_AUTHORITY_BUMP},
    state::{init_account, AccountType, AuthorizedProgram, VaultAuthority, MAX_AUTHORIZED_PROGRAMS},
    system, token, ID,
};

pub const NAME: &str = "initialize_authority";
pub const DISCRIMINATOR: [u8; 8] = discriminator::instruction(NAME);

layout! {
    pub struct InitializeAuthorityArgs {}
}

const BPF_LOADER_UPGRADEABLE: Address =
    Address::from_str_const("BPFLoaderUpgradeab1e11111111111111111111111");

pub const ACCOUNTS: &[AccountSpec] = &[
    AccountSpec::new("admin").writable().signer().docs("Pays for the account and becomes the admin"),
    AccountSpec::new("vault_authority").writable().address(VAULT_AUTHORITY_ADDRESS).pda(&[Seed::Const(VAULT_AUTHORITY)]),
    AccountSpec::new("collateral_mint").docs("The USDT mint"),
    AccountSpec::new("program_data").docs("This program's ProgramData account (any account when the program is not upgradeable)"),
    AccountSpec::new("system_program").address(pinocchio_system::ID),
    AccountSpec::new("event_authority").address(EVENT_AUTHORITY_ADDRESS),
    AccountSpec::new("program").address(ID),
];

pub const SPEC: InstructionSpec = InstructionSpec {
    name: NAME,
    docs: "Creates the program configuration; the signer becomes admin.",
    discriminator: DISCRIMINATOR,
    accounts: ACCOUNTS,
    args: InitializeAuthorityArgs::FIELDS,
};

struct InitializeAuthority<'a> {
    admin: &'a AccountView,
    vault_authority: &'a AccountView,
    mint: &'a AccountView,
    event_authority: &'a AccountView,
    decimals: u8,
}

fn validate<'a>(accounts: &'a mut [AccountView], data: &[u8]) -> Result<InitializeAuthority<'a>, pinocchio::error::ProgramError> {
    let [admin, vault_authority, mint, program_data, system_program, event_authority, program, ..] = accounts else {
        return Err(VaultError::NotEnoughAccounts.into());
    };
    InitializeAuthorityArgs::from_bytes(data).ok_or(VaultError::InvalidInstructionData)?;
    guards::signer(admin)?;
    guards::writable(admin)?;
    guards::address(vault_authority, &VAULT_AUTHORITY_ADDRESS, VaultError::InvalidAuthorityAddress)?;
    guards::writable(vault_authority)?;
    guards::uninitialized(vault_authority)?;
    guards::address(system_program, &pinocchio_system::ID, VaultError::InvalidSystemProgram)?;
    events::check_event_accounts(event_authority, program)?;
    check_upgrade_authority(program, program_data, admin.address())?;
    let decimals = token::mint_decimals(mint)?;
    Ok(InitializeAuthority { admin, vault_authority, mint, event_authority, decimals })
}

/// On an upgradeable deployment, the signer must be the upgrade authority recorded in the
/// program's ProgramData. Immutable deployments (loader v2) have none to check.
fn check_upgrade_authority(program: &AccountView, program_data: &AccountView, admin: &Address) -> ProgramResult {
    if !program.owned_by(&BPF_LOADER_UPGRADEABLE) {
        return Ok(());
    }
    // SAFETY: read-only views of loader-owned accounts that nothing else borrows.
    let (program_bytes, data_bytes) = unsafe { (program.borrow_unchecked(), program_data.borrow_unchecked()) };
    let points_to_program_data = program_bytes.len() >= 36
        && program_bytes[..4] == [2, 0, 0, 0]
        && program_bytes[4..36] == *program_data.address().as_ref();
    let signed_by_upgrade_authority = program_data.owned_by(&BPF_LOADER_UPGRADEABLE)
        && data_bytes.len() >= 45
        && data_bytes[..4] == [3, 0, 0, 0]
        && data_bytes[12] == 1
        && data_bytes[13..45] == *admin.as_ref();
    if !(points_to_program_data && signed_by_upgrade_authority) {
        return Err(VaultError::NotUpgradeAuthority.into());
    }
    Ok(())
}

pub fn process(accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let ix = validate(accounts, data)?;
    let bump = [runtime::opaque(VAULT_AUTHORITY_BUMP)];
    let seeds = [CpiSeed::from(VAULT_AUTHORITY), CpiSeed::from(&bump)];
    system::create_pda_account(ix.admin, ix.vault_authority, VaultAuthority::SPACE, &ID, &Signer::from(&seeds))?;

    let empty = AuthorizedProgram {
        program_id: Address::new_from_array([0; 32]),
        caller_authority: Address::new_from_array([0; 32]),
    };
    let state = VaultAuthority {
        admin: *ix.admin.address(),
        pending_admin: Address::new_from_array([0; 32]),
        collateral_mint: *ix.mint.address(),
        collateral_decimals: ix.decimals,
        deposit_paused: PodBool::new(false),
        withdraw_paused: PodBool::new(false),
        lock_paused: PodBool::new(false),
        authorized_program_count: 0,
        authorized_programs: [empty; MAX_AUTHORIZED_PROGRAMS],
        bump: VAULT_AUTHORITY_BUMP,
        reserved: [0; 64],
    };
    // SAFETY: just created with exactly SPACE bytes, owned by us; nothing else borrows it.
    unsafe { init_account(ix.vault_authority, &state) };

    let event = AuthorityInitializedEvent {
        admin: state.admin,
        collateral_mint: state.collateral_mint,
        timestamp: PodI64::new(runtime::unix_timestamp()?),
    };
    events::emit(&event, ix.event_authority)
}
