"""The mapping from decoded program events to stream messages: every sequence number of a vault
is announced, a transfer to both sides, balances from the event's own post-state."""
from monitoring.indexer.events import balance_messages, stream_messages, vault_sides
from vaults.chain.client import ProgramEvent

ALICE, ALICE_VAULT = "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU", "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"
BOB, BOB_VAULT = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB"


def messages(name, fields):
    return stream_messages(ProgramEvent(0, name, fields), signature="sig", slot=7, timestamp=1699123456)


def test_vault_lifecycle_events_are_announced_with_their_sequence_numbers():
    opened = messages("VaultInitializedEvent", {"owner": ALICE, "vault": ALICE_VAULT, "token_account": BOB, "seq": 1,
                                                "timestamp": 1})
    assert [(m["type"], m["seq"], m["amount"], m["user"]) for m in opened] == [("vault_initialized", 1, 0, ALICE)]
    closed = messages("VaultClosedEvent", {"owner": ALICE, "vault": ALICE_VAULT, "seq": 9, "timestamp": 1})
    assert [(m["type"], m["seq"]) for m in closed] == [("vault_closed", 9)]


def test_a_deposit_keeps_the_seeds_fields():
    (deposit,) = messages("DepositEvent", {"owner": ALICE, "vault": ALICE_VAULT, "amount": 1_000_000, "total_balance": 1_000_000,
                                           "locked_balance": 0, "available_balance": 1_000_000, "seq": 2, "timestamp": 1})
    assert {k: deposit[k] for k in ("type", "user", "amount", "signature", "timestamp")} == {
        "type": "deposit", "user": ALICE, "amount": 1_000_000, "signature": "sig", "timestamp": 1699123456}


def test_a_transfer_is_announced_to_both_vaults_with_each_sequence_number():
    event = ProgramEvent(0, "TransferEvent", {
        "caller_program": BOB, "from_owner": ALICE, "from_vault": ALICE_VAULT, "to_owner": BOB, "to_vault": BOB_VAULT,
        "amount": 5, "from_total_balance": 10, "from_locked_balance": 1, "from_available_balance": 9, "from_seq": 4,
        "to_total_balance": 5, "to_locked_balance": 0, "to_available_balance": 5, "to_seq": 2, "timestamp": 1,
    })
    out, into = stream_messages(event, signature="sig", slot=7, timestamp=1)
    assert (out["vault"], out["seq"], out["direction"], out["counterparty"]) == (ALICE_VAULT, 4, "out", BOB_VAULT)
    assert (into["vault"], into["seq"], into["direction"], into["user"]) == (BOB_VAULT, 2, "in", BOB)
    balances = {m["vault"]: (m["total_balance"], m["seq"]) for m in balance_messages(vault_sides(event), slot=7, timestamp=1)}
    assert balances == {ALICE_VAULT: (10, 4), BOB_VAULT: (5, 2)}


def test_admin_events_are_not_vault_messages():
    assert messages("PauseChangedEvent", {"action": 0, "paused": True, "admin": ALICE, "timestamp": 1}) == []


def test_a_stranded_lock_release_is_announced_as_an_unlock_by_the_removed_program():
    """Vault program v2: the owner's release of a removed program's locks."""
    fields = {"owner": ALICE, "vault": ALICE_VAULT, "caller_program": BOB, "amount": 600_000, "caller_locked": 0,
              "total_balance": 1_000_000, "locked_balance": 0, "available_balance": 1_000_000,
              "generation": 3, "seq": (3 << 20) + 4, "timestamp": 1}
    [message] = messages("StrandedLockReleasedEvent", fields)
    assert (message["type"], message["amount"], message["caller_program"], message["seq"]) == (
        "unlock", 600_000, BOB, (3 << 20) + 4)
    [side] = vault_sides(ProgramEvent(0, "StrandedLockReleasedEvent", fields))
    assert (side.generation, side.available_balance) == (3, 1_000_000)


def test_each_side_of_a_transfer_carries_its_vaults_generation():
    event = ProgramEvent(0, "TransferEvent", {
        "caller_program": BOB, "from_owner": ALICE, "from_vault": ALICE_VAULT, "to_owner": BOB, "to_vault": BOB_VAULT,
        "amount": 5, "from_caller_locked": 0, "from_total_balance": 10, "from_locked_balance": 0,
        "from_available_balance": 10, "from_generation": 7, "from_seq": (7 << 20) + 4, "to_total_balance": 5,
        "to_locked_balance": 0, "to_available_balance": 5, "to_generation": 9, "to_seq": (9 << 20) + 2,
        "timestamp": 1,
    })
    assert [(s.vault, s.generation, s.seq) for s in vault_sides(event)] == [
        (ALICE_VAULT, 7, (7 << 20) + 4), (BOB_VAULT, 9, (9 << 20) + 2)]
