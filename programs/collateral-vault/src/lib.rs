//! Collateral vault program: per-user USDT vaults for a perpetual-futures exchange.
//!
//! Written on Pinocchio, speaking Anchor's wire format: instruction, account and event
//! discriminators, borsh layouts, `emit_cpi!`-style events and an IDL in the current format
//! (`idl/collateral_vault.json`, generated from [`PROGRAM_SPEC`]).
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(test)]
extern crate std;

pub mod guards;
pub mod instructions;

// The wire format lives in the interface crate; these paths keep `crate::…` working here.
pub use collateral_vault_interface::{
    discriminator, errors, events, layout, loader, pod, runtime, schema, seeds, state, system, token, ID,
};

use pinocchio::{AccountView, Address, ProgramResult};

use crate::{errors::VaultError, instructions as ix};

#[cfg(not(feature = "no-entrypoint"))]
mod entrypoint {
    pinocchio::program_entrypoint!(crate::process_instruction);
    pinocchio::no_allocator!();
    pinocchio::nostd_panic_handler!();
}

const fn tag(discriminator: [u8; 8]) -> u64 {
    u64::from_le_bytes(discriminator)
}

/// Runs the instruction; on failure logs Anchor's `AnchorError occurred` line for our error
/// codes, so Anchor clients parse them. Inlined into the entrypoint: called through a function
/// pointer it would need stack arguments, which the BPF backend cannot pass.
#[inline(always)]
pub fn process_instruction(program_id: &Address, accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let result = dispatch(program_id, accounts, data);
    errors::log_anchor_error(&result);
    result
}

/// Routes by the 8-byte Anchor discriminator.
#[inline(always)]
fn dispatch(program_id: &Address, accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    if program_id != &ID {
        return Err(VaultError::InvalidProgramAccount.into());
    }
    let Some((discriminator, args)) = data.split_first_chunk::<8>() else {
        return Err(VaultError::InvalidInstructionData.into());
    };
    const INITIALIZE_AUTHORITY: u64 = tag(ix::initialize_authority::DISCRIMINATOR);
    const ADD_AUTHORIZED_PROGRAM: u64 = tag(ix::add_authorized_program::DISCRIMINATOR);
    const REMOVE_AUTHORIZED_PROGRAM: u64 = tag(ix::remove_authorized_program::DISCRIMINATOR);
    const SET_PAUSED: u64 = tag(ix::set_paused::DISCRIMINATOR);
    const SET_STRANDED_LOCK_GRACE: u64 = tag(ix::set_stranded_lock_grace::DISCRIMINATOR);
    const APPROVE_CALLER: u64 = tag(ix::approve_caller::DISCRIMINATOR);
    const REVOKE_CALLER: u64 = tag(ix::revoke_caller::DISCRIMINATOR);
    const RELEASE_STRANDED_LOCK: u64 = tag(ix::release_stranded_lock::DISCRIMINATOR);
    const PROPOSE_ADMIN: u64 = tag(ix::propose_admin::DISCRIMINATOR);
    const ACCEPT_ADMIN: u64 = tag(ix::accept_admin::DISCRIMINATOR);
    const INITIALIZE_VAULT: u64 = tag(ix::initialize_vault::DISCRIMINATOR);
    const DEPOSIT: u64 = tag(ix::deposit::DISCRIMINATOR);
    const WITHDRAW: u64 = tag(ix::withdraw::DISCRIMINATOR);
    const CLOSE_VAULT: u64 = tag(ix::close_vault::DISCRIMINATOR);
    const LOCK_COLLATERAL: u64 = tag(ix::lock_collateral::DISCRIMINATOR);
    const UNLOCK_COLLATERAL: u64 = tag(ix::unlock_collateral::DISCRIMINATOR);
    const TRANSFER_COLLATERAL: u64 = tag(ix::transfer_collateral::DISCRIMINATOR);
    const EVENT_CPI: u64 = tag(discriminator::EVENT_IX_TAG_LE);

    match u64::from_le_bytes(*discriminator) {
        DEPOSIT => ix::deposit::process(accounts, args),
        WITHDRAW => ix::withdraw::process(accounts, args),
        LOCK_COLLATERAL => ix::lock_collateral::process(accounts, args),
        UNLOCK_COLLATERAL => ix::unlock_collateral::process(accounts, args),
        TRANSFER_COLLATERAL => ix::transfer_collateral::process(accounts, args),
        EVENT_CPI => events::process_event_cpi(accounts),
        INITIALIZE_VAULT => ix::initialize_vault::process(accounts, args),
        APPROVE_CALLER => ix::approve_caller::process(accounts, args),
        REVOKE_CALLER => ix::revoke_caller::process(accounts, args),
        RELEASE_STRANDED_LOCK => ix::release_stranded_lock::process(accounts, args),
        CLOSE_VAULT => ix::close_vault::process(accounts, args),
        INITIALIZE_AUTHORITY => ix::initialize_authority::process(accounts, args),
        ADD_AUTHORIZED_PROGRAM => ix::add_authorized_program::process(accounts, args),
        REMOVE_AUTHORIZED_PROGRAM => ix::remove_authorized_program::process(accounts, args),
        SET_PAUSED => ix::set_paused::process(accounts, args),
        SET_STRANDED_LOCK_GRACE => ix::set_stranded_lock_grace::process(accounts, args),
        PROPOSE_ADMIN => ix::propose_admin::process(accounts, args),
        ACCEPT_ADMIN => ix::accept_admin::process(accounts, args),
        _ => Err(VaultError::InvalidInstructionData.into()),
    }
}

macro_rules! with_discriminator {
    ($trait:path: $($ty:ty),*) => {
        &[$( (schema::TypeSpec::of::<$ty>(), <$ty as $trait>::DISCRIMINATOR) ),*]
    };
}

/// The whole wire format, as the IDL generator reads it.
pub const PROGRAM_SPEC: schema::ProgramSpec = {
    use events::*;
    use schema::TypeSpec;
    use state::{AuthorizedProgram, CallerLock, CollateralVault, PauseAction, RemovedProgram, VaultAuthority};

    schema::ProgramSpec {
        name: "collateral_vault",
        version: env!("CARGO_PKG_VERSION"),
        description: "Per-user USDT collateral vaults for a perpetual-futures exchange",
        address: ID,
        instructions: ix::ALL,
        accounts: with_discriminator!(state::AccountType: CollateralVault, VaultAuthority, CallerLock),
        events: with_discriminator!(events::Event:
            VaultInitializedEvent, DepositEvent, WithdrawEvent, SurplusCreditedEvent, LockEvent,
            UnlockEvent, StrandedLockReleasedEvent, TransferEvent, VaultClosedEvent,
            CallerApprovedEvent, CallerRevokedEvent, AuthorityInitializedEvent,
            ProgramAuthorizedEvent, ProgramDeauthorizedEvent, StrandedLockGraceChangedEvent,
            PauseChangedEvent, AdminProposedEvent, AdminChangedEvent),
        types: &[TypeSpec::of::<AuthorizedProgram>(), TypeSpec::of::<RemovedProgram>()],
        enums: &[PauseAction::SPEC],
        errors: errors::ERRORS,
    }
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idl_matches_committed_file() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../idl/collateral_vault.json");
        collateral_vault_interface::idl::check_committed(&PROGRAM_SPEC, path);
    }

    #[test]
    fn callers_use_the_program_instruction_names() {
        use collateral_vault_interface::instruction_names as names;
        assert_eq!(ix::lock_collateral::NAME, names::LOCK_COLLATERAL);
        assert_eq!(ix::unlock_collateral::NAME, names::UNLOCK_COLLATERAL);
        assert_eq!(ix::transfer_collateral::NAME, names::TRANSFER_COLLATERAL);
    }

    #[test]
    fn discriminators_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for spec in ix::ALL {
            assert!(seen.insert(spec.discriminator), "{}", spec.name);
            assert_eq!(spec.discriminator, discriminator::instruction(spec.name));
        }
        assert!(!seen.contains(&discriminator::EVENT_IX_TAG_LE));
    }

    #[test]
    fn rejects_short_and_unknown_instruction_data() {
        let id = ID;
        assert_eq!(
            dispatch(&id, &mut [], &[1, 2, 3]),
            Err(VaultError::InvalidInstructionData.into())
        );
        assert_eq!(
            process_instruction(&id, &mut [], &[0; 8]),
            Err(VaultError::InvalidInstructionData.into())
        );
        assert_eq!(
            process_instruction(&Address::new_from_array([9; 32]), &mut [], &[0; 8]),
            Err(VaultError::InvalidProgramAccount.into())
        );
    }
}
