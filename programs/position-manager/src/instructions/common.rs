//! Checks shared by the instructions.

use collateral_vault_interface::{
    layout,
    pod::PodU64,
    schema::{AccountSpec, Layout, Seed},
    seeds::{EVENT_AUTHORITY_ADDRESS, VAULT_AUTHORITY_ADDRESS},
    state::{AccountType, CollateralVault},
};
use pinocchio::{AccountView, Address};

use crate::{
    errors::ManagerError,
    seeds::CALLER_AUTHORITY,
    state::{load, ManagerConfig, MarginAccount},
    vault_cpi::VaultProgram,
};

layout! {
    /// The argument of the instructions that lock, unlock or settle an amount.
    pub struct AmountArgs {
        pub amount: PodU64,
    }
}

/// What `open_position` and `close_position` validate alike: `[owner, config, margin_account,
/// vault, <vault CPI accounts>]`, the owner signing for their own margin account and vault.
pub struct PositionChange<'a> {
    pub margin: &'a mut MarginAccount,
    pub vault: &'a AccountView,
    pub vault_program: VaultProgram<'a>,
    pub amount: u64,
}

#[inline(always)]
pub fn validate_position_change<'a>(
    program_id: &Address,
    accounts: &'a mut [AccountView],
    data: &[u8],
) -> Result<PositionChange<'a>, ManagerError> {
    let [owner, config, margin, vault, caller_authority, vault_authority, event_authority, vault_program, ..] = accounts else {
        return Err(ManagerError::NotEnoughAccounts);
    };
    let args = AmountArgs::from_bytes(data).ok_or(ManagerError::InvalidInstructionData)?;
    signer(owner)?;
    let config = self::config(config, program_id)?;
    let margin = self::margin(margin, program_id)?;
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
    Ok(PositionChange { margin, vault, vault_program, amount: args.amount.get() })
}

/// The vault-program accounts every CPI needs, in the order `VaultProgram::new` takes them.
pub const VAULT_CPI_ACCOUNTS: [AccountSpec; 4] = [
    AccountSpec::new("caller_authority").pda(&[Seed::Const(CALLER_AUTHORITY)]).docs("This program's signer for the vault program"),
    AccountSpec::new("vault_authority").address(VAULT_AUTHORITY_ADDRESS),
    AccountSpec::new("vault_event_authority").address(EVENT_AUTHORITY_ADDRESS),
    AccountSpec::new("vault_program").address(collateral_vault_interface::ID),
];

#[inline(always)]
pub fn signer(account: &AccountView) -> Result<(), ManagerError> {
    if !account.is_signer() {
        return Err(ManagerError::AccountNotSigner);
    }
    Ok(())
}

// Why owner and discriminator are enough for the two accounts below, without re-deriving their
// PDAs (a sha256 each on the hot path): this program creates a `ManagerConfig` only at
// `[b"config"]` and a `MarginAccount` only at `[b"margin", owner]`, after checking the address,
// and nothing else can create accounts it owns. So an account owned by this program with either
// discriminator sits at its PDA. The unit tests in `state.rs` and the SVM tests pin both facts.

/// Our config (the one at `[b"config"]`).
#[inline(always)]
pub fn config<'a>(account: &'a AccountView, program_id: &Address) -> Result<&'a ManagerConfig, ManagerError> {
    // SAFETY: read-only use; no mutable reference to the config exists in any instruction.
    Ok(unsafe { load::<ManagerConfig>(account, program_id)? })
}

/// A margin account (the one at `[b"margin", owner]` of its stored owner), writable.
#[inline(always)]
pub fn margin<'a>(account: &'a AccountView, program_id: &Address) -> Result<&'a mut MarginAccount, ManagerError> {
    if !account.is_writable() {
        return Err(ManagerError::AccountNotWritable);
    }
    // SAFETY: each instruction maps the margin account once.
    Ok(unsafe { load::<MarginAccount>(account, program_id)? })
}

/// The owner field of a vault-program `CollateralVault` (the vault program re-validates the
/// account fully when we call it).
#[inline(always)]
pub fn vault_owner(account: &AccountView) -> Result<Address, ManagerError> {
    if !account.owned_by(&collateral_vault_interface::ID) || account.data_len() != CollateralVault::SPACE {
        return Err(ManagerError::InvalidAccount);
    }
    // SAFETY: read-only view of a vault-program account.
    let data = unsafe { account.borrow_unchecked() };
    if data[..8] != CollateralVault::DISCRIMINATOR {
        return Err(ManagerError::InvalidAccount);
    }
    let mut owner = [0u8; 32];
    owner.copy_from_slice(&data[8..40]);
    Ok(Address::new_from_array(owner))
}
