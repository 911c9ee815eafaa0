//! `close_position(amount)`: releases collateral this manager locked, by CPI.

use collateral_vault_interface::{
    discriminator,
    schema::{AccountSpec, InstructionSpec, Layout, Seed},
};
use pinocchio::{AccountView, Address, ProgramResult};

use crate::{errors::ManagerError, seeds::MARGIN};

use super::common::{validate_position_change, AmountArgs, PositionChange, VAULT_CPI_ACCOUNTS};

pub const NAME: &str = "close_position";
pub const DISCRIMINATOR: [u8; 8] = discriminator::instruction(NAME);

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
    args: AmountArgs::FIELDS,
};

fn validate<'a>(program_id: &Address, accounts: &'a mut [AccountView], data: &[u8]) -> Result<PositionChange<'a>, ManagerError> {
    validate_position_change(program_id, accounts, data)
}

pub fn process(program_id: &Address, accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let ix = validate(program_id, accounts, data)?;
    let margin = ix.margin;
    margin.release(ix.amount)?;
    ix.vault_program.unlock(ix.vault, ix.amount)
}
