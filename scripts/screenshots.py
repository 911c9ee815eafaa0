#!/usr/bin/env python
"""Screenshots of a running back office (`make run DEMO=1`) for docs/img/: the live pages and the
staff console, in headless Chromium, signed in with the admin login make run created.

    .venv/bin/python scripts/screenshots.py http://127.0.0.1:3000 [--data-dir .data] [--out docs/img]
"""
import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from django_otp.oath import totp
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("--data-dir", default=str(ROOT / ".data"))
    parser.add_argument("--out", default=str(ROOT / "docs" / "img"))
    options = parser.parse_args()
    base, out = options.base.rstrip("/"), Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    login = json.loads((Path(options.data_dir) / "staff.json").read_text())
    wallets = [w["pubkey"] for w in json.loads((Path(options.data_dir) / "localnet.json").read_text())["wallets"]]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/")
        page.wait_for_selector("#stream-status.live")
        page.wait_for_timeout(6000)  # a few live events arrive
        page.screenshot(path=str(out / "live-index.png"), full_page=True)
        page.goto(f"{base}/vaults/{wallets[0]}")
        page.wait_for_selector("#stream-status.live")
        page.wait_for_timeout(4000)
        page.screenshot(path=str(out / "live-vault.png"), full_page=True)

        page.goto(f"{base}/admin/login/?next=/admin/")
        page.fill("#id_username", login["username"])
        page.fill("#id_password", login["password"])
        page.screenshot(path=str(out / "sign-in.png"))
        if 30 - time.time() % 30 < 3:
            time.sleep(3)
        page.fill("#id_otp_token", f"{totp(bytes.fromhex(login['totp_key'])):06d}")
        page.click("input[type=submit]")
        page.wait_for_selector("#content-main")
        page.screenshot(path=str(out / "admin-index.png"), full_page=True)
        for path, name in (("/admin/monitoring/monitoringdashboard/", "admin-dashboard.png"),
                           ("/admin/console/chainadminaction/", "chain-admin.png")):
            page.goto(f"{base}{path}")
            page.wait_for_selector("#content-main")
            page.screenshot(path=str(out / name), full_page=True)
        page.goto(f"{base}/admin/vaults/vault/")
        page.screenshot(path=str(out / "vault-list.png"), full_page=True)
        page.click("#result_list tbody tr:first-child th a")
        page.wait_for_selector("#side-by-side")
        page.click("#reconcile-now button")  # so the page shows a reconciliation in its history
        page.wait_for_selector("ul.messagelist")
        page.screenshot(path=str(out / "vault-page.png"), full_page=True)
        page.goto(f"{base}/admin/monitoring/alert/")
        link = page.locator("#result_list tbody tr:first-child th a")
        if link.count():
            link.click()
            page.wait_for_selector("#workflow-status")
            if page.locator("button[value=acknowledge]").count():
                page.fill("textarea[name=note]", "demo: a large withdrawal by a dev wallet, expected")
                page.click("button[value=acknowledge]")
                page.wait_for_selector("ul.messagelist")
            page.screenshot(path=str(out / "alert-workflow.png"), full_page=True)
        browser.close()
    print(f"screenshots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
