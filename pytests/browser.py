"""Load pages in a real headless Chromium (Debian's package) and collect what went wrong.

Playwright drives the system browser (``chromium`` on the PATH, or
``SHOPLAKE_CHROMIUM``); it is never allowed to download one: ``PLAYWRIGHT_BROWSERS_PATH``
points at an empty temporary directory while the browser runs. If Chromium cannot start,
the calling test fails with the reason (it never skips).

Every page load records console errors, uncaught page errors, failed requests and HTTP
error responses, and any request that tries to leave the machine: such requests are
aborted (the build machines have no internet, and the pages must not need it).

Typical use from a test::

    from browser import chromium, open_page, screenshot_path

    with chromium() as browser, open_page(browser, url) as (page, check):
        page.click("text=Europe")
        page.screenshot(path=screenshot_path("dashboard-europe"), full_page=True)
    assert not check.problems, check.problems

or, for a plain "does it load cleanly" check with a screenshot::

    check = load_page(url, "docs-home")
    assert not check.problems, check.problems
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[1]
#: Hosts a page may talk to: the test's own servers.
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
#: URL schemes that never touch the network.
LOCAL_SCHEMES = frozenset({"file", "data", "blob", "about"})


def screenshot_dir() -> Path:
    """``$SHOPLAKE_SCREENSHOT_DIR``, else ``test-artifacts/screenshots/`` in the repository."""
    configured = os.environ.get("SHOPLAKE_SCREENSHOT_DIR")
    path = Path(configured) if configured else REPO / "test-artifacts" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def screenshot_path(name: str) -> Path:
    """Where a screenshot called ``name`` goes (``.png`` added); xdist workers share the
    directory, so names should say which test took them."""
    return screenshot_dir() / f"{name}.png"


def chromium_executable() -> str:
    found = os.environ.get("SHOPLAKE_CHROMIUM") or (
        shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if not found:
        pytest.fail(
            "Chromium not found: install Debian's `chromium` package (make chromium) "
            "or set SHOPLAKE_CHROMIUM to a Chromium binary",
            pytrace=False,
        )
    return found


@contextlib.contextmanager
def chromium() -> Iterator:
    """A headless Chromium (a Playwright ``Browser``), closed afterwards."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    executable = chromium_executable()
    saved = os.environ.get("PLAYWRIGHT_BROWSERS_PATH")
    with tempfile.TemporaryDirectory(prefix="shoplake-no-browser-downloads-") as empty:
        os.environ["PLAYWRIGHT_BROWSERS_PATH"] = empty
        try:
            with sync_playwright() as playwright:
                try:
                    browser = playwright.chromium.launch(
                        executable_path=executable,
                        args=["--no-sandbox", "--disable-gpu"],
                        headless=True,
                    )
                except PlaywrightError as exc:
                    reason = str(exc).strip().splitlines()[0]
                else:
                    reason = ""
                if reason:  # outside the except block: one clear message
                    pytest.fail(f"Chromium ({executable}) could not start: {reason}", pytrace=False)
                try:
                    yield browser
                finally:
                    browser.close()
        finally:
            if saved is None:
                os.environ.pop("PLAYWRIGHT_BROWSERS_PATH", None)
            else:
                os.environ["PLAYWRIGHT_BROWSERS_PATH"] = saved


@dataclass
class PageCheck:
    """What went wrong while a page was open (lists fill while the page lives)."""

    url: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    screenshot: Path | None = None

    @property
    def problems(self) -> list[str]:
        return (
            [f"console error: {m}" for m in self.console_errors]
            + [f"page error: {m}" for m in self.page_errors]
            + [f"failed request: {m}" for m in self.failed_requests]
            + [f"external request (blocked): {m}" for m in self.external_requests]
        )


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in LOCAL_SCHEMES or (parts.hostname or "") in LOCAL_HOSTS


@contextlib.contextmanager
def open_page(
    browser, url: str, *, width: int = 1440, height: int = 900
) -> Iterator[tuple[object, PageCheck]]:
    """Open ``url`` in a fresh browser context and wait until the network is idle;
    yields the Playwright ``Page`` and the :class:`PageCheck` that records problems."""
    check = PageCheck(url)
    context = browser.new_context(viewport={"width": width, "height": height})
    try:

        def route(route_, request) -> None:
            if _is_local(request.url):
                route_.continue_()
            else:
                check.external_requests.append(request.url)
                route_.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.on(
            "console",
            lambda msg: (
                check.console_errors.append(f"{msg.text} ({msg.location.get('url', '')})")
                if msg.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda exc: check.page_errors.append(str(exc)))
        page.on(
            "requestfailed",
            lambda req: (
                check.failed_requests.append(f"{req.url}: {req.failure}")
                if _is_local(req.url)
                else None
            ),
        )
        page.on(
            "response",
            lambda resp: (
                check.failed_requests.append(f"{resp.url}: HTTP {resp.status}")
                if resp.status >= 400
                else None
            ),
        )
        page.goto(url, wait_until="networkidle")
        yield page, check
    finally:
        context.close()


def load_page(
    url: str,
    screenshot: str | None = None,
    *,
    browser=None,
    wait_for: str | None = None,
    width: int = 1440,
    height: int = 900,
) -> PageCheck:
    """Load a page, optionally wait for a selector, take a full-page screenshot named
    ``screenshot`` (see :func:`screenshot_path`); returns what went wrong. Starts its own
    Chromium unless ``browser`` is given."""
    with contextlib.ExitStack() as stack:
        if browser is None:
            browser = stack.enter_context(chromium())
        page, check = stack.enter_context(open_page(browser, url, width=width, height=height))
        if wait_for:
            page.wait_for_selector(wait_for)
        if screenshot:
            check.screenshot = screenshot_path(screenshot)
            page.screenshot(path=str(check.screenshot), full_page=True)
        return check
