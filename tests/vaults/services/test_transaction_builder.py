import statistics

import pytest
from solders.keypair import Keypair

from vaults.chain.client import TransactionFailed
from vaults.services.transaction_builder import MAX_COMPUTE_UNIT_LIMIT, TransactionBuilder

pytestmark = pytest.mark.localnet


def test_compute_unit_limit_adds_the_margin_and_falls_back(settings):
    settings.TX_COMPUTE_UNIT_MARGIN_PERCENT = 20
    assert TransactionBuilder.compute_unit_limit(10_000) == 12_000
    assert TransactionBuilder.compute_unit_limit(10_001) == 12_002  # rounded up, never down
    assert TransactionBuilder.compute_unit_limit(None) == 200_000
    assert TransactionBuilder.compute_unit_limit(0) == 200_000
    assert TransactionBuilder.compute_unit_limit(1_300_000) == MAX_COMPUTE_UNIT_LIMIT


def test_priority_fee_from_config_or_rpc(chain, settings):
    settings.TX_PRIORITY_FEE_MICRO_LAMPORTS = "777"
    assert TransactionBuilder(chain).priority_fee([]) == 777
    settings.TX_PRIORITY_FEE_MICRO_LAMPORTS = None
    fees = [f for f in chain.get_recent_prioritization_fees([]) if f > 0]
    expected = min(int(statistics.median(fees)), settings.TX_PRIORITY_FEE_MAX_MICRO_LAMPORTS) if fees else 0
    assert TransactionBuilder(chain).priority_fee([]) == expected


def test_build_sizes_the_limit_from_simulation(chain, funded_wallet, settings):
    settings.TX_PRIORITY_FEE_MICRO_LAMPORTS = "5"
    user = funded_wallet()
    built = TransactionBuilder(chain).build([chain.initialize_vault_instruction(user.pubkey())], user.pubkey())
    assert built.simulated_units > 1_000
    assert built.compute_unit_limit == -(-built.simulated_units * 120 // 100)
    assert built.compute_unit_price == 5
    assert not built.is_signed and built.signers == (str(user.pubkey()),)
    assert built.transaction.message.recent_blockhash is not None
    assert built.last_valid_block_height > chain.get_block_height()


def test_build_signs_when_given_signers(chain, funded_wallet):
    user = funded_wallet()
    built = TransactionBuilder(chain).build([chain.initialize_vault_instruction(user.pubkey())], user.pubkey(), [user])
    assert built.is_signed and all(built.transaction.verify_with_results())


def test_a_failing_simulation_raises_with_the_program_error(chain, funded_wallet):
    user = funded_wallet(tokens=1_000)
    # No vault yet: the deposit instruction fails in simulation, before any wallet sees it.
    ix = chain.deposit_instruction(user.pubkey(), 1_000, chain.associated_token_address(user.pubkey()))
    with pytest.raises(TransactionFailed) as failure:
        TransactionBuilder(chain).build([ix], user.pubkey())
    assert failure.value.logs


def test_unfunded_payer_fails_simulation(chain):
    nobody = Keypair()
    with pytest.raises(TransactionFailed):
        TransactionBuilder(chain).build([chain.initialize_vault_instruction(nobody.pubkey())], nobody.pubkey())
