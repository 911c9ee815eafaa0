//! The collateral vault program's wire format, shared by the program, its CPI callers (the
//! position manager) and the IDL generator: program id, PDA seeds, account and event layouts,
//! errors, and the helpers every program of this workspace uses to talk to the runtime.
//!
//! A library only: a program crate depending on another program crate would drag that crate's
//! `cdylib` (and its panic handler) into its own link.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(any(test, feature = "idl-build"))]
extern crate std;

pub mod discriminator;
pub mod errors;
pub mod events;
pub mod loader;
pub mod pod;
pub mod runtime;
pub mod schema;
pub mod seeds;
pub mod state;
pub mod system;
pub mod token;

#[cfg(any(test, feature = "idl-build"))]
pub mod idl;

pinocchio::address::declare_id!("8vjbjPhoD2rav71J8mgbVxcYdbbqST78y2bzMPRqoGr9");

/// Names of the instructions CPI callers use; their discriminators follow from the names.
pub mod instruction_names {
    pub const LOCK_COLLATERAL: &str = "lock_collateral";
    pub const UNLOCK_COLLATERAL: &str = "unlock_collateral";
    pub const TRANSFER_COLLATERAL: &str = "transfer_collateral";
}
