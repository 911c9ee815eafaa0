//! Example position manager: the exchange program that locks, unlocks and settles collateral in
//! the vault program by CPI, signing as its `[b"vault_caller"]` PDA. Kept small on purpose; it
//! makes the CPI flow real in tests and in the demo.
//!
//! Every PDA is derived from the id the program runs under, so the same binary deployed at
//! another address is a different, unauthorized caller.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(test)]
extern crate std;

pub mod errors;
pub mod instructions;
pub mod seeds;
pub mod state;
pub mod vault_cpi;

use collateral_vault_interface::schema;
use pinocchio::{AccountView, Address, ProgramResult};

use crate::{errors::ManagerError, instructions as ix};

pinocchio::address::declare_id!("GTYmhz8KtQhgKEgTvW644AfB9q3Jey3DeZpF6bum9vCT");

#[cfg(not(feature = "no-entrypoint"))]
mod entrypoint {
    pinocchio::program_entrypoint!(crate::process_instruction);
    pinocchio::no_allocator!();
    pinocchio::nostd_panic_handler!();
}

const fn tag(discriminator: [u8; 8]) -> u64 {
    u64::from_le_bytes(discriminator)
}

/// Runs the instruction and, on failure, logs Anchor's error line for our codes. Inlined into
/// the entrypoint (a call through a pointer would need stack arguments).
#[inline(always)]
pub fn process_instruction(program_id: &Address, accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let result = dispatch(program_id, accounts, data);
    errors::log_anchor_error(&result);
    result
}

#[inline(always)]
fn dispatch(program_id: &Address, accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let Some((discriminator, args)) = data.split_first_chunk::<8>() else {
        return Err(ManagerError::InvalidInstructionData.into());
    };
    const INITIALIZE: u64 = tag(ix::initialize::DISCRIMINATOR);
    const CREATE_MARGIN_ACCOUNT: u64 = tag(ix::create_margin_account::DISCRIMINATOR);
    const OPEN_POSITION: u64 = tag(ix::open_position::DISCRIMINATOR);
    const CLOSE_POSITION: u64 = tag(ix::close_position::DISCRIMINATOR);
    const LIQUIDATE: u64 = tag(ix::liquidate::DISCRIMINATOR);
    match u64::from_le_bytes(*discriminator) {
        OPEN_POSITION => ix::open_position::process(program_id, accounts, args),
        CLOSE_POSITION => ix::close_position::process(program_id, accounts, args),
        LIQUIDATE => ix::liquidate::process(program_id, accounts, args),
        CREATE_MARGIN_ACCOUNT => ix::create_margin_account::process(program_id, accounts, args),
        INITIALIZE => ix::initialize::process(program_id, accounts, args),
        _ => Err(ManagerError::InvalidInstructionData.into()),
    }
}

/// The wire format, as the IDL generator reads it.
pub const PROGRAM_SPEC: schema::ProgramSpec = schema::ProgramSpec {
    name: "position_manager",
    version: env!("CARGO_PKG_VERSION"),
    description: "Example position manager that locks and settles collateral in the vault program by CPI",
    address: ID,
    instructions: ix::ALL,
    accounts: &[
        (schema::TypeSpec::of::<state::ManagerConfig>(), <state::ManagerConfig as state::ManagerAccount>::DISCRIMINATOR),
        (schema::TypeSpec::of::<state::MarginAccount>(), <state::MarginAccount as state::ManagerAccount>::DISCRIMINATOR),
    ],
    events: &[],
    types: &[],
    enums: &[],
    errors: errors::ERRORS,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idl_matches_committed_file() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../idl/position_manager.json");
        collateral_vault_interface::idl::check_committed(&PROGRAM_SPEC, path);
    }

    #[test]
    fn discriminators_follow_anchor() {
        for spec in ix::ALL {
            assert_eq!(spec.discriminator, collateral_vault_interface::discriminator::instruction(spec.name));
        }
    }
}
