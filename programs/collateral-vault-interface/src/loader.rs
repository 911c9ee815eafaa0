//! Who deployed a program: the check behind every "only the deployer may initialize" gate
//! (the vault's `initialize_authority`, the position manager's `initialize`), so nobody can
//! front-run a fresh deployment.
//!
//! - Upgradeable loader (v3, mainnet's default): the signer must be the upgrade authority in the
//!   program's ProgramData account, which the program account points to.
//! - Loader v4: the program account itself records the authority; the program must be deployed
//!   (not retracted) and not finalized, and the signer must be that authority.
//! - BPF Loader 2 (immutable, no authority recorded anywhere): nothing to check; the deployer
//!   must deploy and initialize in one go (documented).
//! - Any other owner (the deprecated loader v1, or an unknown one) is refused.

use pinocchio::{AccountView, Address};

pub const BPF_LOADER_UPGRADEABLE: Address = Address::from_str_const("BPFLoaderUpgradeab1e11111111111111111111111");
pub const BPF_LOADER_2: Address = Address::from_str_const("BPFLoader2111111111111111111111111111111111");
pub const LOADER_V4: Address = Address::from_str_const("LoaderV411111111111111111111111111111111111");

/// Loader v4's program header: `slot: u64, authority_address_or_next_version: [u8; 32],
/// status: u64` (0 retracted, 1 deployed, 2 finalized), then the ELF.
const V4_HEADER_LEN: usize = 48;
const V4_STATUS_DEPLOYED: u8 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeployerCheck {
    /// The signer deployed the program (or the program is immutable under loader v2).
    Ok,
    /// Upgradeable or v4, and the signer is not its authority (or it has none any more).
    NotUpgradeAuthority,
    /// Deployed by a loader we do not recognize.
    UnsupportedLoader,
}

/// Checks that `signer` may initialize `program` (the running program's own account).
/// `program_data` is the ProgramData account for loader v3 and ignored otherwise.
pub fn check_deployer(program: &AccountView, program_data: &AccountView, signer: &Address) -> DeployerCheck {
    // SAFETY: read-only views of loader-owned accounts that nothing in this program borrows.
    let program_bytes = unsafe { program.borrow_unchecked() };
    if program.owned_by(&BPF_LOADER_UPGRADEABLE) {
        let data_bytes = unsafe { program_data.borrow_unchecked() };
        return upgradeable(program_bytes, program_data.address(), program_data.owned_by(&BPF_LOADER_UPGRADEABLE), data_bytes, signer);
    }
    if program.owned_by(&LOADER_V4) {
        return v4(program_bytes, signer);
    }
    if program.owned_by(&BPF_LOADER_2) {
        return DeployerCheck::Ok;
    }
    DeployerCheck::UnsupportedLoader
}

fn upgradeable(program: &[u8], program_data_address: &Address, program_data_is_loader_owned: bool, program_data: &[u8], signer: &Address) -> DeployerCheck {
    // Program account: enum tag 2 (`Program`) then the ProgramData address.
    let points_to_program_data = program.len() >= 36 && program[..4] == [2, 0, 0, 0] && program[4..36] == *program_data_address.as_ref();
    // ProgramData: tag 3, slot (8 bytes), `Option<Pubkey>` upgrade authority.
    let signed_by_upgrade_authority = program_data_is_loader_owned
        && program_data.len() >= 45
        && program_data[..4] == [3, 0, 0, 0]
        && program_data[12] == 1
        && program_data[13..45] == *signer.as_ref();
    if points_to_program_data && signed_by_upgrade_authority {
        DeployerCheck::Ok
    } else {
        DeployerCheck::NotUpgradeAuthority
    }
}

fn v4(program: &[u8], signer: &Address) -> DeployerCheck {
    // A finalized program's field is the next version, not an authority: nobody may initialize.
    let deployed = program.len() >= V4_HEADER_LEN && program[40] == V4_STATUS_DEPLOYED && program[41..48] == [0; 7];
    if deployed && program[8..40] == *signer.as_ref() {
        DeployerCheck::Ok
    } else {
        DeployerCheck::NotUpgradeAuthority
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pinocchio::account::RuntimeAccount;
    use std::{boxed::Box, vec, vec::Vec};

    /// An `AccountView` over a runtime-layout buffer (header, then data), as the entrypoint
    /// would hand it over. The buffer is leaked: tests only.
    fn account(address: Address, owner: Address, data: &[u8]) -> AccountView {
        let header = core::mem::size_of::<RuntimeAccount>();
        let words = (header + data.len()).div_ceil(8);
        let buffer: &mut [u64] = Box::leak(vec![0u64; words].into_boxed_slice());
        let raw = buffer.as_mut_ptr() as *mut RuntimeAccount;
        // SAFETY: the buffer is 8-aligned and large enough for the header and the data.
        unsafe {
            (*raw).borrow_state = 255;
            (*raw).address = address;
            (*raw).owner = owner;
            (*raw).data_len = data.len() as u64;
            core::ptr::copy_nonoverlapping(data.as_ptr(), (raw as *mut u8).add(header), data.len());
            AccountView::new_unchecked(raw)
        }
    }

    #[test]
    fn check_deployer_follows_the_program_accounts_loader() {
        let (program_id, data_address, deployer) = (key(7), key(9), key(1));
        let mut pointer = Vec::from([2u8, 0, 0, 0]);
        pointer.extend_from_slice(data_address.as_ref());
        let mut program_data = Vec::from([3u8, 0, 0, 0]);
        program_data.extend_from_slice(&[0; 8]);
        program_data.push(1);
        program_data.extend_from_slice(deployer.as_ref());
        let data_account = account(data_address, BPF_LOADER_UPGRADEABLE, &program_data);

        let v3 = account(program_id, BPF_LOADER_UPGRADEABLE, &pointer);
        assert_eq!(check_deployer(&v3, &data_account, &deployer), DeployerCheck::Ok);
        assert_eq!(check_deployer(&v3, &data_account, &key(2)), DeployerCheck::NotUpgradeAuthority);

        let v4 = account(program_id, LOADER_V4, &v4_header(&deployer, 1));
        // Loader v4 ignores the program-data account: any account may be passed.
        assert_eq!(check_deployer(&v4, &v4, &deployer), DeployerCheck::Ok);
        assert_eq!(check_deployer(&v4, &data_account, &key(2)), DeployerCheck::NotUpgradeAuthority);

        let v2 = account(program_id, BPF_LOADER_2, b"\x7fELF");
        assert_eq!(check_deployer(&v2, &v2, &key(2)), DeployerCheck::Ok);

        let deprecated_v1 = Address::from_str_const("BPFLoader1111111111111111111111111111111111");
        for owner in [deprecated_v1, key(3)] {
            let other = account(program_id, owner, b"\x7fELF");
            assert_eq!(check_deployer(&other, &data_account, &deployer), DeployerCheck::UnsupportedLoader);
        }
    }

    fn key(n: u8) -> Address {
        Address::new_from_array([n; 32])
    }

    fn v4_header(authority: &Address, status: u8) -> Vec<u8> {
        let mut data = Vec::new();
        data.extend_from_slice(&7u64.to_le_bytes());
        data.extend_from_slice(authority.as_ref());
        data.extend_from_slice(&(status as u64).to_le_bytes());
        data.extend_from_slice(b"\x7fELF");
        data
    }

    #[test]
    fn v4_requires_the_authority_of_a_deployed_program() {
        assert_eq!(v4(&v4_header(&key(1), 1), &key(1)), DeployerCheck::Ok);
        assert_eq!(v4(&v4_header(&key(1), 1), &key(2)), DeployerCheck::NotUpgradeAuthority);
        // Retracted or finalized: refused even for the recorded key.
        assert_eq!(v4(&v4_header(&key(1), 0), &key(1)), DeployerCheck::NotUpgradeAuthority);
        assert_eq!(v4(&v4_header(&key(1), 2), &key(1)), DeployerCheck::NotUpgradeAuthority);
        assert_eq!(v4(&[0; 20], &key(1)), DeployerCheck::NotUpgradeAuthority);
    }

    #[test]
    fn upgradeable_requires_the_pointed_program_data_and_its_authority() {
        let data_address = key(9);
        let mut program = Vec::from([2u8, 0, 0, 0]);
        program.extend_from_slice(data_address.as_ref());
        let mut program_data = Vec::from([3u8, 0, 0, 0]);
        program_data.extend_from_slice(&[0; 8]);
        program_data.push(1);
        program_data.extend_from_slice(key(1).as_ref());
        assert_eq!(upgradeable(&program, &data_address, true, &program_data, &key(1)), DeployerCheck::Ok);
        assert_eq!(upgradeable(&program, &data_address, true, &program_data, &key(2)), DeployerCheck::NotUpgradeAuthority);
        assert_eq!(upgradeable(&program, &key(8), true, &program_data, &key(1)), DeployerCheck::NotUpgradeAuthority);
        assert_eq!(upgradeable(&program, &data_address, false, &program_data, &key(1)), DeployerCheck::NotUpgradeAuthority);
        program_data[12] = 0; // upgrade authority removed: immutable from now on
        assert_eq!(upgradeable(&program, &data_address, true, &program_data, &key(1)), DeployerCheck::NotUpgradeAuthority);
    }
}
