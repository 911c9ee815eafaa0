//! `close_position(amount, size)`: shrinks the position by `size` and releases `amount` of the
//! collateral this manager locked, by CPI. The health rule keeps what backs the rest of the
//! position locked.

use collateral_vault_interface::{
    discriminator,
    schema::{AccountSpec, InstructionSpec, Layout},
};
use pinocchio::{AccountView, Address, ProgramResult};

use crate::errors::ManagerError;

use super::common::{validate_position_change, PositionArgs, PositionChange, POSITION_ACCOUNTS};

pub const NAME: &str = "close_position";
pub const DISCRIMINATOR: [u8; 8] = discriminator::instruction(NAME);

pub const ACCOUNTS: &[AccountSpec] = POSITION_ACCOUNTS;

pub const SPEC: InstructionSpec = InstructionSpec {
    name: NAME,
    docs: "Shrinks the position and releases collateral this manager locked (CPI unlock_collateral), never below what the rest of the position needs.",
    discriminator: DISCRIMINATOR,
    accounts: ACCOUNTS,
    args: PositionArgs::FIELDS,
};

fn validate<'a>(program_id: &Address, accounts: &'a mut [AccountView], data: &[u8]) -> Result<PositionChange<'a>, ManagerError> {
    validate_position_change(program_id, accounts, data)
}

pub fn process(program_id: &Address, accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let ix = validate(program_id, accounts, data)?;
    ix.margin.close(ix.amount, ix.size)?;
    if ix.amount == 0 {
        return Ok(());
    }
    ix.vault_program.unlock(ix.vault_accounts, ix.amount)
}
