"""The /docs explorers in a real headless Chromium: they load clean, sign in, and try-it-out reaches this sandbox.

Chromium is the system's (Debian's ``chromium`` package), driven by Playwright. Without it, or without Playwright,
the tests skip and say why; with ``INVOICE_SANDBOX_REQUIRE_BROWSER=1`` (as .ci/run sets) they fail instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
from conftest import ACME_FULL, ACME_READONLY, API, TODAY, LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.live

CHROMIUM = Path(os.environ.get("INVOICE_SANDBOX_CHROMIUM", "/usr/bin/chromium"))
BROWSER_REQUIRED = os.environ.get("INVOICE_SANDBOX_REQUIRE_BROWSER") == "1"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN_TOKEN = "explorer-admin-token-5b1d"
RENDER_TIMEOUT_MS = 60_000  # the API's spec is large and the machine may be busy


def no_browser(reason: str) -> None:
    """Skip (a plain pytest on a machine without Chromium), or fail where a browser is required (CI)."""
    if BROWSER_REQUIRED:
        pytest.fail(f"{reason} (INVOICE_SANDBOX_REQUIRE_BROWSER=1 requires the browser tests to run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """The system's Chromium, headless, for this module."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        no_browser("Playwright is not installed (pip install -e '.[test]')")
    if not CHROMIUM.is_file():
        no_browser(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set INVOICE_SANDBOX_CHROMIUM)")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        except Error as error:
            no_browser(f"Chromium at {CHROMIUM} does not start: {error.message.splitlines()[0]}")
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[LiveServer]:
    """A strict sandbox with a known admin token, so the control explorer can be signed in to."""
    server = LiveServer(
        "--strict", "--seed", "1", "--today", TODAY, "--rate-limit", "1000000", "--admin-token", ADMIN_TOKEN
    )
    yield server
    server.stop()


class Watched:
    """A fresh page (its own storage) that records console errors, page errors and every URL it requests."""

    def __init__(self, browser: Browser) -> None:
        self.context = browser.new_context()
        self.page: Page = self.context.new_page()
        self.problems: list[str] = []
        self.requested: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("request", lambda request: self.requested.append(request.url))

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.problems.append(f"console error: {message.text}")

    def open(self, url: str, operation_id: str) -> Any:
        """Open ``url`` and wait for the explorer to render the operation ``operation_id``; return its block."""
        self.page.goto(url)
        block = self.page.locator(f"[id^='operations-'][id$='-{operation_id}']")
        block.wait_for(timeout=RENDER_TIMEOUT_MS)
        return block

    def sign_in(self, scheme: str, secret: str) -> None:
        """Use the Authorize dialog: log ``scheme`` out if it is signed in, then sign in with ``secret``."""
        self.page.locator(".auth-wrapper .authorize").click()
        container = self.page.locator(".auth-container").filter(has_text=scheme)
        logout = container.locator("button", has_text="Logout")
        if logout.count():
            logout.click()
        container.locator("input").first.fill(secret)
        container.locator("button", has_text="Authorize").click()
        logout.wait_for()  # the dialog now shows the scheme as signed in
        self.page.locator(".dialog-ux .modal-ux-header .close-modal").click()

    def try_out(self, block: Any, path: str) -> tuple[Any, str]:
        """Expand ``block``, execute it (try-it-out is on), and return the request sent and the status shown."""
        block.locator(".opblock-summary").first.click()
        with self.page.expect_response(lambda response: response.url.split("?")[0].endswith(path)) as answer:
            block.locator("button.execute").click()
        shown = block.locator(".live-responses-table .response .response-col_status").first
        shown.wait_for(timeout=RENDER_TIMEOUT_MS)
        return answer.value.request, shown.inner_text().strip()

    def signed_in_value(self, scheme: str) -> Any:
        """What the explorer will send for ``scheme`` (None when it is not signed in)."""
        return self.page.evaluate(
            "(scheme) => { const auth = window.ui.authSelectors.authorized(); "
            "const value = auth && auth.getIn([scheme, 'value']); return value === undefined ? null : value; }",
            scheme,
        )

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    page = Watched(browser)
    yield page
    page.close()


def test_the_api_explorer_signs_in_and_tries_a_call_against_this_sandbox(watched: Watched, sandbox: LiveServer) -> None:
    block = watched.open(f"{sandbox.base}/docs", "listCustomers")
    assert watched.signed_in_value("bearerAuth") == ACME_FULL  # the banner's example key, preselected

    watched.sign_in("bearerAuth", ACME_READONLY)  # Authorize replaces it with the key the reader types
    request, shown = watched.try_out(block, f"{API}/customers")

    assert request.url.startswith(f"{sandbox.base}{API}/customers")  # the served spec's server is this sandbox
    assert request.headers["authorization"] == f"Bearer {ACME_READONLY}"
    assert shown == "200"
    assert watched.problems == []
    assert [url for url in watched.requested if not url.startswith(sandbox.base)] == []  # no CDN, no other host


def test_the_api_explorer_renders_markdown_schemas_and_examples(watched: Watched, sandbox: LiveServer) -> None:
    block = watched.open(f"{sandbox.base}/docs", "createInvoice")
    block.locator(".opblock-summary").first.click()
    body = block.locator(".body-param__text, textarea.body-param__text")
    body.first.wait_for(timeout=RENDER_TIMEOUT_MS)
    assert '"customer_id"' in body.first.input_value()  # try-it-out starts from an example body, not an empty one
    assert block.locator(".responses-table .response[data-code='422']").count() == 1  # the errors are listed too
    description = watched.page.locator(".information-container .info .description").first
    assert "<strong>" in description.inner_html()  # Markdown rendered, not shown raw
    assert "**" not in description.inner_text()
    schemas = requests.get(f"{sandbox.base}/openapi.json", timeout=10).json()["components"]["schemas"]
    shown_schemas = watched.page.locator("section.models .json-schema-2020-12__title")
    assert shown_schemas.count() == len(schemas)  # every schema is browsable
    assert watched.problems == []


def test_the_control_explorer_takes_the_admin_token_and_never_holds_it(watched: Watched, sandbox: LiveServer) -> None:
    page = watched.page
    block = watched.open(f"{sandbox.base}/__sandbox/docs", "getSandbox")
    assert ADMIN_TOKEN not in page.content()
    assert watched.signed_in_value("adminToken") is None

    watched.sign_in("adminToken", ADMIN_TOKEN)
    request, shown = watched.try_out(block, "/__sandbox")

    assert request.headers["authorization"] == f"Bearer {ADMIN_TOKEN}"
    assert shown == "200"
    assert watched.problems == []
