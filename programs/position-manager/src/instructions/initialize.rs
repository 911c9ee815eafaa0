//! `initialize(keeper)`: creates the config. Only the program's deployer may call it (its
//! upgrade authority, as for the vault's `initialize_authority`), so nobody can front-run a
//! fresh deployment and make themselves keeper. The caller PDA's bump is found here once.

use collateral_vault_interface::{
    discriminator, layout,
    loader::{check_deployer, DeployerCheck, BPF_LOADER_UPGRADEABLE},
    runtime::opaque,
    schema::{AccountSpec, InstructionSpec, Layout, Seed},
    system::create_pda_account,
};
use pinocchio::{
    cpi::{Seed as CpiSeed, Signer},
    AccountView, Address, ProgramResult,
};

use crate::{
    errors::ManagerError,
    seeds::{CALLER_AUTHORITY, CONFIG},
    state::{init, ManagerAccount, ManagerConfig},
};

use super::common::signer;

pub const NAME: &str = "initialize";
pub const DISCRIMINATOR: [u8; 8] = discriminator::instruction(NAME);

layout! {
    pub struct InitializeArgs {
        pub keeper: Address,
    }
}

pub const ACCOUNTS: &[AccountSpec] = &[
    AccountSpec::new("admin").writable().signer().docs("The program's upgrade authority (its deployer)"),
    AccountSpec::new("config").writable().pda(&[Seed::Const(CONFIG)]),
    AccountSpec::new("program").address(crate::ID).docs("This program"),
    AccountSpec::new("program_data")
        .pda_of(&[Seed::Account("program")], BPF_LOADER_UPGRADEABLE)
        .docs("This program's ProgramData account under the upgradeable loader (ignored under loader v2 and v4)"),
    AccountSpec::new("system_program").address(pinocchio_system::ID),
];

pub const SPEC: InstructionSpec = InstructionSpec {
    name: NAME,
    docs: "Creates the manager's config with its keeper (the program's upgrade authority only).",
    discriminator: DISCRIMINATOR,
    accounts: ACCOUNTS,
    args: InitializeArgs::FIELDS,
};

struct Initialize<'a> {
    admin: &'a AccountView,
    config: &'a AccountView,
    keeper: Address,
    config_bump: u8,
}

fn validate<'a>(program_id: &Address, accounts: &'a mut [AccountView], data: &[u8]) -> Result<Initialize<'a>, ManagerError> {
    let [admin, config, program, program_data, system_program, ..] = accounts else {
        return Err(ManagerError::NotEnoughAccounts);
    };
    let args = InitializeArgs::from_bytes(data).ok_or(ManagerError::InvalidInstructionData)?;
    signer(admin)?;
    if !config.owned_by(&pinocchio_system::ID) || !config.is_data_empty() {
        return Err(ManagerError::AlreadyInitialized);
    }
    let seeds = [opaque(CONFIG)];
    let (expected, config_bump) = Address::find_program_address(&seeds, program_id);
    if config.address() != &expected || system_program.address() != &pinocchio_system::ID || program.address() != program_id {
        return Err(ManagerError::InvalidAccount);
    }
    match check_deployer(program, program_data, admin.address()) {
        DeployerCheck::Ok => {}
        DeployerCheck::NotUpgradeAuthority => return Err(ManagerError::NotUpgradeAuthority),
        DeployerCheck::UnsupportedLoader => return Err(ManagerError::UnsupportedLoader),
    }
    Ok(Initialize { admin, config, keeper: args.keeper, config_bump })
}

pub fn process(program_id: &Address, accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let ix = validate(program_id, accounts, data)?;
    let seeds = [opaque(CALLER_AUTHORITY)];
    let (_, caller_authority_bump) = Address::find_program_address(&seeds, program_id);
    let bump = [ix.config_bump];
    let seeds = [CpiSeed::from(CONFIG), CpiSeed::from(&bump)];
    create_pda_account(ix.admin, ix.config, ManagerConfig::SPACE, program_id, &Signer::from(&seeds))?;
    let state = ManagerConfig { admin: *ix.admin.address(), keeper: ix.keeper, caller_authority_bump, bump: ix.config_bump };
    // SAFETY: just created with SPACE bytes.
    unsafe { init(ix.config, &state) };
    Ok(())
}
