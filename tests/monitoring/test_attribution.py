"""Only the vault program writes our books. An attacker's program (tests/programs/forger, built
with the same offline toolchain and deployed on the local validator) logs forged DepositEvent and
WithdrawEvent bytes with `sol_log_data`, listing the vault program and a victim's vault as
read-only accounts. Nothing of it may be stored, announced, replayed or alerted, whichever way
the back office meets the transaction: the indexer's backfill and live path, gap repair, the
API's own recording."""
import asyncio
import base64

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from solders.instruction import AccountMeta

from monitoring import streams
from monitoring.indexer.gaps import fill_vault_gap
from monitoring.indexer.runner import Indexer, IndexerOptions
from monitoring.indexer.store import index_transaction
from monitoring.models import IndexedEvent
from monitoring.services.balance_tracker import BalanceTracker
from monitoring.services.vault_monitor import VaultMonitor
from tests.localnet import seq_base
from tests.monitoring.forger_support import (
    INVOKE, LOG, deploy_forger, forged_deposit, forged_vault_initialized, forged_withdrawal, forger_instruction,
)
from tests.monitoring.indexer_support import chain, start_cursor_at_chain_head, vault_user  # noqa: F401 - fixtures
from tests.monitoring.monitor_fixtures import Listener
from tests.monitoring.stream_helpers import collect, connect, request, wallet_token
from vaults.chain.client import EVENT_IX_TAG
from vaults.models import AuditTrail, Transaction, Vault
from vaults.services.ledger import record_transaction

pytestmark = [pytest.mark.localnet, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clean_redis")]

MILLION_USDT = 1_000_000 * 10**6


@pytest.fixture
def forger(chain):
    return deploy_forger(chain)


def _indexer(chain) -> Indexer:
    return Indexer(chain, IndexerOptions(finality_seconds=3600))


def _forge(attacker, forger, chain, *steps, accounts):
    """The forger's transaction, signed by the attacker, confirmed."""
    metas = [AccountMeta(chain.program_id, False, False), *accounts]
    return attacker.confirm(attacker.send([forger_instruction(forger, list(steps), metas)]))


def _readonly(*addresses):
    return [AccountMeta(chain_key, False, False) for chain_key in map(_pubkey, addresses)]


def _pubkey(value):
    from solders.pubkey import Pubkey

    return Pubkey.from_string(str(value))


def _alerts():
    return list(AuditTrail.objects.filter(action__startswith="alert.").values_list("action", "details"))


def test_forged_events_for_a_real_vault_and_for_an_owner_without_vault_are_never_stored(chain, vault_user, forger):
    start_cursor_at_chain_head(chain)
    victim, attacker, nobody = vault_user(), vault_user(), vault_user()
    victim.open_vault()
    indexer = _indexer(chain)
    indexer.run_round()
    everything = Listener(streams.ALL_GROUP)

    base = seq_base(chain, victim.owner)  # v2 numbers from (generation << 20) + 1: forge the next numbers
    generation = base >> 20
    forged = [
        _forge(attacker, forger, chain, (LOG, forged_deposit(victim.owner, victim.vault, amount=MILLION_USDT,
                                                              seq=base + 2, generation=generation)),
               accounts=_readonly(victim.vault)),
        _forge(attacker, forger, chain, (LOG, forged_withdrawal(victim.owner, victim.vault, amount=MILLION_USDT,
                                                                 seq=base + 3, generation=generation)),
               accounts=_readonly(victim.vault)),
        _forge(attacker, forger, chain,
               (LOG, forged_vault_initialized(nobody.owner, nobody.vault, nobody.token_account)),
               (LOG, forged_deposit(nobody.owner, nobody.vault, amount=MILLION_USDT, seq=2)),
               accounts=_readonly(nobody.vault)),
        _forge(attacker, forger, chain, (LOG, forged_deposit(victim.owner, victim.vault, amount=MILLION_USDT,
                                                              seq=base + 1000, generation=generation)),
               accounts=_readonly(victim.vault)),
    ]
    for signature in forged:
        # The attack is real: each is in the program's history, its logs carry a well-formed
        # vault event, and it names the program and the vault.
        assert signature in {info.signature for info in chain.list_program_signatures(limit=50)}
        assert [chain.decode_event_bytes(base64.b64decode(line.split(": ", 1)[1]))[0]
                for line in chain.get_transaction(signature).logs if line.startswith("Program data: ")]
    report = indexer.run_round()  # backfill of the program's history
    for signature in forged:
        index_transaction(chain, signature, source="live")  # as if the live stream had announced it
        assert record_transaction(signature) == []  # the API's recording path
    repair = fill_vault_gap(chain, victim.vault)  # the victim vault's own history

    assert report.backfill.seen >= len(forged) and report.backfill.new_events == 0
    assert repair.indexed == 0 and repair.missing_before == []
    assert not Transaction.objects.filter(signature__in=forged).exists()
    assert not IndexedEvent.objects.filter(signature__in=forged).exists()
    assert not Vault.objects.filter(owner=nobody.owner).exists()
    victim_row = Vault.objects.get(owner=victim.owner)
    assert (victim_row.total_balance, victim_row.event_seq) == (0, base + 1)
    assert everything.receive_all(timeout=0.5) == []
    everything.close()

    # Reconciliation agrees with the chain, and no rule fires on money that never moved.
    logs = BalanceTracker(chain).reconcile_all()
    assert [(log.status, log.difference) for log in logs] == [("matched", 0)]
    assert VaultMonitor(chain).detect_anomalies() == []
    assert _alerts() == []


def test_forged_lines_around_a_genuine_deposit_in_one_transaction_leave_only_the_deposit(chain, vault_user, forger):
    start_cursor_at_chain_head(chain)
    user = vault_user()
    user.open_vault()
    deposit = user.deposit_instruction(5)
    base = seq_base(chain, user.owner)
    lie = forged_deposit(user.owner, user.vault, amount=MILLION_USDT, seq=base + 2, generation=base >> 20)
    later_lie = forged_deposit(user.owner, user.vault, amount=MILLION_USDT, seq=base + 3, generation=base >> 20)
    # 1. The forger wraps the genuine deposit by CPI: its lines are in its own frame, around the
    #    vault program's frame (and the vault's self-CPI sits one level deeper than usual).
    wrapped = _forge(user, forger, chain, (LOG, lie), (INVOKE, bytes(deposit.data)), (LOG, later_lie),
                     accounts=list(deposit.accounts))
    # 2. Separate instructions in one transaction: forger, vault deposit, forger.
    metas = [AccountMeta(chain.program_id, False, False), AccountMeta(_pubkey(user.vault), False, False)]
    lie_4 = forged_deposit(user.owner, user.vault, amount=MILLION_USDT, seq=base + 4, generation=base >> 20)
    lie_5 = forged_deposit(user.owner, user.vault, amount=MILLION_USDT, seq=base + 5, generation=base >> 20)
    side_by_side = user.confirm(user.send([
        forger_instruction(forger, [(LOG, lie_4)], metas),
        user.deposit_instruction(7),
        forger_instruction(forger, [(LOG, lie_5)], metas),
    ]))

    _indexer(chain).run_round()

    rows = Transaction.objects.filter(vault__owner=user.owner).order_by("event_seq")
    assert [(r.transaction_type, r.amount, r.event_seq - base, r.signature) for r in rows] == [
        ("initialize", 0, 1, rows[0].signature), ("deposit", 5, 2, wrapped), ("deposit", 7, 3, side_by_side)]
    assert Vault.objects.get(owner=user.owner).total_balance == 12
    assert [(log.status, log.difference) for log in BalanceTracker(chain).reconcile_all()] == [("matched", 0)]
    assert _alerts() == []


def test_a_forged_self_cpi_into_the_vault_program_fails_on_chain(chain, vault_user, forger):
    """The forger invokes the vault program's event entry with the real event authority, which it
    cannot sign for: the program refuses, the transaction fails, nothing is stored."""
    user = vault_user()
    user.open_vault()
    tag_and_event = EVENT_IX_TAG + forged_deposit(user.owner, user.vault, amount=MILLION_USDT, seq=2)
    sent = user.send_unsimulated([forger_instruction(
        forger, [(INVOKE, tag_and_event)],
        [AccountMeta(chain.program_id, False, False), AccountMeta(chain.event_authority_address(), False, False)])])
    with pytest.raises(Exception) as failure:
        user.confirm(sent)
    assert getattr(failure.value, "name", "") == "InvalidEventAuthority"
    assert chain.get_transaction(sent.signature).failed
    assert index_transaction(chain, sent.signature, source="live").new_events == 0
    assert not Transaction.objects.filter(signature=sent.signature).exists()


def test_gap_repair_walks_a_real_hole_and_applies_only_transactions_that_ran_the_vault_program(
        chain, vault_user, forger):
    """A hole in a victim's sequence, and inside it, in the vault's own signature list, forged
    transactions: one lists the program and the vault, one only the vault. The walk applies the
    genuine transactions and nothing else."""
    from monitoring.indexer.sequence import missing_seqs
    from monitoring.indexer.store import cursor_name
    from monitoring.models import IndexerCursor

    start_cursor_at_chain_head(chain)
    victim, attacker = vault_user(), vault_user()
    genuine = [victim.open_vault(), victim.deposit(100)]
    base = seq_base(chain, victim.owner)  # v2 numbers from (generation << 20) + 1: forge the next one
    lie = forged_deposit(victim.owner, victim.vault, amount=MILLION_USDT, seq=base + 3, generation=base >> 20)
    forged = [
        _forge(attacker, forger, chain, (LOG, lie), accounts=_readonly(victim.vault)),
        attacker.confirm(attacker.send([forger_instruction(forger, [(LOG, lie)], _readonly(victim.vault))])),
    ]
    genuine += [victim.deposit(200), victim.deposit(300)]
    in_vault_history = {info.signature for info in chain.get_signatures_for_address(victim.vault, limit=50)}
    assert set(forged) | set(genuine) <= in_vault_history  # the walk meets the forgeries
    # The program-wide backfill is past all of it; only the newest deposit is seen (live).
    IndexerCursor.objects.update_or_create(name=cursor_name(chain), defaults={"last_signature": genuine[-1]})
    assert index_transaction(chain, genuine[-1], source="live").gaps == {victim.vault}
    assert missing_seqs(victim.vault) == [base + 1, base + 2, base + 3]

    repair = fill_vault_gap(chain, victim.vault, page_limit=2)

    assert (repair.missing_before, repair.indexed, repair.missing_after) == ([base + 1, base + 2, base + 3], 3, [])
    rows = Transaction.objects.filter(vault__owner=victim.owner).order_by("event_seq")
    assert [(r.event_seq - base, r.amount, r.signature) for r in rows] == [
        (1, 0, genuine[0]), (2, 100, genuine[1]), (3, 200, genuine[2]), (4, 300, genuine[3])]
    assert not Transaction.objects.filter(signature__in=forged).exists()
    assert not IndexedEvent.objects.filter(signature__in=forged).exists()
    assert Vault.objects.get(owner=victim.owner).total_balance == 600
    assert [(log.status, log.difference) for log in BalanceTracker(chain).reconcile_all()] == [("matched", 0)]
    assert _alerts() == []


@pytest.mark.asyncio
async def test_a_forged_high_seq_cannot_make_a_reconnecting_client_miss_the_genuine_deposit(chain, vault_user, forger):
    await sync_to_async(start_cursor_at_chain_head)(chain)
    user = await sync_to_async(vault_user)()
    attacker = await sync_to_async(vault_user)()
    indexer = _indexer(chain)
    round_ = sync_to_async(indexer.run_round)
    await sync_to_async(user.open_vault)()
    await round_()
    base = await sync_to_async(seq_base)(chain, user.owner)  # v2 numbers from (generation << 20) + 1
    token = await database_sync_to_async(wallet_token)(user.keypair)

    first = await connect(f"/ws?token={token}&tvl=0")
    answer = await request(first, {"action": "subscribe", "user": user.owner, "last_seq": 0})
    assert answer["last_seq"] == base + 1
    await first.disconnect()

    # While the client is away: a forged deposit with seq 1000, then the genuine one (seq 2).
    await sync_to_async(_forge)(attacker, forger, chain,
                                (LOG, forged_deposit(user.owner, user.vault, amount=MILLION_USDT, seq=base + 1000,
                                                     generation=base >> 20)),
                                accounts=_readonly(user.vault))
    genuine = await sync_to_async(user.deposit)(2_500)
    await round_()

    again = await connect(f"/ws?token={token}&tvl=0")
    await again.send_json_to({"action": "subscribe", "user": user.owner, "last_seq": base + 1})
    frames = await collect(again)
    replayed = [(f["type"], f.get("seq"), f.get("amount")) for f in frames if f["type"] != "subscribed"]
    assert replayed == [("deposit", base + 2, 2_500), ("balance_update", base + 2, None)]
    assert frames[0]["signature"] == genuine and frames[-1]["type"] == "subscribed" and frames[-1]["last_seq"] == base + 2

    # And the next genuine deposit still arrives live: no mark was moved past it.
    following = await sync_to_async(user.deposit)(1_000)
    await round_()
    live = await collect(again, quiet=1.0)
    assert [(f["type"], f["seq"]) for f in live] == [("deposit", base + 3), ("balance_update", base + 3)]
    assert live[0]["signature"] == following
    await again.disconnect()
    assert await database_sync_to_async(lambda: list(
        Transaction.objects.filter(vault__owner=user.owner).values_list("event_seq", flat=True).order_by("event_seq")))() \
        == [base + 1, base + 2, base + 3]
    await asyncio.sleep(0)
