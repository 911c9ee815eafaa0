"""The pages as a person sees them, in a real headless Chromium: the admin back office and the
API docs. The server is Django's live server over the test database."""
import shutil
from pathlib import Path

import pytest

from tests.pages.support import screenshot_path
from tests.console.staff import StaffLogin, make_staff, wait_for_fresh_step
from vaults.models import AuditTrail, Vault

CHROMIUM = shutil.which("chromium")
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)"),
]
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture
def browser(live_server):
    """Last to set up: Playwright runs an event loop in this thread, after which Django refuses
    synchronous ORM calls here, so every row a test needs comes from fixtures set up before."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def staff(db):
    """A superuser in the admin role, with an authenticator (TOTP) device: the admin asks for both."""
    return make_staff("staff", "admin", superuser=True)


def sign_in(page, live_server, staff: StaffLogin, next_path="/admin/", *, code: str | None = None):
    wait_for_fresh_step()
    page.goto(f"{live_server.url}/admin/login/?next={next_path}")
    page.fill("#id_username", staff.username)
    page.fill("#id_password", staff.password)
    page.fill("#id_otp_token", staff.code() if code is None else code)
    page.click("input[type=submit]")


@pytest.fixture
def vault_row(db):
    return Vault.objects.create(owner="7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU",
                                address="9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM",
                                token_account="EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
                                total_balance=1_000_000, available_balance=1_000_000, onchain_created_at=1699123456)


@pytest.fixture
def audit_row(db):
    return AuditTrail.objects.create(actor_type="staff", actor="a", action="vault.deposit", method="POST",
                                     path="/vault/deposit", status_code=200, outcome="success")


def test_staff_signs_in_and_sees_the_back_office(live_server, staff, vault_row, browser, tmp_path):
    page = browser.new_page()
    sign_in(page, live_server, staff)
    page.wait_for_selector("#content-main")
    text = page.inner_text("#content-main")
    for section in ["Vaults", "Transactions", "Balance snapshots", "Reconciliation logs", "Audit trail"]:
        assert section in text, section
    page.screenshot(path=screenshot_path(tmp_path, "admin-index.png"), full_page=True)

    page.goto(f"{live_server.url}/admin/vaults/vault/")
    page.wait_for_selector("#result_list")
    # Keys are shortened so the balance columns fit; the full key is the cell's title.
    assert page.locator('#result_list [title="9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"]').count() == 1
    assert "1,000,000" not in page.inner_text("#result_list")  # amounts in USDT, not base units
    assert "1.000000 USDT" in page.inner_text("#result_list")
    # Chain-backed data is read-only: no "add" button on the changelist.
    assert page.locator(".object-tools a.addlink").count() == 0
    assert page.locator("#nav-sidebar").count() == 0 or "Vaults" in page.inner_text("#nav-sidebar")


def test_audit_trail_offers_no_way_to_edit(live_server, staff, audit_row, browser):
    page = browser.new_page()
    sign_in(page, live_server, staff, f"/admin/vaults/audittrail/{audit_row.pk}/change/")
    page.wait_for_selector("#content-main")
    assert "vault.deposit" in page.inner_text("#content-main")
    assert page.locator("input[name=_save]").count() == 0
    assert page.locator("a.deletelink").count() == 0


def test_api_docs_render_the_seed_endpoints_offline(live_server, browser):
    page = browser.new_page()
    requested_hosts = set()
    page.on("request", lambda request: requested_hosts.add(request.url.split("/")[2]))
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".opblock-summary-path", timeout=15_000)
    paths = set(page.locator(".opblock-summary-path").all_inner_texts())
    assert {"/vault/deposit", "/vault/withdraw", "/vault/initialize", "/vault/tvl"} <= {p.strip() for p in paths}
    assert requested_hosts == {live_server.url.split("/")[2]}, requested_hosts


def test_monitoring_dashboard_shows_the_ledgers_tvl(live_server, staff, vault_row, browser, tmp_path):
    page = browser.new_page()
    sign_in(page, live_server, staff, "/admin/monitoring/monitoringdashboard/")
    page.wait_for_selector("#tvl")
    # The one vault row holds 1,000,000 base units.
    assert page.inner_text("#tvl").startswith("1.000000 USDT in 1 open vaults")
    for heading in ["Reconciliation, last 24 h", "TVL over time (hourly snapshots)", "Alerts (last 30 days)"]:
        assert page.locator(f"h2:text-is('{heading}')").count() == 1, heading
    page.screenshot(path=screenshot_path(tmp_path, "admin-dashboard.png"), full_page=True)
