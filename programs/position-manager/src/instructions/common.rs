//! Checks shared by the instructions.

use collateral_vault_interface::{
    layout,
    pod::PodU64,
    schema::{AccountSpec, Layout, Seed},
    seeds::{CALLER_LOCK, EVENT_AUTHORITY_ADDRESS, VAULT, VAULT_AUTHORITY_ADDRESS},
    state::{AccountType, CollateralVault},
    token::ASSOCIATED_TOKEN_PROGRAM_ID,
};
use pinocchio::{AccountView, Address};

use crate::{
    errors::ManagerError,
    seeds::CALLER_AUTHORITY,
    state::{load, ManagerConfig, MarginAccount},
    vault_cpi::VaultProgram,
};

layout! {
    /// The argument of `liquidate`: the amount of locked collateral to seize.
    pub struct AmountArgs {
        pub amount: PodU64,
    }
}

layout! {
    /// The arguments of `open_position` and `close_position`: collateral to lock (or unlock),
    /// and how much the position grows (or shrinks). Either may be zero, not both.
    pub struct PositionArgs {
        pub amount: PodU64,
        pub size: PodU64,
    }
}

/// What `open_position` and `close_position` validate alike: `[owner, config, margin_account,
/// vault, caller_lock, <vault CPI accounts>]`, the owner signing for their own margin account
/// and vault.
pub struct PositionChange<'a> {
    pub margin: &'a mut MarginAccount,
    pub vault_accounts: [&'a AccountView; 2],
    pub vault_program: VaultProgram<'a>,
    pub amount: u64,
    pub size: u64,
}

#[inline(always)]
pub fn validate_position_change<'a>(
    program_id: &Address,
    accounts: &'a mut [AccountView],
    data: &[u8],
) -> Result<PositionChange<'a>, ManagerError> {
    let [owner, config, margin, vault, caller_lock, caller_authority, vault_authority, event_authority, vault_program, ..] = accounts else {
        return Err(ManagerError::NotEnoughAccounts);
    };
    let args = PositionArgs::from_bytes(data).ok_or(ManagerError::InvalidInstructionData)?;
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
    Ok(PositionChange {
        margin,
        vault_accounts: [vault, caller_lock],
        vault_program,
        amount: args.amount.get(),
        size: args.size.get(),
    })
}

const PROGRAM_ID_BYTES: [u8; 32] = crate::ID.to_bytes();
const TOKEN_PROGRAM_BYTES: [u8; 32] = collateral_vault_interface::token::TOKEN_PROGRAM_ID.to_bytes();

/// The user's vault, declared as the vault program's PDA `[b"vault", owner]`.
pub const OWNER_VAULT: AccountSpec = AccountSpec::new("vault")
    .writable()
    .pda_of(&[Seed::Const(VAULT), Seed::Account("owner")], collateral_vault_interface::ID)
    .docs("The owner's CollateralVault (vault program PDA)");

/// This program's `CallerLock` in `vault` (vault program PDA `[b"caller_lock", vault, this
/// program]`): the owner's approval and what this program holds locked there.
pub const fn caller_lock_spec(name: &'static str, seeds: &'static [Seed]) -> AccountSpec {
    AccountSpec::new(name)
        .writable()
        .pda_of(seeds, collateral_vault_interface::ID)
        .docs("This program's CallerLock in the vault (the owner's approve_caller creates it)")
}

pub const CALLER_LOCK_SEEDS: &[Seed] = &[Seed::Const(CALLER_LOCK), Seed::Account("vault"), Seed::Const(&PROGRAM_ID_BYTES)];
pub const FROM_CALLER_LOCK_SEEDS: &[Seed] = &[Seed::Const(CALLER_LOCK), Seed::Account("from_vault"), Seed::Const(&PROGRAM_ID_BYTES)];

/// A vault's token account: the associated token account of `vault_account` for the mint.
pub const fn vault_token_spec(name: &'static str, seeds: &'static [Seed]) -> AccountSpec {
    AccountSpec::new(name).writable().pda_of(seeds, ASSOCIATED_TOKEN_PROGRAM_ID)
}

pub const FROM_VAULT_ATA_SEEDS: &[Seed] = &[Seed::Account("from_vault"), Seed::Const(&TOKEN_PROGRAM_BYTES), Seed::Account("collateral_mint")];
pub const TO_VAULT_ATA_SEEDS: &[Seed] = &[Seed::Account("to_vault"), Seed::Const(&TOKEN_PROGRAM_BYTES), Seed::Account("collateral_mint")];

/// The accounts of `open_position` and `close_position`, in order.
pub const POSITION_ACCOUNTS: &[AccountSpec] = &[
    AccountSpec::new("owner").signer(),
    AccountSpec::new("config").pda(&[Seed::Const(crate::seeds::CONFIG)]),
    AccountSpec::new("margin_account").writable().pda(&[Seed::Const(crate::seeds::MARGIN), Seed::Account("owner")]),
    OWNER_VAULT,
    caller_lock_spec("caller_lock", CALLER_LOCK_SEEDS),
    VAULT_CPI_ACCOUNTS[0],
    VAULT_CPI_ACCOUNTS[1],
    VAULT_CPI_ACCOUNTS[2],
    VAULT_CPI_ACCOUNTS[3],
];

/// The vault-program accounts every CPI needs, in the order `VaultProgram::new` takes them.
pub const VAULT_CPI_ACCOUNTS: [AccountSpec; 4] = [
    AccountSpec::new("caller_authority").pda(&[Seed::Const(CALLER_AUTHORITY)]).docs("This program's signer for the vault program"),
    AccountSpec::new("vault_authority").address(VAULT_AUTHORITY_ADDRESS).docs("The vault program's configuration"),
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
