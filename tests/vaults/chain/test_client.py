import json
from pathlib import Path

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from vaults.chain.client import ChainClient, ChainUnavailable, b58decode, parse_pubkey

IDL = json.loads((Path(__file__).resolve().parents[3] / "idl" / "collateral_vault.json").read_text())


def fixed_address(instruction, account):
    spec = next(i for i in IDL["instructions"] if i["name"] == instruction)
    return next(a["address"] for a in spec["accounts"] if a["name"] == account)


@pytest.fixture
def offline_client(settings):
    return ChainClient(rpc_url="http://127.0.0.1:9", program_id=settings.PROGRAM_ID, usdt_mint=settings.USDT_MINT,
                       timeout=2, position_manager_id=settings.POSITION_MANAGER_PROGRAM_ID)


def test_pdas_match_the_idl(offline_client):
    assert str(offline_client.vault_authority_address()) == fixed_address("deposit", "vault_authority")
    assert str(offline_client.event_authority_address()) == fixed_address("deposit", "event_authority")
    owner = Keypair().pubkey()
    expected = Pubkey.find_program_address([b"vault", bytes(owner)], offline_client.program_id)[0]
    assert offline_client.vault_address(owner) == expected


def test_instructions_follow_the_idl_account_order(offline_client):
    owner = Keypair().pubkey()
    ix = offline_client.deposit_instruction(owner, 5, offline_client.associated_token_address(owner))
    spec = next(i for i in IDL["instructions"] if i["name"] == "deposit")
    assert bytes(ix.data) == bytes(spec["discriminator"]) + (5).to_bytes(8, "little")
    assert [(m.is_signer, m.is_writable) for m in ix.accounts] == [
        (a.get("signer", False), a.get("writable", False)) for a in spec["accounts"]]
    assert ix.accounts[2].pubkey == offline_client.vault_address(owner)
    assert ix.accounts[3].pubkey == offline_client.vault_token_address(owner)


def test_parse_pubkey_is_strict():
    # A fixed 44-character key: one more base58 digit multiplies it by 58, past 2**256, so it can
    # never decode to 32 bytes (a random key might encode in 43 characters, where it can).
    key = Pubkey.from_string("7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU")
    assert parse_pubkey(str(key)) == key
    assert parse_pubkey(str(Keypair().pubkey())) is not None
    for bad in ["", "abc", "0" * 44, "l" * 44, 5, None, str(key) + "1"]:
        with pytest.raises(ValueError):
            parse_pubkey(bad)
    assert b58decode("11") == b"\0\0"


def test_program_errors_are_named_per_program(offline_client, settings):
    vault_logs = [f"Program {settings.PROGRAM_ID} failed: custom program error: 0x1775"]
    failure = offline_client.describe_error({"InstructionError": [1, {"Custom": 6021}]}, vault_logs)
    assert (failure.code, failure.name) == (6021, "InsufficientAvailableBalance")
    pm_logs = [f"Program {settings.POSITION_MANAGER_PROGRAM_ID} failed: custom program error: 0x1778",
               f"Program {settings.POSITION_MANAGER_PROGRAM_ID} failed: custom program error: 0x1778"]
    failure = offline_client.describe_error({"InstructionError": [2, {"Custom": 6008}]}, pm_logs)
    assert failure.name == "InsufficientMargin"
    assert offline_client.describe_error("BlockhashNotFound").name == "BlockhashNotFound"


def test_rpc_down_raises_chain_unavailable(offline_client):
    with pytest.raises(ChainUnavailable):
        offline_client.get_vault(Keypair().pubkey())
    assert offline_client.is_healthy() is False


# ---- monitoring additions (getMultipleAccounts in batches, program signatures, failed calls) ----


@pytest.mark.localnet
def test_get_multiple_accounts_reads_in_calls_of_100_in_order(localnet):
    from vaults.chain.client import TOKEN_PROGRAM_ID, get_chain_client

    chain = get_chain_client()
    mint, program = str(chain.usdt_mint), str(chain.program_id)
    missing = [str(Keypair().pubkey()) for _ in range(230)]
    # Known accounts at positions 0, 99, 100 and 229: both sides of each 100-address boundary.
    addresses = list(missing)
    addresses[0], addresses[99], addresses[100], addresses[229] = mint, program, mint, program
    reads = chain.get_multiple_accounts(addresses)
    assert len(reads) == 230
    present = {i: r for i, r in enumerate(reads) if r is not None}
    assert sorted(present) == [0, 99, 100, 229]
    assert present[0].owner == str(TOKEN_PROGRAM_ID) and present[0].address == mint
    assert present[99].address == program and present[229].address == program
    assert all(r.slot > 0 for r in present.values())


@pytest.mark.localnet
def test_program_signatures_and_failed_calls(localnet):
    from vaults.chain.client import get_chain_client

    chain = get_chain_client()
    entries = chain.list_program_signatures(limit=5)
    assert 0 < len(entries) <= 5 and entries == sorted(entries, key=lambda e: -e.slot)
    ok = next(e for e in chain.list_program_signatures(limit=1000) if not e.failed)
    assert chain.get_failed_vault_call(ok.signature) is None  # succeeded: nothing to report
    older = chain.list_program_signatures(before=entries[0].signature, limit=2)
    assert entries[0].signature not in {e.signature for e in older}


def test_fast_vault_decoder_agrees_with_the_idl_coder(offline_client):
    """decode_vault reads the fixed layout directly; anchorpy's coder (from the IDL) is the
    reference. Random field values, extremes included."""
    import random

    from vaults.chain.client import VAULT_ACCOUNT_DISCRIMINATOR, ChainError

    rng = random.Random(11)
    coder = offline_client.vault_program.coder.accounts
    u64 = lambda: rng.choice([0, 1, 2**64 - 1, rng.randrange(2**64)])  # noqa: E731
    for _ in range(200):
        fields = [u64() for _ in range(5)]
        data = (VAULT_ACCOUNT_DISCRIMINATOR + bytes(Keypair().pubkey()) + bytes(Keypair().pubkey())
                + b"".join(v.to_bytes(8, "little") for v in fields)
                + rng.randrange(-2**63, 2**63).to_bytes(8, "little", signed=True) + bytes([rng.randrange(256)])
                + b"".join(u64().to_bytes(8, "little") for _ in range(4)) + rng.randbytes(24))
        fast = offline_client.decode_vault("addr", data)
        reference = coder.decode(data)
        for name in ("total_balance", "locked_balance", "available_balance", "total_deposited", "total_withdrawn",
                     "created_at", "event_seq", "total_transferred_in", "total_transferred_out", "generation"):
            assert getattr(fast, name) == getattr(reference, name), name
        assert (fast.owner, fast.token_account) == (str(reference.owner), str(reference.token_account))
    with pytest.raises(ChainError):
        offline_client.decode_vault("addr", b"\0" * 8 + data[8:])  # another account type
    with pytest.raises(ChainError):
        offline_client.decode_vault("addr", data[:100])  # truncated
