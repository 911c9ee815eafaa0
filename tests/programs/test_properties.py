"""Random operation sequences across several users and two locking programs keep every
invariant: the ledger identity `total = locked + available`, the vault's `locked` equal to the
sum of the per-program records (`CallerLock`), each program moving only what it locked itself
and within the owner's cap, token accounts equal to ledgers, conservation of tokens, and
agreement with an independent model of what each operation should do."""

from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .svm import PM_ID, PROXY_ID, U64_MAX, Chain, ProxyCall, liquidate_ix, new_user

START = 1_000_000
USERS = 3
PROXY_CAP = 400_000  # what each owner approved the second program to hold locked


@dataclass
class Model:
    total: int = 0
    locked: int = 0
    deposited: int = 0
    withdrawn: int = 0
    moved_in: int = 0
    moved_out: int = 0
    wallet: int = START
    margin: int = field(default=0)  # the position manager's lock (its margin account)
    proxy_locked: int = 0  # the second program's lock

    @property
    def available(self) -> int:
        return self.total - self.locked


operations = st.lists(
    st.tuples(
        st.sampled_from(["deposit", "withdraw", "lock", "unlock", "liquidate", "donate", "proxy_lock", "proxy_unlock", "proxy_settle"]),
        st.integers(min_value=0, max_value=USERS - 1),
        st.one_of(st.integers(min_value=0, max_value=START + 10), st.just(U64_MAX)),
    ),
    min_size=1,
    max_size=30,
)


def world():
    chain = Chain(proxy=True)
    chain.initialize_authority()
    chain.initialize_manager(keeper=chain.admin.pubkey())
    chain.authorize(PM_ID)
    chain.authorize(PROXY_ID)
    users = [new_user(chain, tokens=START, margin=True) for _ in range(USERS)]
    for user in users:
        chain.ok([user.approve_ix(PROXY_ID, cap=PROXY_CAP)], user.keypair)
    keeper = new_user(chain, keypair=chain.admin)
    return chain, users, keeper


def pending_surplus(chain, user, model) -> int:
    """Tokens sent straight to the vault's token account and not yet credited."""
    return chain.token_amount(user.vault_token_account) - model.total


def credit(model, surplus):
    model.total += surplus
    model.deposited += surplus


def settle(model, keeper_model, surplus, keeper_surplus, amount):
    credit(model, surplus)
    credit(keeper_model, keeper_surplus)
    model.locked -= amount
    model.total -= amount
    model.moved_out += amount
    keeper_model.total += amount
    keeper_model.moved_in += amount


def apply(chain, users, keeper, models, keeper_model, op, index, amount):
    user, model = users[index], models[index]
    proxy = ProxyCall(chain)
    surplus = pending_surplus(chain, user, model)
    if op == "deposit":
        ok = 0 < amount <= model.wallet and model.total + surplus + amount <= U64_MAX
        outcome = chain.send([user.deposit_ix(amount)], user.keypair)
        if ok:
            credit(model, surplus)
            model.total += amount
            model.deposited += amount
            model.wallet -= amount
    elif op == "withdraw":
        ok = 0 < amount <= model.available + surplus
        outcome = chain.send([user.withdraw_ix(amount)], user.keypair)
        if ok:
            credit(model, surplus)
            model.total -= amount
            model.withdrawn += amount
            model.wallet += amount
    elif op == "lock":
        ok = 0 < amount <= model.available
        outcome = chain.send([user.open_position_ix(amount)], user.keypair)
        if ok:
            model.locked += amount
            model.margin += amount
    elif op == "unlock":
        ok = 0 < amount <= model.margin
        outcome = chain.send([user.close_position_ix(amount)], user.keypair)
        if ok:
            model.locked -= amount
            model.margin -= amount
    elif op == "liquidate":
        ok = 0 < amount <= model.margin
        keeper_surplus = pending_surplus(chain, keeper, keeper_model)
        outcome = chain.send([liquidate_ix(chain, chain.admin, user, keeper, amount)], chain.admin)
        if ok:
            settle(model, keeper_model, surplus, keeper_surplus, amount)
            model.margin -= amount
    elif op == "proxy_lock":
        ok = 0 < amount <= model.available and model.proxy_locked + amount <= PROXY_CAP
        outcome = chain.send([proxy.lock(user, amount)])
        if ok:
            model.locked += amount
            model.proxy_locked += amount
    elif op == "proxy_unlock":
        ok = 0 < amount <= model.proxy_locked
        outcome = chain.send([proxy.unlock(user, amount)])
        if ok:
            model.locked -= amount
            model.proxy_locked -= amount
    elif op == "proxy_settle":
        ok = 0 < amount <= model.proxy_locked
        keeper_surplus = pending_surplus(chain, keeper, keeper_model)
        outcome = chain.send([proxy.transfer(user, keeper, amount)])
        if ok:
            settle(model, keeper_model, surplus, keeper_surplus, amount)
            model.proxy_locked -= amount
    else:  # tokens sent straight to the vault's token account, outside the program
        if 0 < amount <= model.wallet:
            chain.transfer_tokens(user.token_account, user.vault_token_account, user.keypair, amount)
            model.wallet -= amount
        return
    assert outcome.ok == ok, (op, amount, outcome.custom_error, outcome.logs[-2:])
    if ok and op in ("deposit", "withdraw", "liquidate", "proxy_settle"):
        # Every token movement leaves the token account exactly at the ledger.
        assert chain.token_amount(user.vault_token_account) == model.total


def check(chain, user, model):
    state = chain.vault_state(user.pubkey)
    if model is not None and user.caller_lock_state(PM_ID) is not None:
        # Per-caller records: each program's own lock, summing to the vault's.
        records = {program: user.caller_lock_state(program) for program in (PM_ID, PROXY_ID)}
        assert (records[PM_ID].locked, records[PROXY_ID].locked) == (model.margin, model.proxy_locked)
        assert records[PM_ID].locked + records[PROXY_ID].locked == state.locked_balance
        assert user.margin_state().locked == records[PM_ID].locked
    assert (state.total_balance, state.locked_balance, state.available_balance) == (model.total, model.locked, model.available)
    assert state.total_balance == state.locked_balance + state.available_balance
    assert state.total_balance == state.total_deposited + state.total_transferred_in - state.total_withdrawn - state.total_transferred_out
    assert (state.total_deposited, state.total_withdrawn) == (model.deposited, model.withdrawn)
    assert (state.total_transferred_in, state.total_transferred_out) == (model.moved_in, model.moved_out)
    # Equal after every token movement; above the ledger only by what was sent around the program.
    assert chain.token_amount(user.vault_token_account) >= state.total_balance


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_random_sequences_keep_invariants(ops):
    chain, users, keeper = world()
    models = [Model() for _ in users]
    keeper_model = Model(wallet=0)
    for op, index, amount in ops:
        apply(chain, users, keeper, models, keeper_model, op, index, amount)
        check(chain, users[index], models[index])
    for user, model in zip(users, models):
        check(chain, user, model)
        assert chain.token_amount(user.token_account) == model.wallet
    check(chain, keeper, keeper_model)
    # Conservation: every token minted is in a wallet or a vault.
    held = sum(chain.token_amount(u.token_account) + chain.token_amount(u.vault_token_account) for u in users)
    assert held + chain.token_amount(keeper.vault_token_account) == START * USERS
