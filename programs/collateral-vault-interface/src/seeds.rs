//! PDA seeds and the addresses derived from them. Singleton PDAs and their bumps are fixed at
//! compile time (a unit test re-derives them), so no instruction ever searches for a bump.

use pinocchio::Address;

use crate::ID;

/// `[b"vault", owner]`: one vault per user.
pub const VAULT: &[u8] = b"vault";
/// `[b"vault_authority"]`: the program's configuration singleton.
pub const VAULT_AUTHORITY: &[u8] = b"vault_authority";
/// `[b"__event_authority"]`: signs Anchor `emit_cpi!`-style self-invocations.
pub const EVENT_AUTHORITY: &[u8] = b"__event_authority";
/// `[b"vault_caller"]` under the *calling* program's id: the signer an authorized program
/// presents on lock, unlock and transfer (Anchor's `seeds::program` pattern).
pub const CALLER_AUTHORITY: &[u8] = b"vault_caller";
/// `[b"caller_lock", vault, program_id]`: the owner's approval of one program and what that
/// program holds locked in the vault.
pub const CALLER_LOCK: &[u8] = b"caller_lock";

pub const VAULT_AUTHORITY_BUMP: u8 = 255;
pub const VAULT_AUTHORITY_ADDRESS: Address =
    Address::derive_address_const(&[VAULT_AUTHORITY], Some(VAULT_AUTHORITY_BUMP), &ID);

pub const EVENT_AUTHORITY_BUMP: u8 = 255;
pub const EVENT_AUTHORITY_ADDRESS: Address =
    Address::derive_address_const(&[EVENT_AUTHORITY], Some(EVENT_AUTHORITY_BUMP), &ID);

/// The vault PDA of `owner` for a stored `bump` (one sha256, no curve check: the bump was found
/// by `find_program_address` when the vault was created).
#[inline(always)]
pub fn vault_address(owner: &Address, bump: u8) -> Address {
    Address::derive_address(&[VAULT, owner.as_ref()], Some(bump), &ID)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn singleton_bumps_are_canonical() {
        let (authority, bump) = Address::find_program_address(&[VAULT_AUTHORITY], &ID);
        assert_eq!((authority, bump), (VAULT_AUTHORITY_ADDRESS, VAULT_AUTHORITY_BUMP));
        let (events, bump) = Address::find_program_address(&[EVENT_AUTHORITY], &ID);
        assert_eq!((events, bump), (EVENT_AUTHORITY_ADDRESS, EVENT_AUTHORITY_BUMP));
    }

    #[test]
    fn vault_address_matches_find_program_address() {
        let owner = Address::new_from_array([7; 32]);
        let (expected, bump) = Address::find_program_address(&[VAULT, owner.as_ref()], &ID);
        assert_eq!(vault_address(&owner, bump), expected);
        assert_ne!(vault_address(&owner, bump.wrapping_sub(1)), expected);
    }
}
