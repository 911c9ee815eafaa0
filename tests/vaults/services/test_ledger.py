"""Recording is idempotent: one row per (signature, event index), however often it runs."""
import pytest

from tests.localnet import seq_base
from vaults.models import BalanceSnapshot, Transaction
from vaults.services.ledger import record_transaction
from vaults.services.vault_manager import VaultManager

pytestmark = [pytest.mark.localnet, pytest.mark.django_db(transaction=True)]


def test_recording_twice_stores_each_event_once(chain, funded_wallet, settings):
    user = funded_wallet(tokens=1_000_000)
    owner = str(user.pubkey())
    settings.DEV_SIGNER_ENABLED = True
    settings.DEV_SIGNER_SECRET_KEYS = [list(bytes(user))]
    manager = VaultManager(chain)
    manager.initialize_vault(owner)
    signature = manager.deposit(owner, 250_000).signature
    rows = Transaction.objects.filter(signature=signature)
    snapshots = BalanceSnapshot.objects.count()
    assert rows.count() == 1
    assert record_transaction(signature, chain=chain) == []
    assert record_transaction(signature, chain=chain) == []
    assert Transaction.objects.filter(signature=signature).count() == 1
    assert BalanceSnapshot.objects.count() == snapshots
    row = rows.get()
    assert (row.transaction_type, row.amount, row.event_index, row.event_seq) == ("deposit", 250_000, 0, seq_base(chain, owner) + 2)


def test_events_come_from_the_self_cpi_inner_instructions(chain, funded_wallet, settings):
    user = funded_wallet()
    owner = str(user.pubkey())
    settings.DEV_SIGNER_ENABLED = True
    settings.DEV_SIGNER_SECRET_KEYS = [list(bytes(user))]
    signature = VaultManager(chain).initialize_vault(owner).signature
    confirmed = chain.get_transaction(signature)
    assert [e.name for e in confirmed.events] == ["VaultInitializedEvent"]
    fields = confirmed.events[0].fields
    assert fields["owner"] == owner and fields["vault"] == str(chain.vault_address(owner))
    assert fields["seq"] == seq_base(chain, owner) + 1 == (fields["generation"] << 20) + 1
