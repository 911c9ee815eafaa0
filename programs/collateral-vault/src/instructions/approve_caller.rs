//! `approve_caller(program_id, cap)`: the vault owner consents to `program_id` locking their
//! collateral, up to `cap` held locked at once (none: no cap). Creates the program's
//! `CallerLock` in this vault (the owner pays its rent, returned on revoke) or changes the cap
//! of an existing one. Without it no program can lock anything in the vault.

use pinocchio::{
    cpi::{Seed as CpiSeed, Signer},
    AccountView, Address, ProgramResult,
};

use crate::{
    discriminator,
    errors::VaultError,
    events::{self, CallerApprovedEvent},
    guards,
    pod::{PodI64, PodU64},
    runtime,
    schema::{AccountSpec, FieldSpec, InstructionSpec, Seed, Ty},
    seeds::{CALLER_LOCK, EVENT_AUTHORITY_ADDRESS, VAULT, VAULT_AUTHORITY, VAULT_AUTHORITY_ADDRESS},
    state::{account_data_mut, check_account_type, init_account, AccountType, CallerLock, NO_CAP},
    system, ID,
};

pub const NAME: &str = "approve_caller";
pub const DISCRIMINATOR: [u8; 8] = discriminator::instruction(NAME);

/// `program_id: pubkey, cap: Option<u64>` (borsh: the option is one tag byte, then the value).
pub const ARGS: &[FieldSpec] = &[
    FieldSpec { name: "program_id", ty: Ty::Pubkey },
    FieldSpec { name: "cap", ty: Ty::Option(&Ty::U64) },
];

pub const CALLER_LOCK_SEEDS: &[Seed] = &[Seed::Const(CALLER_LOCK), Seed::Account("vault"), Seed::Arg("program_id")];

pub const ACCOUNTS: &[AccountSpec] = &[
    AccountSpec::new("owner").writable().signer().docs("The vault owner; pays the record's rent"),
    AccountSpec::new("vault_authority").address(VAULT_AUTHORITY_ADDRESS).pda(&[Seed::Const(VAULT_AUTHORITY)]),
    AccountSpec::new("vault").pda(&[Seed::Const(VAULT), Seed::Account("owner")]),
    AccountSpec::new("caller_lock").writable().pda(CALLER_LOCK_SEEDS),
    AccountSpec::new("system_program").address(pinocchio_system::ID),
    AccountSpec::new("event_authority").address(EVENT_AUTHORITY_ADDRESS),
    AccountSpec::new("program").address(ID),
];

pub const SPEC: InstructionSpec = InstructionSpec {
    name: NAME,
    docs: "Approves an authorized program to lock collateral in the signer's vault, up to an optional cap (owner only).",
    discriminator: DISCRIMINATOR,
    accounts: ACCOUNTS,
    args: ARGS,
};

/// Parses `pubkey ++ option<u64>` exactly (no trailing bytes).
pub fn parse_args(data: &[u8]) -> Result<(Address, u64), VaultError> {
    let (program_id, rest) = data.split_first_chunk::<32>().ok_or(VaultError::InvalidInstructionData)?;
    let cap = match rest {
        [0] => NO_CAP,
        [1, value @ ..] if value.len() == 8 => {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(value);
            u64::from_le_bytes(bytes)
        }
        _ => return Err(VaultError::InvalidInstructionData),
    };
    // Revoking is its own instruction; a zero cap here would be a revoke in disguise.
    if cap == 0 {
        return Err(VaultError::ZeroAmount);
    }
    Ok((Address::new_from_array(*program_id), cap))
}

struct ApproveCaller<'a> {
    owner: &'a AccountView,
    vault: &'a AccountView,
    caller_lock: &'a AccountView,
    event_authority: &'a AccountView,
    program_id: Address,
    cap: u64,
    /// `Some(bump)` when the record must be created.
    create_bump: Option<u8>,
}

fn validate<'a>(accounts: &'a mut [AccountView], data: &[u8]) -> Result<ApproveCaller<'a>, pinocchio::error::ProgramError> {
    let [owner, vault_authority, vault, caller_lock, system_program, event_authority, program, ..] = accounts else {
        return Err(VaultError::NotEnoughAccounts.into());
    };
    let (program_id, cap) = parse_args(data)?;
    guards::signer(owner)?;
    guards::writable(owner)?;
    let authority = guards::authority(vault_authority)?;
    // Approving a program that cannot call us would be a typo, not consent.
    if !authority.is_authorized(&program_id) {
        return Err(VaultError::ProgramNotAuthorized.into());
    }
    check_account_type::<crate::state::CollateralVault>(vault)?;
    // SAFETY: type checked above.
    let state = unsafe { crate::state::account_data::<crate::state::CollateralVault>(vault) };
    if state.owner != *owner.address() {
        return Err(VaultError::NotVaultOwner.into());
    }
    guards::writable(caller_lock)?;
    guards::address(system_program, &pinocchio_system::ID, VaultError::InvalidSystemProgram)?;
    events::check_event_accounts(event_authority, program)?;
    let create_bump = if caller_lock.owned_by(&pinocchio_system::ID) {
        guards::uninitialized(caller_lock)?;
        let (expected, bump) = Address::find_program_address(&[CALLER_LOCK, vault.address().as_ref(), program_id.as_ref()], &ID);
        guards::address(caller_lock, &expected, VaultError::InvalidCallerLock)?;
        Some(bump)
    } else {
        guards::caller_lock(caller_lock, vault.address(), &program_id)?;
        None
    };
    Ok(ApproveCaller { owner, vault, caller_lock, event_authority, program_id, cap, create_bump })
}

pub fn process(accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let ix = validate(accounts, data)?;
    let vault_address = *ix.vault.address();
    match ix.create_bump {
        Some(bump) => {
            let bump_seed = [bump];
            let seeds = [
                CpiSeed::from(CALLER_LOCK),
                CpiSeed::from(vault_address.as_ref()),
                CpiSeed::from(ix.program_id.as_ref()),
                CpiSeed::from(&bump_seed),
            ];
            system::create_pda_account(ix.owner, ix.caller_lock, CallerLock::SPACE, &ID, &Signer::from(&seeds))?;
            // SAFETY: just created with SPACE bytes, owned by us; nothing else borrows it.
            unsafe { init_account(ix.caller_lock, &CallerLock::new(vault_address, ix.program_id, ix.cap, bump)) };
        }
        None => {
            // SAFETY: type checked in `validate`; nothing else borrows it.
            let record = unsafe { account_data_mut::<CallerLock>(ix.caller_lock) };
            record.cap = PodU64::new(ix.cap);
        }
    }
    let event = CallerApprovedEvent {
        owner: *ix.owner.address(),
        vault: vault_address,
        caller_program: ix.program_id,
        cap: PodU64::new(ix.cap),
        timestamp: PodI64::new(runtime::unix_timestamp()?),
    };
    events::emit(&event, ix.event_authority)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_are_a_pubkey_and_a_borsh_option() {
        let key = [3u8; 32];
        let mut none = key.to_vec();
        none.push(0);
        assert_eq!(parse_args(&none), Ok((Address::new_from_array(key), NO_CAP)));
        let mut some = key.to_vec();
        some.push(1);
        some.extend_from_slice(&500u64.to_le_bytes());
        assert_eq!(parse_args(&some), Ok((Address::new_from_array(key), 500)));
        let mut zero = key.to_vec();
        zero.push(1);
        zero.extend_from_slice(&0u64.to_le_bytes());
        assert_eq!(parse_args(&zero), Err(VaultError::ZeroAmount));
        for bad in [&key[..31], &key[..], &[&key[..], &[2]].concat()[..], &[&some[..], &[0]].concat()[..]] {
            assert_eq!(parse_args(bad), Err(VaultError::InvalidInstructionData));
        }
    }
}
