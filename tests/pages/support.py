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


class AsgiServer:
    """daphne serving vaultsite.asgi (HTTP, static files and /ws) on the test database and Redis,
    in a subprocess on a loopback port; stop() and start() again on the same port simulate a
    dropped connection."""

    STARTUP_SECONDS = 30

    def __init__(self, log_path: Path):
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.log_path = log_path
        self.process = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _env(self) -> dict:
        from django.conf import settings

        db = settings.DATABASES["default"]  # the test database pytest-django created
        credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        if db["HOST"].startswith("/"):
            url = f"postgresql://{credentials}@/{db['NAME']}?host={db['HOST']}"
        else:
            url = f"postgresql://{credentials}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
        return {**os.environ, "DJANGO_SETTINGS_MODULE": "vaultsite.settings.test", "DATABASE_URL": url,
                "TEST_REDIS_URL": settings.REDIS_URL, "SERVE_STATIC": "1", "PYTHONUNBUFFERED": "1"}

    def start(self) -> None:
        import socket
        import subprocess
        import sys
        import time

        root = Path(__file__).resolve().parents[2]
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port),
                                             "vaultsite.asgi:application"], cwd=root, env=self._env(), stdout=log,
                                            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.STARTUP_SECONDS
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited:\n{self.log_path.read_text()}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"daphne did not listen:\n{self.log_path.read_text()}")
            time.sleep(0.1)

    def stop(self) -> None:
        import subprocess

        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
