"""Drive the admin console in real Chromium against a live server on loopback.

The console needs no WebRTC, so unlike the meeting page it needs no network namespace: the
server (tests/functional/live_server.py) listens on 127.0.0.1 in a thread of the test process
and Chromium, started with background networking off, talks only to it.

``Console`` is one signed-in user: a browser context of its own (its own sessionStorage, so its
own token) and one page.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "admin"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: How long Playwright waits for something to appear (a wait, not an assertion about speed).
WAIT_MS = 30_000


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Debian Chromium driven by Playwright; skipped when either is missing (a skip
    that tests/conftest.py turns into a failure in CI)."""
    if not (Path(CHROMIUM).exists() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (Debian package chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright==1.65.2)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


class Console:
    def __init__(self, browser: Any, base: str, token: str | None) -> None:
        self.base = base
        self.token = token
        self.context = browser.new_context(
            viewport={"width": 1280, "height": 900}, accept_downloads=True
        )
        self.context.set_default_timeout(WAIT_MS)
        self.page = self.context.new_page()
        self.console_errors: list[str] = []
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda exc: self.console_errors.append(str(exc)))

    def _on_console(self, message: Any) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def sign_in(self, next_path: str = "/admin/") -> None:
        """Sign in through the form, as a person would, and land on ``next_path``."""
        assert self.token is not None
        self.page.goto(self.url(next_path))
        self.page.wait_for_url("**/admin/sign-in**")
        self.page.get_by_label("Access token").fill(self.token)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(self.url(next_path))
        self.page.locator("#identity").wait_for()

    def goto(self, path: str) -> None:
        self.page.goto(self.url(path))

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()
