"""The web console in a real Chromium (Debian's `chromium`, driven by Playwright for Python) against
`beacon dev` in a subprocess: one stack and one browser for the package (the console's story and the
signup form's each make their own account on it).

`make test` installs chromium where it is root with apt (CI); elsewhere these tests fail with the
command that installs it: they never skip. Screenshots of every page, at a desktop's and a phone's
width, go to .beacon/screenshots/ (git-ignored): look at them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from beacon_local.client import Client
from tests.e2e.conftest import START_TIMEOUT, DevStack, start_dev

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / ".beacon" / "screenshots"
CHROMIUM = Path(os.environ.get("CHROMIUM") or "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# a slow tenant rate, so a campaign of a few dozen people is still sending when the test pauses it
STACK_PARAMETERS = ("--parameter", "TenantSendRatePerSecond=2")
# a CSV of more than 20 rows is imported by the jobs function, 10 rows a step: the console's
# background-import path (a 202 job it follows) with files a test can hold; the messy sheet (10 rows)
# still goes the synchronous way
STACK_ENV = {"BEACON_IMPORT_SYNC_ROWS": "20", "BEACON_IMPORT_STEP_ROWS": "10"}
# a shared 2-core machine: an argon2 sign-up or a stats Query may take seconds (never a timing claim)
expect.set_options(timeout=20_000)


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"the browser tests need Chromium at {CHROMIUM}: run `sudo apt-get install chromium` "
                    "(make test installs it when it runs as root with apt), or set CHROMIUM=/path/to/it")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
    yield instance
    instance.close()


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    running = start_dev(tmp_path_factory.mktemp("browser"), *STACK_PARAMETERS, env=STACK_ENV)
    try:
        # the socket accepts before the stack is ready (it is bound first): wait for a real answer
        deadline = time.monotonic() + START_TIMEOUT
        while Client(running.base_url, timeout=START_TIMEOUT).get("/").status != 200:
            assert time.monotonic() < deadline, running.output()
            time.sleep(0.5)
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def context(browser: Browser, stack: DevStack) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport=DESKTOP, base_url=stack.base_url, locale="en-GB", timezone_id="Europe/Berlin")
    ctx.set_default_timeout(20_000)
    yield ctx
    ctx.close()


@pytest.fixture(scope="module")
def page(context: BrowserContext) -> Iterator[Page]:
    """One tab for the module's story; a page error or a console error fails the test that caused it."""
    tab = context.new_page()
    problems: list[str] = []
    blocked: list[str] = []  # what the preview's sandbox refused to run: the tests expect it there

    def on_console(msg: Any) -> None:
        if msg.type != "error" or "status of 4" in msg.text:  # a 4xx answer the page handles
            return
        (blocked if "about:srcdoc" in msg.text and "sandboxed" in msg.text else problems).append(msg.text)

    tab.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    tab.on("console", on_console)
    tab.on("dialog", lambda dialog: (problems.append(f"a dialog opened: {dialog.message}"), dialog.dismiss()))
    tab.problems = problems  # type: ignore[attr-defined]
    tab.blocked = blocked  # type: ignore[attr-defined]
    yield tab
    tab.close()


@pytest.fixture(autouse=True)
def no_page_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "page" in request.fixturenames:
        tab = request.getfixturevalue("page")
        problems = list(tab.problems)
        tab.problems.clear()
        assert not problems, problems


def snap(page: Page, name: str) -> None:
    """Screenshots at a desktop's and a phone's width; at the phone's, nothing may be wider than it."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(150)
    page.screenshot(path=str(SHOTS / f"{name}-desktop.png"), full_page=True)
    page.set_viewport_size(PHONE)
    try:
        page.wait_for_timeout(200)
        page.screenshot(path=str(SHOTS / f"{name}-phone.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= PHONE["width"], f"{name} is {overflow} px wide at a phone's {PHONE['width']} px"
    finally:
        page.set_viewport_size(DESKTOP)
