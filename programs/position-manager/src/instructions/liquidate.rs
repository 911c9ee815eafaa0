//! `liquidate(amount)`: the keeper seizes collateral this manager locked for a user, moving it
//! into the keeper's own vault by CPI `transfer_collateral`, and closes the user's position. The
//! vault lets it move only what this manager itself locked.

use collateral_vault_interface::{
    discriminator,
    schema::{AccountSpec, InstructionSpec, Layout, Seed},
    seeds::VAULT,
    token::TOKEN_PROGRAM_ID,
};
use pinocchio::{AccountView, Address, ProgramResult};

use crate::{errors::ManagerError, seeds::CONFIG, state::MarginAccount, vault_cpi::VaultProgram};

use super::common::{
    self, caller_lock_spec, signer, vault_owner, vault_token_spec, AmountArgs, FROM_CALLER_LOCK_SEEDS, FROM_VAULT_ATA_SEEDS,
    TO_VAULT_ATA_SEEDS, VAULT_CPI_ACCOUNTS,
};

pub const NAME: &str = "liquidate";
pub const DISCRIMINATOR: [u8; 8] = discriminator::instruction(NAME);

pub const ACCOUNTS: &[AccountSpec] = &[
    AccountSpec::new("keeper").signer(),
    AccountSpec::new("config").pda(&[Seed::Const(CONFIG)]),
    AccountSpec::new("margin_account").writable().docs("The liquidated user's margin account"),
    AccountSpec::new("from_vault")
        .writable()
        .pda_of(&[Seed::Const(VAULT), Seed::AccountField("margin_account.owner", "MarginAccount")], collateral_vault_interface::ID)
        .docs("The liquidated user's vault"),
    caller_lock_spec("from_caller_lock", FROM_CALLER_LOCK_SEEDS),
    vault_token_spec("from_vault_token_account", FROM_VAULT_ATA_SEEDS),
    AccountSpec::new("to_vault")
        .writable()
        .pda_of(&[Seed::Const(VAULT), Seed::Account("keeper")], collateral_vault_interface::ID)
        .docs("The keeper's vault"),
    vault_token_spec("to_vault_token_account", TO_VAULT_ATA_SEEDS),
    AccountSpec::new("collateral_mint").docs("The vault program's collateral mint"),
    AccountSpec::new("token_program").address(TOKEN_PROGRAM_ID),
    VAULT_CPI_ACCOUNTS[0],
    VAULT_CPI_ACCOUNTS[1],
    VAULT_CPI_ACCOUNTS[2],
    VAULT_CPI_ACCOUNTS[3],
];

pub const SPEC: InstructionSpec = InstructionSpec {
    name: NAME,
    docs: "Moves locked collateral of a user into the keeper's vault (keeper only; CPI transfer_collateral).",
    discriminator: DISCRIMINATOR,
    accounts: ACCOUNTS,
    args: AmountArgs::FIELDS,
};

struct Liquidate<'a> {
    margin: &'a mut MarginAccount,
    transfer_accounts: [&'a AccountView; 7],
    vault_program: VaultProgram<'a>,
    amount: u64,
}

fn validate<'a>(program_id: &Address, accounts: &'a mut [AccountView], data: &[u8]) -> Result<Liquidate<'a>, ManagerError> {
    let [keeper, config, margin, from_vault, from_lock, from_token, to_vault, to_token, mint, token_program, caller_authority, vault_authority, event_authority, vault_program, ..] =
        accounts
    else {
        return Err(ManagerError::NotEnoughAccounts);
    };
    let args = AmountArgs::from_bytes(data).ok_or(ManagerError::InvalidInstructionData)?;
    signer(keeper)?;
    let config = common::config(config, program_id)?;
    if config.keeper != *keeper.address() {
        return Err(ManagerError::NotKeeper);
    }
    let margin = common::margin(margin, program_id)?;
    if margin.vault != *from_vault.address() {
        return Err(ManagerError::InvalidAccount);
    }
    if vault_owner(to_vault)? != config.keeper {
        return Err(ManagerError::InvalidDestination);
    }
    let vault_program = VaultProgram::new(
        [caller_authority, vault_authority, event_authority, vault_program],
        config.caller_authority_bump,
    )?;
    Ok(Liquidate {
        margin,
        transfer_accounts: [from_vault, from_lock, from_token, to_vault, to_token, mint, token_program],
        vault_program,
        amount: args.amount.get(),
    })
}

pub fn process(program_id: &Address, accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let ix = validate(program_id, accounts, data)?;
    ix.margin.liquidate(ix.amount)?;
    ix.vault_program.transfer(ix.transfer_accounts, ix.amount)
}
