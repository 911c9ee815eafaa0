//! `initialize_authority()`: creates the `VaultAuthority` singleton with the signer as admin and
//! the given mint as collateral. Only the program's deployer may do this (its upgrade authority
//! under the upgradeable loader or loader v4; see `loader`), so nobody can front-run the
//! deployment. Under the immutable loader v2 there is no authority to check: deploy and
//! initialize together.

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
    state::{
        init_account, AccountType, AuthorizedProgram, RemovedProgram, VaultAuthority, DEFAULT_STRANDED_LOCK_GRACE_SECONDS,
        MAX_AUTHORIZED_PROGRAMS, MAX_REMOVED_PROGRAMS,
    },
    loader::{self, DeployerCheck, BPF_LOADER_UPGRADEABLE},
    system, token, ID,
};

pub const NAME: &str = "initialize_authority";
pub const DISCRIMINATOR: [u8; 8] = discriminator::instruction(NAME);

layout! {
    pub struct InitializeAuthorityArgs {}
}

pub const ACCOUNTS: &[AccountSpec] = &[
    AccountSpec::new("admin").writable().signer().docs("Pays for the account and becomes the admin"),
    AccountSpec::new("vault_authority").writable().address(VAULT_AUTHORITY_ADDRESS).pda(&[Seed::Const(VAULT_AUTHORITY)]),
    AccountSpec::new("collateral_mint").docs("The USDT mint"),
    AccountSpec::new("program_data")
        .pda_of(&[Seed::Account("program")], BPF_LOADER_UPGRADEABLE)
        .docs("This program's ProgramData account under the upgradeable loader (ignored under loader v2 and v4)"),
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

fn check_upgrade_authority(program: &AccountView, program_data: &AccountView, admin: &Address) -> ProgramResult {
    match loader::check_deployer(program, program_data, admin) {
        DeployerCheck::Ok => Ok(()),
        DeployerCheck::NotUpgradeAuthority => Err(VaultError::NotUpgradeAuthority.into()),
        DeployerCheck::UnsupportedLoader => Err(VaultError::UnsupportedLoader.into()),
    }
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
        stranded_lock_grace_seconds: PodI64::new(DEFAULT_STRANDED_LOCK_GRACE_SECONDS),
        removed_program_count: 0,
        removed_programs: [RemovedProgram { program_id: Address::new_from_array([0; 32]), releasable_at: PodI64::new(0) }; MAX_REMOVED_PROGRAMS],
        reserved: [0; 64],
    };
    // SAFETY: just created with exactly SPACE bytes, owned by us; nothing else borrows it.
    unsafe { init_account(ix.vault_authority, &state) };

    let event = AuthorityInitializedEvent {
        admin: state.admin,
        collateral_mint: state.collateral_mint,
        stranded_lock_grace_seconds: state.stranded_lock_grace_seconds,
        timestamp: PodI64::new(runtime::unix_timestamp()?),
    };
    events::emit(&event, ix.event_authority)
}
