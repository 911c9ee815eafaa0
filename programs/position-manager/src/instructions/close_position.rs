//! `close_position(amount)`: releases collateral this manager locked, by CPI.

use collateral_vault_interface::{
    discriminator, layout,
    pod::PodU64,
    schema::{AccountSpec, InstructionSpec, Layout, Seed},
};
use pinocchio::{AccountView, Address, ProgramResult};

use crate::{errors::ManagerError, seeds::MARGIN, state::MarginAccount, vault_cpi::VaultProgram};

use super::common::{self, signer, VAULT_CPI_ACCOUNTS};

pub const NAME: &str = "close_position";
pub const DISCRIMINATOR: [u8; 8] = discriminator::instruction(NAME);

layout! {
    pub struct ClosePositionArgs {
        pub amount: PodU64,
    }
}

pub const ACCOUNTS: &[AccountSpec] = &[
    AccountSpec::new("owner").signer(),
    AccountSpec::new("config").pda(&[Seed::Const(crate::seeds::CONFIG)]),
    AccountSpec::new("margin_account").writable().pda(&[Seed::Const(MARGIN), Seed::Account("owner")]),
    AccountSpec::new("vault").writable(),
    VAULT_CPI_ACCOUNTS[0],
    VAULT_CPI_ACCOUNTS[1],
    VAULT_CPI_ACCOUNTS[2],
    VAULT_CPI_ACCOUNTS[3],
];

pub const SPEC: InstructionSpec = InstructionSpec {
    name: NAME,
    docs: "Releases collateral this manager locked for the owner (CPI unlock_collateral).",
    discriminator: DISCRIMINATOR,
    accounts: ACCOUNTS,
    args: ClosePositionArgs::FIELDS,
};

struct ClosePosition<'a> {
    margin: &'a mut MarginAccount,
    vault: &'a AccountView,
    vault_program: VaultProgram<'a>,
    amount: u64,
}

fn validate<'a>(program_id: &Address, accounts: &'a mut [AccountView], data: &[u8]) -> Result<ClosePosition<'a>, ManagerError> {
    let [owner, config, margin, vault, caller_authority, vault_authority, event_authority, vault_program, ..] = accounts else {
        return Err(ManagerError::NotEnoughAccounts);
    };
    let args = ClosePositionArgs::from_bytes(data).ok_or(ManagerError::InvalidInstructionData)?;
    signer(owner)?;
    let config = common::config(config, program_id)?;
    let margin = common::margin(margin, program_id)?;
    if margin.owner != *owner.address() {
        return Err(ManagerError::NotOwner);
    }
    if margin.vault != *vault.address() {
        return Err(ManagerError::InvalidAccount);
    }
    let vault_program = VaultProgram::new(
        [caller_authority, vault_authority, event_authority, vault_program],
        config.caller_authority_bump,
    )?;
    Ok(ClosePosition { margin, vault, vault_program, amount: args.amount.get() })
}

pub fn process(program_id: &Address, accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let ix = validate(program_id, accounts, data)?;
    let margin = ix.margin;
    margin.release(ix.amount)?;
    ix.vault_program.unlock(ix.vault, ix.amount)
}
