"""The published IDLs and the deployed binaries agree. Discriminators are recomputed here from
first principles, account sizes are derived from the IDL's types and compared with real
accounts the program created, and anchorpy (built from the IDL) drives every other test."""

import hashlib

import pytest

from .svm import PM_ID, PM_IDL_DOC, VAULT, VAULT_AUTHORITY, VAULT_IDL_DOC, new_user

PRIMITIVE_SIZES = {"u8": 1, "bool": 1, "u64": 8, "i64": 8, "pubkey": 32}
EVENT_IX_TAG = bytes.fromhex("e445a52e51cb9a1d")


def sha8(preimage: str) -> list[int]:
    return list(hashlib.sha256(preimage.encode()).digest()[:8])


def borsh_size(doc: dict, ty) -> int:
    if isinstance(ty, str):
        return PRIMITIVE_SIZES[ty]
    if "array" in ty:
        inner, length = ty["array"]
        return borsh_size(doc, inner) * length
    name = ty["defined"]["name"]
    definition = next(t for t in doc["types"] if t["name"] == name)["type"]
    if definition["kind"] == "enum":
        return 1
    return sum(borsh_size(doc, field["type"]) for field in definition["fields"])


@pytest.mark.parametrize("doc", [VAULT_IDL_DOC, PM_IDL_DOC], ids=["vault", "position_manager"])
def test_discriminators_follow_anchor(doc):
    for ix in doc["instructions"]:
        assert ix["discriminator"] == sha8(f"global:{ix['name']}"), ix["name"]
    for account in doc["accounts"]:
        assert account["discriminator"] == sha8(f"account:{account['name']}")
    for event in doc["events"]:
        assert event["discriminator"] == sha8(f"event:{event['name']}")
    codes = [e["code"] for e in doc["errors"]]
    assert codes == list(range(6000, 6000 + len(codes)))


def test_idl_account_sizes_match_accounts_the_program_created(chain, alice):
    sizes = {a["name"]: 8 + borsh_size(VAULT_IDL_DOC, {"defined": {"name": a["name"]}}) for a in VAULT_IDL_DOC["accounts"]}
    assert len(chain.account(alice.vault).data) == sizes["CollateralVault"]
    assert len(chain.account(VAULT_AUTHORITY).data) == sizes["VaultAuthority"]
    pm_sizes = {a["name"]: 8 + borsh_size(PM_IDL_DOC, {"defined": {"name": a["name"]}}) for a in PM_IDL_DOC["accounts"]}
    assert len(chain.account(alice.margin).data) == pm_sizes["MarginAccount"]


def test_idl_event_layouts_match_emitted_bytes(chain, alice):
    outcome = chain.ok([alice.deposit_ix(5)], alice.keypair)
    keys = outcome.message.account_keys
    payloads = [
        bytes(inner.instruction().data)
        for group in outcome.meta.inner_instructions()
        for inner in group
        if keys[inner.instruction().program_id_index] == VAULT.program_id and bytes(inner.instruction().data).startswith(EVENT_IX_TAG)
    ]
    deposit = next(t for t in VAULT_IDL_DOC["types"] if t["name"] == "DepositEvent")
    assert len(payloads) == 1
    assert len(payloads[0]) == 8 + 8 + sum(borsh_size(VAULT_IDL_DOC, f["type"]) for f in deposit["type"]["fields"])


def test_seed_account_fields_are_kept_exactly():
    fields = [f["name"] for f in next(t for t in VAULT_IDL_DOC["types"] if t["name"] == "CollateralVault")["type"]["fields"]]
    seeds_fields = [
        "owner", "token_account", "total_balance", "locked_balance", "available_balance",
        "total_deposited", "total_withdrawn", "created_at", "bump",
    ]
    assert fields[: len(seeds_fields)] == seeds_fields


def test_accounts_decode_through_the_idl_coder(chain, alice):
    chain.ok([alice.deposit_ix(42), alice.open_position_ix(2)], alice.keypair)
    record = VAULT.coder.accounts.decode(bytes(chain.account(alice.caller_lock()).data))
    assert (record.vault, record.caller_program, record.locked, record.cap) == (alice.vault, PM_ID, 2, 2**64 - 1)
    assert len(chain.account(alice.caller_lock()).data) == 8 + borsh_size(VAULT_IDL_DOC, {"defined": {"name": "CallerLock"}})
    vault = VAULT.coder.accounts.decode(bytes(chain.account(alice.vault).data))
    assert (vault.total_balance, vault.locked_balance, vault.available_balance) == (42, 2, 40)
    authority = VAULT.coder.accounts.decode(bytes(chain.account(VAULT_AUTHORITY).data))
    assert authority.authorized_programs[0].program_id == PM_ID


def test_every_instruction_in_the_idl_is_exercised_by_the_suite():
    # A guard against an instruction added to the program and IDL without tests: each name must
    # appear in the test modules.
    from pathlib import Path

    sources = "".join(p.read_text() for p in Path(__file__).parent.glob("*.py"))
    # CPI-only instructions are reached through the position manager's instructions.
    reached_through = {"lock_collateral": "open_position", "unlock_collateral": "close_position", "transfer_collateral": "liquidate"}
    for doc in (VAULT_IDL_DOC, PM_IDL_DOC):
        for ix in doc["instructions"]:
            name = reached_through.get(ix["name"], ix["name"])
            assert f'"{name}"' in sources or f"{name}_ix" in sources, ix["name"]


def test_errors_carry_messages(chain):
    user = new_user(chain, open_vault=True)
    outcome = chain.send([user.withdraw_ix(1)], user.keypair)
    code = outcome.custom_error
    error = next(e for e in VAULT_IDL_DOC["errors"] if e["code"] == code)
    assert error["name"] == "InsufficientAvailableBalance" and error["msg"]
