//! Proof that an authorized program is calling: it signs with its `[b"vault_caller"]` PDA, which
//! only that program can produce by `invoke_signed`. A program account merely passed in proves
//! nothing, and a direct call cannot produce the signature.

use pinocchio::{error::ProgramError, AccountView, Address};

use crate::{
    errors::VaultError,
    events, guards,
    schema::{AccountSpec, Layout, Seed},
    seeds::{EVENT_AUTHORITY_ADDRESS, VAULT_AUTHORITY, VAULT_AUTHORITY_ADDRESS},
    state::VaultAuthority,
    ID,
};

use super::vault_ops::AmountArgs;

/// Returns the id of the allow-listed program whose caller PDA signed.
#[inline(always)]
pub fn authorized_caller(caller_authority: &AccountView, authority: &VaultAuthority) -> Result<Address, ProgramError> {
    if !caller_authority.is_signer() {
        return Err(VaultError::UnauthorizedCaller.into());
    }
    authority
        .program_for_caller(caller_authority.address())
        .copied()
        .ok_or_else(|| VaultError::UnauthorizedCaller.into())
}

/// The accounts of `lock_collateral` and `unlock_collateral`, in order. The caller's PDA and
/// its caller lock are derived from the *calling* program's id, which is not an account here, so
/// the IDL cannot declare their seeds; callers derive them (see the position manager's IDL).
pub const CALLER_OP_ACCOUNTS: &[AccountSpec] = &[
    AccountSpec::new("caller_authority").signer().docs("The calling program's [b\"vault_caller\"] PDA (derived under the calling program's id)"),
    AccountSpec::new("vault_authority").address(VAULT_AUTHORITY_ADDRESS).pda(&[Seed::Const(VAULT_AUTHORITY)]),
    AccountSpec::new("vault").writable(),
    AccountSpec::new("caller_lock").writable().docs("The calling program's CallerLock in this vault: [b\"caller_lock\", vault, calling program id] under this program"),
    AccountSpec::new("event_authority").address(EVENT_AUTHORITY_ADDRESS),
    AccountSpec::new("program").address(ID),
];

/// What `lock_collateral` and `unlock_collateral` validate alike:
/// `[caller_authority, vault_authority, vault, caller_lock, event_authority, program]`.
pub struct CallerOp<'a> {
    pub vault: &'a AccountView,
    pub caller_lock: &'a AccountView,
    pub event_authority: &'a AccountView,
    pub caller_program: Address,
    pub amount: u64,
}

#[inline(always)]
pub fn validate_caller_op<'a>(
    accounts: &'a mut [AccountView],
    data: &[u8],
    gate: fn(&VaultAuthority) -> Result<(), VaultError>,
) -> Result<CallerOp<'a>, ProgramError> {
    let [caller_authority, vault_authority, vault, caller_lock, event_authority, program, ..] = accounts else {
        return Err(VaultError::NotEnoughAccounts.into());
    };
    let args = AmountArgs::from_bytes(data).ok_or(VaultError::InvalidInstructionData)?;
    let authority = guards::authority(vault_authority)?;
    let caller_program = authorized_caller(caller_authority, authority)?;
    gate(authority)?;
    guards::vault(vault)?;
    guards::caller_lock(caller_lock, vault.address(), &caller_program)?;
    events::check_event_accounts(event_authority, program)?;
    Ok(CallerOp { vault, caller_lock, event_authority, caller_program, amount: args.amount.get() })
}
