import pytest

from .svm import PM_ID, Chain, new_user


@pytest.fixture
def chain() -> Chain:
    """A fresh LiteSVM world: programs loaded, authority initialized, position manager
    initialized and authorized, the admin as keeper."""
    chain = Chain()
    chain.initialize_authority()
    chain.initialize_manager(keeper=chain.admin.pubkey())
    chain.authorize(PM_ID)
    return chain


@pytest.fixture
def alice(chain):
    return new_user(chain, tokens=10_000_000, margin=True)


@pytest.fixture
def bob(chain):
    return new_user(chain, tokens=10_000_000, margin=True)
