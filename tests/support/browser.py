"""Headless Chromium for the UI tests: Playwright's sync API driving the system's /usr/bin/chromium.

Browsers cannot be downloaded here, so Playwright launches the Debian package. ``launch`` gives
each run a fresh temporary profile (Playwright creates and deletes the user-data dir itself), and
``UiPage`` adds what every UI test needs: sign in, wait for the app to settle, fail on any
JavaScript error or Content-Security-Policy violation, and save screenshots to
``tests/artifacts/screenshots/`` (gitignored) so a person can look at each main page.

``Api`` is the REST side of a UI test: it checks what the server holds after each UI action, so a
test cannot pass on what the page merely drew.

Use the ``chromium`` fixture (import it into the test module) and ``open_page``::

    def test_x(chromium, stack):
        with open_page(chromium, stack.url) as ui:
            ui.sign_in("admin", "Harbor12345")
            ui.screenshot("projects")
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
DESKTOP = {"width": 1360, "height": 860}
PHONE = {"width": 390, "height": 844}
# Console lines that are not faults of the page: a failed request is reported by the browser as
# "Failed to load resource" even when the app handles it (a 401 before sign-in, a 404 probe).
_EXPECTED_CONSOLE = re.compile(r"Failed to load resource")


class _Shared:
    """The one Playwright driver and browser of this process.

    Each test module imports the fixture, so pytest sees one session fixture per module; they
    must share one driver, because Playwright's sync API allows a single driver per thread.
    """

    playwright: Playwright | None = None
    browser: Browser | None = None
    users = 0


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """One headless Chromium per test process; each page gets its own fresh context."""
    if _Shared.users == 0:
        _Shared.playwright = sync_playwright().start()
        _Shared.browser = launch(_Shared.playwright)
    _Shared.users += 1
    try:
        yield _Shared.browser
    finally:
        _Shared.users -= 1
        if _Shared.users == 0:
            _Shared.browser.close()
            _Shared.playwright.stop()
            _Shared.browser = _Shared.playwright = None


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


class UiPage:
    """A browser tab on Berth with helpers for the flows the UI tests repeat."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url.rstrip("/")
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("console", self._on_console)

    def _on_console(self, message) -> None:
        if message.type == "error" and not _EXPECTED_CONSOLE.search(message.text):
            self.errors.append(f"console: {message.text}")

    def goto(self, path: str) -> None:
        self.page.goto(self.base_url + path)
        self.settle()

    def settle(self) -> None:
        """Wait until the app has drawn the page and nothing on it is still loading.

        The app marks #app aria-busy while a page draws and shows .loading / .is-loading while
        parts of it fetch; network idleness says nothing after in-app (pushState) navigation.
        """
        self.page.locator("#app:not([aria-busy])").wait_for()
        expect(self.page.locator(".table-wrap.is-loading, .loading")).to_have_count(0)

    def sign_in(self, username: str, password: str) -> None:
        self.goto("/account/sign-in")
        self.page.get_by_label("User name").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url("**/harbor/projects")
        self.settle()

    def sign_out(self) -> None:
        self.page.locator(".user-menu .dropdown-toggle").click()
        self.page.get_by_role("menuitem", name="Sign out").click()
        self.page.wait_for_url("**/account/sign-in")

    def screenshot(self, name: str, *, full_page: bool = True) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        if full_page:
            # Sticky bars are drawn where the page is scrolled to: capture from the top.
            self.page.evaluate("window.scrollTo(0, 0)")
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def field_error(self, label: str):
        """The inline error shown under the form field labelled ``label``."""
        return self.page.locator(".field", has=self.page.get_by_label(label, exact=True)).locator(".field-error")

    def assert_clean(self) -> None:
        """No JavaScript error and no CSP violation happened on this page."""
        assert self.errors == [], "\n".join(self.errors)


@contextlib.contextmanager
def open_page(browser: Browser, base_url: str, *, viewport: dict | None = None, locale: str = "en-US") -> Iterator[UiPage]:
    """A fresh browser context (own cookies and storage) with one tab on ``base_url``."""
    context = browser.new_context(viewport=viewport or DESKTOP, locale=locale)
    context.set_default_timeout(15_000)
    try:
        yield UiPage(context.new_page(), base_url)
    finally:
        context.close()


class Api:
    """A signed-in REST client (session cookie + CSRF header) for setting up and checking UI tests."""

    def __init__(self, url: str, username: str, password: str) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()
        response = self.session.post(f"{self.url}/c/login", data={"principal": username, "password": password}, timeout=30)
        response.raise_for_status()
        self.session.headers["X-Harbor-CSRF-Token"] = response.headers["X-Harbor-CSRF-Token"]

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, f"{self.url}/api/v2.0{path}", timeout=30, **kwargs)

    def get(self, path: str, **params) -> requests.Response:
        return self.request("GET", path, params=params)

    def json(self, path: str, **params):
        response = self.get(path, **params)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict) -> requests.Response:
        response = self.request("POST", path, json=body)
        response.raise_for_status()
        return response

    def put(self, path: str, body: dict) -> requests.Response:
        response = self.request("PUT", path, json=body)
        response.raise_for_status()
        return response

    def delete(self, path: str) -> requests.Response:
        return self.request("DELETE", path)
