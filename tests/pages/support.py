"""Shared by the browser tests: Chromium, sign-in with the authenticator code, ORM reads from
another thread (Playwright's event loop makes Django refuse synchronous ORM calls in this one),
and where screenshots go."""
from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def in_thread(fn):
    """Runs a Django ORM read outside Playwright's thread."""
    def run():
        from django.db import connection

        try:
            return fn()
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def screenshot_path(tmp_path: Path, name: str) -> str:
    """SCREENSHOT_DIR=docs/img makes the tests refresh the committed screenshots."""
    directory = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)
    return str(directory / name)


def sign_in(page, base_url: str, staff, next_path: str = "/admin/", *, code: str | None = None) -> None:
    from tests.console.staff import wait_for_fresh_step

    wait_for_fresh_step()
    page.goto(f"{base_url}/admin/login/?next={next_path}")
    page.fill("#id_username", staff.username)
    page.fill("#id_password", staff.password)
    page.fill("#id_otp_token", staff.code() if code is None else code)
    page.click("input[type=submit]")
