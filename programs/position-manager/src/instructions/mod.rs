//! One instruction per file: discriminator, arguments, accounts, `validate`, `process`.

mod common;

pub mod close_position;
pub mod create_margin_account;
pub mod initialize;
pub mod liquidate;
pub mod open_position;

use collateral_vault_interface::schema::InstructionSpec;

pub const ALL: &[InstructionSpec] = &[
    initialize::SPEC,
    create_margin_account::SPEC,
    open_position::SPEC,
    close_position::SPEC,
    liquidate::SPEC,
];
