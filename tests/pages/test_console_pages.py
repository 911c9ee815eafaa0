"""The staff console as a person uses it, in a real Chromium: two-factor sign-in, the alert
workflow with the header's open-alert count, the vault page with "reconcile now"."""
import pytest

from tests.console.staff import make_staff
from tests.pages.support import CHROMIUM, CHROMIUM_ARGS, in_thread, screenshot_path, sign_in

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)"),
]


@pytest.fixture
def operator(db):
    return make_staff("operator", "operator")


@pytest.fixture
def alerts(db):
    from monitoring.services.alerts import raise_alert

    return [raise_alert(kind="reconciliation_mismatch", severity="critical", source="balance_tracker",
                        message=f"vault {n}: the database differs from the chain by +{n} at slot 812",
                        details={"dedupe_key": f"k{n}"}) for n in (1, 2)]


@pytest.fixture
def browser(live_server, operator, alerts):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def test_sign_in_needs_the_authenticator_code(live_server, browser, operator, tmp_path):
    page = browser.new_page()
    sign_in(page, live_server.url, operator, code="")
    assert page.url.startswith(f"{live_server.url}/admin/login/")
    assert page.locator("#id_otp_token").count() == 1
    page.screenshot(path=screenshot_path(tmp_path, "sign-in.png"), full_page=True)
    wrong = f"{(int(operator.code()) + 1) % 1_000_000:06d}"
    sign_in(page, live_server.url, operator, code=wrong)
    assert page.locator(".errornote").count() >= 1 and page.url.startswith(f"{live_server.url}/admin/login/")
    page.wait_for_timeout(1200)  # django-otp throttles the device for a second after a failure
    sign_in(page, live_server.url, operator)
    page.wait_for_selector("#content-main")
    assert page.url.rstrip("/").endswith("/admin")
    assert page.inner_text("#open-alert-count") == "2"


def test_operator_works_an_alert_and_the_header_count_follows(live_server, browser, operator, alerts, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, live_server.url, operator, f"/admin/monitoring/alert/{alerts[0].pk}/change/")
    page.wait_for_selector("#alert-workflow")
    assert page.inner_text("#workflow-status") == "open"
    page.fill("textarea[name=note]", "indexer was behind; watching the next run")
    page.click("button[value=acknowledge]")
    page.wait_for_selector("ul.messagelist")
    assert page.inner_text("#workflow-status") == "acknowledged"
    assert page.inner_text("#assignee") == "operator"
    assert page.inner_text("#open-alert-count") == "1"
    page.fill("textarea[name=note]", "matched on the next run: the indexer had not stored the deposit yet")
    page.click("button[value=resolve]")
    page.wait_for_selector("ul.messagelist")
    assert page.inner_text("#workflow-status") == "resolved"
    assert page.locator("#workflow-history tbody tr").count() == 2
    page.screenshot(path=screenshot_path(tmp_path, "alert-workflow.png"), full_page=True)

    page.goto(f"{live_server.url}/admin/monitoring/alert/?workflow=open")
    assert page.locator("#result_list tbody tr").count() == 1

    def audit():
        from vaults.models import AuditTrail

        return list(AuditTrail.objects.filter(action__startswith="alert_case.").order_by("pk")
                    .values_list("action", "actor", "details__alert_id"))

    assert in_thread(audit) == [("alert_case.acknowledge", "operator", alerts[0].pk),
                                ("alert_case.resolve", "operator", alerts[0].pk)]


@pytest.fixture
def vault_with_a_lock(localnet, clean_redis, transactional_db):
    """A vault on the validator with 10 USDT deposited and 3 locked by the position manager,
    recorded in the ledger."""
    import base64

    from solders.keypair import Keypair
    from solders.transaction import VersionedTransaction

    from tests.localnet import fund_wallet, sign
    from vaults.chain.client import get_chain_client
    from vaults.models import Vault
    from vaults.services.cpi_manager import CPIManager
    from vaults.services.ledger import record_transaction
    from vaults.services.vault_manager import VaultManager

    chain = get_chain_client()
    keypair = Keypair()
    owner = str(keypair.pubkey())
    fund_wallet(chain, localnet, keypair.pubkey(), tokens=20_000_000)
    manager = VaultManager(chain)
    for operation in (lambda: manager.initialize_vault(owner), lambda: manager.deposit(owner, 10_000_000),
                      lambda: CPIManager(chain).lock_collateral(owner, 3_000_000)):
        built = operation().built
        signed = VersionedTransaction.from_bytes(base64.b64decode(sign(built.to_base64(), keypair)))
        signature = chain.send(signed)
        chain.confirm(signature, built.last_valid_block_height)
        record_transaction(signature, chain=chain)
    return Vault.objects.get(owner=owner)


@pytest.mark.localnet
def test_the_vault_page_shows_chain_token_account_and_ledger_and_reconciles(
        live_server, vault_with_a_lock, operator, browser, tmp_path):
    vault = vault_with_a_lock
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    sign_in(page, live_server.url, operator, f"/admin/vaults/vault/{vault.pk}/change/")
    page.wait_for_selector("#side-by-side")
    total_row = page.locator("#side-by-side tbody tr").first.inner_text()
    assert total_row.count("10.000000 USDT") == 4, total_row  # chain, token account, vault row, replayed ledger
    locks = page.inner_text("#program-locks tbody")
    # The position manager's lock: the ledger's replay and the vault program's CallerLock record.
    assert "GTYmhz8KtQhgKEgTvW644AfB9q3Jey3DeZpF6bum9vCT" in locks
    assert locks.count("3.000000 USDT") == 2 and "approved, no cap" in locks, locks
    assert page.locator("#program-locks tr.differs").count() == 0
    assert page.locator("#side-by-side tr.differs").count() == 0
    assert page.locator("#vault-transactions a.explorer").count() == 3
    page.click("#reconcile-now button")
    page.wait_for_selector("ul.messagelist")
    assert ": matched" in page.inner_text("ul.messagelist")
    assert "matched" in page.inner_text("#reconciliations")
    page.screenshot(path=screenshot_path(tmp_path, "vault-page.png"), full_page=True)

    def audit():
        from vaults.models import AuditTrail

        return list(AuditTrail.objects.filter(action="vault.reconcile_now").values_list("actor", "details__status"))

    assert in_thread(audit) == [("operator", "matched")]
