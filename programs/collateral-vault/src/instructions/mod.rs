//! One instruction per file: its discriminator, argument layout, account list (the IDL reads
//! the same constants), a `validate` step that checks every account, and `process`.

mod admin;
mod caller;
mod vault_ops;

pub mod accept_admin;
pub mod add_authorized_program;
pub mod approve_caller;
pub mod close_vault;
pub mod deposit;
pub mod initialize_authority;
pub mod initialize_vault;
pub mod lock_collateral;
pub mod propose_admin;
pub mod release_stranded_lock;
pub mod remove_authorized_program;
pub mod revoke_caller;
pub mod set_paused;
pub mod set_stranded_lock_grace;
pub mod transfer_collateral;
pub mod unlock_collateral;
pub mod withdraw;

use crate::schema::InstructionSpec;

/// Every instruction, in IDL order.
pub const ALL: &[InstructionSpec] = &[
    initialize_authority::SPEC,
    add_authorized_program::SPEC,
    remove_authorized_program::SPEC,
    set_paused::SPEC,
    set_stranded_lock_grace::SPEC,
    propose_admin::SPEC,
    accept_admin::SPEC,
    initialize_vault::SPEC,
    deposit::SPEC,
    withdraw::SPEC,
    close_vault::SPEC,
    approve_caller::SPEC,
    revoke_caller::SPEC,
    release_stranded_lock::SPEC,
    lock_collateral::SPEC,
    unlock_collateral::SPEC,
    transfer_collateral::SPEC,
];
