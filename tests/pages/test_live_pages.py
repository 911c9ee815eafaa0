"""The public live pages in a real Chromium, served by daphne on the test database: a deposit made
on the validator and indexed appears on `/` without a reload (feed and TVL), and the vault page
catches up with `last_seq` after its connection dropped."""
import base64

import pytest
from solders.keypair import Keypair
from solders.transaction import VersionedTransaction

from tests.localnet import fund_wallet, sign
from tests.pages.support import CHROMIUM, CHROMIUM_ARGS, AsgiServer, in_thread, screenshot_path

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.localnet,
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)"),
]


@pytest.fixture
def chain(localnet):
    from vaults.chain.client import get_chain_client

    return get_chain_client()


def submit(chain, built, keypair) -> str:
    signed = VersionedTransaction.from_bytes(base64.b64decode(sign(built.to_base64(), keypair)))
    signature = chain.send(signed)
    chain.confirm(signature, built.last_valid_block_height)
    return signature


def index(chain, signature):
    """The indexer's own path: store the transaction, announce its events after commit."""
    from monitoring.indexer.store import index_transaction

    return in_thread(lambda: index_transaction(chain, signature, source="live"))


@pytest.fixture
def depositor(chain, localnet, clean_redis):
    """A wallet with a vault holding 5 USDT, indexed."""
    from vaults.services.vault_manager import VaultManager

    keypair = Keypair()
    owner = str(keypair.pubkey())
    fund_wallet(chain, localnet, keypair.pubkey(), tokens=100_000_000)
    index(chain, submit(chain, VaultManager(chain).initialize_vault(owner).built, keypair))
    index(chain, submit(chain, VaultManager(chain).deposit(owner, 5_000_000).built, keypair))
    return keypair


@pytest.fixture
def server(tmp_path, transactional_db, depositor):
    server = AsgiServer(tmp_path / "daphne.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def deposit(chain, keypair, amount) -> str:
    from vaults.services.vault_manager import VaultManager

    return submit(chain, VaultManager(chain).deposit(str(keypair.pubkey()), amount).built, keypair)


def test_a_deposit_on_the_validator_appears_without_a_reload(server, browser, chain, depositor, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requested_hosts = set()
    page.on("request", lambda request: requested_hosts.add(request.url.split("/")[2]))
    page.goto(f"{server.url}/")
    page.wait_for_selector("#stream-status.live")
    tvl_before = page.inner_text("#tvl")
    assert page.locator("#feed li").count() >= 2  # the vault's creation and first deposit
    page.evaluate("window.__marker = 'same page'")

    signature = deposit(chain, depositor, 2_500_000)
    index(chain, signature)
    page.wait_for_selector(f'#feed li[data-signature="{signature}"]', timeout=15_000)
    assert "2.500000 USDT" in page.inner_text(f'#feed li[data-signature="{signature}"]')
    page.wait_for_function("before => document.getElementById('tvl').textContent !== before", arg=tvl_before)
    whole = lambda text: int(text.split()[0].replace(",", "").replace(".", ""))  # noqa: E731 - base units
    assert whole(page.inner_text("#tvl")) - whole(tvl_before) == 2_500_000
    assert page.evaluate("window.__marker") == "same page"  # no reload happened
    assert requested_hosts == {f"127.0.0.1:{server.port}"}, requested_hosts  # no CDN
    page.screenshot(path=screenshot_path(tmp_path, "live-index.png"), full_page=True)


def test_the_vault_page_replays_what_it_missed_while_disconnected(server, browser, chain, depositor, tmp_path):
    owner = str(depositor.pubkey())
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{server.url}/vaults/{owner}")
    page.wait_for_selector("#stream-status.live")
    assert page.inner_text("#total") == "5.000000 USDT"

    server.stop()
    page.wait_for_selector("#stream-status.down")
    missed = deposit(chain, depositor, 1_000_000)
    index(chain, missed)  # announced while nobody could hear it
    server.start()
    page.wait_for_selector("#stream-status.live", timeout=20_000)
    page.wait_for_selector(f'#history li[data-signature="{missed}"]', timeout=15_000)
    page.wait_for_function("document.getElementById('total').textContent === '6.000000 USDT'")
    assert page.locator(f'#history li[data-signature="{missed}"]').count() == 1

    live = deposit(chain, depositor, 500_000)
    index(chain, live)
    page.wait_for_selector(f'#history li[data-signature="{live}"]', timeout=15_000)
    page.wait_for_function("document.getElementById('total').textContent === '6.500000 USDT'")
    assert page.inner_text("#seq") == "4"  # initialized, three deposits: no event shown twice
    assert page.locator("#history li").count() == 4
    page.screenshot(path=screenshot_path(tmp_path, "live-vault.png"), full_page=True)
