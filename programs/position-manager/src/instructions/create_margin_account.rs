//! `create_margin_account()`: the user's ledger of what this manager locked in their vault.

use collateral_vault_interface::{
    discriminator, layout,
    pod::PodU64,
    schema::{AccountSpec, InstructionSpec, Layout, Seed},
    system::create_pda_account,
};
use pinocchio::{
    cpi::{Seed as CpiSeed, Signer},
    AccountView, Address, ProgramResult,
};

use crate::{
    errors::ManagerError,
    seeds::MARGIN,
    state::{init, ManagerAccount, MarginAccount},
};

use super::common::{signer, vault_owner};

pub const NAME: &str = "create_margin_account";
pub const DISCRIMINATOR: [u8; 8] = discriminator::instruction(NAME);

layout! {
    pub struct CreateMarginAccountArgs {}
}

pub const ACCOUNTS: &[AccountSpec] = &[
    AccountSpec::new("owner").writable().signer(),
    AccountSpec::new("margin_account").writable().pda(&[Seed::Const(MARGIN), Seed::Account("owner")]),
    AccountSpec::new("vault")
        .pda_of(&[Seed::Const(collateral_vault_interface::seeds::VAULT), Seed::Account("owner")], collateral_vault_interface::ID)
        .docs("The owner's CollateralVault (vault program PDA)"),
    AccountSpec::new("system_program").address(pinocchio_system::ID),
];

pub const SPEC: InstructionSpec = InstructionSpec {
    name: NAME,
    docs: "Creates the signer's margin account, bound to their vault.",
    discriminator: DISCRIMINATOR,
    accounts: ACCOUNTS,
    args: CreateMarginAccountArgs::FIELDS,
};

struct CreateMarginAccount<'a> {
    owner: &'a AccountView,
    margin: &'a AccountView,
    vault: &'a AccountView,
    bump: u8,
}

fn validate<'a>(program_id: &Address, accounts: &'a mut [AccountView], data: &[u8]) -> Result<CreateMarginAccount<'a>, ManagerError> {
    let [owner, margin, vault, system_program, ..] = accounts else {
        return Err(ManagerError::NotEnoughAccounts);
    };
    CreateMarginAccountArgs::from_bytes(data).ok_or(ManagerError::InvalidInstructionData)?;
    signer(owner)?;
    if !margin.owned_by(&pinocchio_system::ID) || !margin.is_data_empty() {
        return Err(ManagerError::AlreadyInitialized);
    }
    let (expected, bump) = Address::find_program_address(&[MARGIN, owner.address().as_ref()], program_id);
    if margin.address() != &expected || system_program.address() != &pinocchio_system::ID {
        return Err(ManagerError::InvalidAccount);
    }
    if vault_owner(vault)? != *owner.address() {
        return Err(ManagerError::NotOwner);
    }
    Ok(CreateMarginAccount { owner, margin, vault, bump })
}

pub fn process(program_id: &Address, accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let ix = validate(program_id, accounts, data)?;
    let bump = [ix.bump];
    let seeds = [CpiSeed::from(MARGIN), CpiSeed::from(ix.owner.address().as_ref()), CpiSeed::from(&bump)];
    create_pda_account(ix.owner, ix.margin, MarginAccount::SPACE, program_id, &Signer::from(&seeds))?;
    let state = MarginAccount { owner: *ix.owner.address(), vault: *ix.vault.address(), locked: PodU64::new(0), position_size: PodU64::new(0), bump: ix.bump };
    // SAFETY: just created with SPACE bytes.
    unsafe { init(ix.margin, &state) };
    Ok(())
}
