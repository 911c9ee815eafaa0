//! `open_position(amount, size)`: locks `amount` more collateral in the owner's vault by CPI
//! (within the owner's approval, which the vault checks) and grows the position by `size`; the
//! margin must cover the position afterwards.

use collateral_vault_interface::{
    discriminator,
    schema::{AccountSpec, InstructionSpec, Layout},
};
use pinocchio::{AccountView, Address, ProgramResult};

use crate::errors::ManagerError;

use super::common::{validate_position_change, PositionArgs, PositionChange, POSITION_ACCOUNTS};

pub const NAME: &str = "open_position";
pub const DISCRIMINATOR: [u8; 8] = discriminator::instruction(NAME);

pub const ACCOUNTS: &[AccountSpec] = POSITION_ACCOUNTS;

pub const SPEC: InstructionSpec = InstructionSpec {
    name: NAME,
    docs: "Locks collateral in the owner's vault (CPI lock_collateral) and grows the position; at least 1/10 of the position must stay locked.",
    discriminator: DISCRIMINATOR,
    accounts: ACCOUNTS,
    args: PositionArgs::FIELDS,
};

fn validate<'a>(program_id: &Address, accounts: &'a mut [AccountView], data: &[u8]) -> Result<PositionChange<'a>, ManagerError> {
    validate_position_change(program_id, accounts, data)
}

pub fn process(program_id: &Address, accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let ix = validate(program_id, accounts, data)?;
    ix.margin.open(ix.amount, ix.size)?;
    if ix.amount == 0 {
        return Ok(());
    }
    ix.vault_program.lock(ix.vault_accounts, ix.amount)
}
