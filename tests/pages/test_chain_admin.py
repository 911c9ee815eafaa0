"""On-chain administration with four eyes, in a real Chromium against the real stack: the local
validator, the live server, PostgreSQL. An operator proposes pausing deposits, an admin approves;
the chain shows deposits paused and a deposit is refused with 422 deposits_paused; resuming the
same way restores them. Each step leaves its audit row. A viewer sees no buttons and gets 403."""
import json
import urllib.error
import urllib.request

import pytest
from solders.keypair import Keypair

from tests.console.staff import make_staff
from tests.localnet import fund_wallet, sign
from tests.pages.support import CHROMIUM, CHROMIUM_ARGS, in_thread, screenshot_path, sign_in

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.localnet,
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)"),
]
CHAIN_ADMIN_URL = "/admin/console/chainadminaction/"


@pytest.fixture
def chain(localnet, settings):
    from vaults.chain.client import get_chain_client

    settings.CHAIN_ADMIN_OPS_KEY = json.dumps(localnet.description["admin"]["secret_key"])
    return get_chain_client()


@pytest.fixture
def depositor(chain, localnet, clean_redis):
    """A wallet with a vault and 100 USDT, and an API key to ask for deposits with."""
    from vaults.services.api_keys import create_api_key
    from vaults.services.vault_manager import VaultManager

    keypair = Keypair()
    fund_wallet(chain, localnet, keypair.pubkey(), tokens=100_000_000)
    built = VaultManager(chain).initialize_vault(str(keypair.pubkey())).built
    from solders.transaction import VersionedTransaction
    import base64

    VaultManager(chain).submit(VersionedTransaction.from_bytes(base64.b64decode(sign(built.to_base64(), keypair))),
                               acting_wallet=None)
    raw_key, _ = create_api_key("console-test")
    return str(keypair.pubkey()), raw_key


@pytest.fixture
def team(db):
    return {role: make_staff(role, role) for role in ("operator", "admin", "viewer")}


@pytest.fixture
def browser(live_server, chain, depositor, team):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def ask_deposit(base_url, depositor, amount=1_000_000):
    owner, api_key = depositor
    request = urllib.request.Request(f"{base_url}/vault/deposit", method="POST",
                                     data=json.dumps({"user": owner, "amount": amount}).encode(),
                                     headers={"Content-Type": "application/json", "X-API-Key": api_key})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def propose(page, base_url, *, paused: bool):
    page.goto(f"{base_url}{CHAIN_ADMIN_URL}")
    form = page.locator("#propose-deposit")
    form.locator("input[name=reason]").fill("incident drill")
    button = form.locator("button")
    assert button.inner_text().startswith("Propose: pause" if paused else "Propose: resume")
    button.click()
    page.wait_for_selector("ul.messagelist")
    assert "Another staff member must approve it" in page.inner_text("ul.messagelist")
    row = page.locator("#open-actions tr[data-status=proposed]")
    assert row.count() == 1
    assert row.locator("button.approve").count() == 0  # an operator cannot approve
    return row.get_attribute("id").split("-")[1]


def approve(page, base_url, action_id):
    page.goto(f"{base_url}{CHAIN_ADMIN_URL}")
    page.locator(f"#action-{action_id} button.approve").click()
    page.wait_for_selector("ul.messagelist", timeout=90_000)
    assert "confirmed on chain" in page.inner_text("ul.messagelist"), page.inner_text("ul.messagelist")


def test_operator_proposes_admin_approves_pause_and_resume(live_server, browser, chain, depositor, team, tmp_path):
    base = live_server.url
    operator = browser.new_context().new_page()
    admin = browser.new_context().new_page()
    sign_in(operator, base, team["operator"], CHAIN_ADMIN_URL)
    operator.wait_for_selector("#authority")
    assert operator.inner_text("#deposit-state") == "running"
    assert ask_deposit(base, depositor)[0] == 200

    pause_id = propose(operator, base, paused=True)
    assert not chain.get_authority().deposit_paused  # nothing happens before the second pair of eyes
    sign_in(admin, base, team["admin"], CHAIN_ADMIN_URL)
    admin.wait_for_selector(f"#action-{pause_id}")
    admin.screenshot(path=screenshot_path(tmp_path, "chain-admin.png"), full_page=True)
    try:
        approve(admin, base, pause_id)
        assert admin.inner_text("#deposit-state") == "paused"
        assert chain.get_authority().deposit_paused
        status, body = ask_deposit(base, depositor)
        assert status == 422 and body["error"]["code"] == "deposits_paused", body

        resume_id = propose(operator, base, paused=False)
        approve(admin, base, resume_id)
    finally:
        if chain.get_authority().deposit_paused:  # never leave the shared validator paused
            from tests.localnet import Localnet  # noqa: F401
            _resume_directly(chain)
    assert admin.inner_text("#deposit-state") == "running"
    assert not chain.get_authority().deposit_paused
    assert ask_deposit(base, depositor)[0] == 200

    def audit():
        from vaults.models import AuditTrail

        return list(AuditTrail.objects.filter(action__startswith="chain_admin.").order_by("pk")
                    .values_list("action", "actor", "details__action_id", "outcome"))

    expected = []
    for action_id in (int(pause_id), int(resume_id)):
        expected += [("chain_admin.proposed", "operator", action_id, "success"),
                     ("chain_admin.approved", "admin", action_id, "success"),
                     ("chain_admin.executed", "admin", action_id, "success")]
    assert in_thread(audit) == expected


def _resume_directly(chain):
    from django.conf import settings
    from solders.keypair import Keypair as Key

    from vaults.services.transaction_builder import TransactionBuilder

    key = Key.from_bytes(bytes(json.loads(settings.CHAIN_ADMIN_OPS_KEY)))
    built = TransactionBuilder(chain).build([chain.set_paused_instruction(key.pubkey(), "deposit", False)],
                                            key.pubkey(), [key])
    chain.confirm(chain.send(built.transaction), built.last_valid_block_height)


def test_viewer_sees_no_action_buttons_and_is_refused(live_server, browser, team):
    base = live_server.url
    page = browser.new_context().new_page()
    sign_in(page, base, team["viewer"], CHAIN_ADMIN_URL)
    page.wait_for_selector("#authority")
    assert page.locator("form.propose").count() == 0
    assert page.locator("#content-main button").count() == 0
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    answer = page.request.post(f"{base}{CHAIN_ADMIN_URL}propose/", headers={"Referer": f"{base}{CHAIN_ADMIN_URL}"},
                               form={"csrfmiddlewaretoken": csrf, "kind": "set_paused", "action": "deposit",
                                     "paused": "true"}, max_redirects=0)
    assert answer.status == 403 and "CSRF" not in answer.text()

    def actions():
        from console.models import ChainAdminAction

        return ChainAdminAction.objects.count()

    assert in_thread(actions) == 0
