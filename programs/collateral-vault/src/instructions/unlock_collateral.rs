//! `unlock_collateral(amount)`: an authorized program releases collateral it locked. Never
//! paused, so positions can always be closed.

use pinocchio::{AccountView, Address, ProgramResult};

use crate::{
    discriminator,
    errors::VaultError,
    events::{self, UnlockEvent},
    guards, layout,
    pod::{PodI64, PodU64},
    runtime,
    schema::{AccountSpec, InstructionSpec, Layout, Seed},
    seeds::{CALLER_AUTHORITY, EVENT_AUTHORITY_ADDRESS, VAULT_AUTHORITY, VAULT_AUTHORITY_ADDRESS},
    state::{account_data_mut, CollateralVault},
    ID,
};

use super::caller::authorized_caller;

pub const NAME: &str = "unlock_collateral";
pub const DISCRIMINATOR: [u8; 8] = discriminator::instruction(NAME);

layout! {
    pub struct UnlockCollateralArgs {
        pub amount: PodU64,
    }
}

pub const ACCOUNTS: &[AccountSpec] = &[
    AccountSpec::new("caller_authority").signer().pda(&[Seed::Const(CALLER_AUTHORITY)]).docs("The calling program's [b\"vault_caller\"] PDA"),
    AccountSpec::new("vault_authority").address(VAULT_AUTHORITY_ADDRESS).pda(&[Seed::Const(VAULT_AUTHORITY)]),
    AccountSpec::new("vault").writable(),
    AccountSpec::new("event_authority").address(EVENT_AUTHORITY_ADDRESS),
    AccountSpec::new("program").address(ID),
];

pub const SPEC: InstructionSpec = InstructionSpec {
    name: NAME,
    docs: "Moves locked collateral back to available (authorized programs only, by CPI).",
    discriminator: DISCRIMINATOR,
    accounts: ACCOUNTS,
    args: UnlockCollateralArgs::FIELDS,
};

struct UnlockCollateral<'a> {
    vault: &'a AccountView,
    event_authority: &'a AccountView,
    caller_program: Address,
    amount: u64,
}

fn validate<'a>(accounts: &'a mut [AccountView], data: &[u8]) -> Result<UnlockCollateral<'a>, pinocchio::error::ProgramError> {
    let [caller_authority, vault_authority, vault, event_authority, program, ..] = accounts else {
        return Err(VaultError::NotEnoughAccounts.into());
    };
    let args = UnlockCollateralArgs::from_bytes(data).ok_or(VaultError::InvalidInstructionData)?;
    let authority = guards::authority(vault_authority)?;
    let caller_program = authorized_caller(caller_authority, authority)?;
    guards::vault(vault)?;
    events::check_event_accounts(event_authority, program)?;
    Ok(UnlockCollateral { vault, event_authority, caller_program, amount: args.amount.get() })
}

pub fn process(accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let ix = validate(accounts, data)?;
    // SAFETY: type checked in `validate`; no other reference exists.
    let vault = unsafe { account_data_mut::<CollateralVault>(ix.vault) };
    vault.unlock(ix.amount)?;
    let seq = vault.next_event_seq()?;
    let event = UnlockEvent {
        owner: vault.owner,
        vault: *ix.vault.address(),
        caller_program: ix.caller_program,
        amount: PodU64::new(ix.amount),
        total_balance: vault.total_balance,
        locked_balance: vault.locked_balance,
        available_balance: vault.available_balance,
        seq: PodU64::new(seq),
        timestamp: PodI64::new(runtime::unix_timestamp()?),
    };
    events::emit(&event, ix.event_authority)
}
