"""Real-browser fixtures: Debian's Chromium driven by Playwright against the session's app.

A failed test leaves a full-page screenshot in `tests/browser/artifacts/`. With
`GAN_STUDIO_SCREENSHOTS=1` the tests also write the README's per-tab screenshots to
`docs/screenshots/`.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import ROOT

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
SCREENSHOTS = ROOT / "docs" / "screenshots"
README_SHOTS = os.environ.get("GAN_STUDIO_SCREENSHOTS") == "1"
VIEWPORT = {"width": 1366 if README_SHOTS else 1280, "height": 900}  # the README's: 1366 px

# Generous waits for work on a busy 2-core CI machine; a failure here is "never", not "slow".
expect.set_options(timeout=120_000)


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (scripts/test.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield ErrorWatchingBrowser(browser)
        browser.close()


class ErrorWatchingBrowser:
    """The browser, each page of which records its JavaScript errors (`pageerror`), for
    `no_page_errors` to fail the test on; everything else is Playwright's `Browser`."""

    def __init__(self, browser) -> None:
        self._browser = browser
        self.page_errors: list[str] = []

    def new_context(self, **kwargs):
        context = self._browser.new_context(**kwargs)
        context.on("page", self._watch)
        return context

    def new_page(self, **kwargs):
        return self.new_context(**kwargs).new_page()

    def _watch(self, page) -> None:
        page.on("pageerror", lambda error: self.page_errors.append(f"{page.url}: {error}"))

    def __getattr__(self, name: str):
        return getattr(self._browser, name)


@pytest.fixture(autouse=True)
def no_page_errors(request):
    """Every browser test fails on a JavaScript error in any page it opened."""
    if "browser" not in request.fixturenames:
        yield
        return
    browser = request.getfixturevalue("browser")
    browser.page_errors.clear()
    yield
    assert browser.page_errors == [], f"JavaScript errors: {browser.page_errors}"


def stop_leftover_runs(services, timeout_s: float = 60) -> None:
    """Stop the long jobs an earlier test left running on the session's app (a closed page
    does not stop its stylisation, projection or training), so that this test's links and
    examples do not queue behind them in the heavy lane."""
    services.stop_all()
    jobs = [services.tuner, services.stylist, services.projector, services.lab, services.video]
    jobs.append(getattr(services, "morpher", None))
    registries = [job.runs for job in jobs if job is not None]
    deadline = time.monotonic() + timeout_s
    while any(runs.active() for runs in registries) and time.monotonic() < deadline:
        time.sleep(0.2)


@pytest.fixture
def page(browser, app_url, app_services, request):
    """A fresh browser session on the app (no job of an earlier test still running), loaded;
    screenshot on failure."""
    stop_leftover_runs(app_services)
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.goto(app_url)
    page.get_by_role("tab", name="Generate").wait_for()
    page.get_by_text("Hub:").wait_for()
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def save_screenshot(page, name: str) -> None:
    """The README's screenshot of a tab, when GAN_STUDIO_SCREENSHOTS=1."""
    if os.environ.get("GAN_STUDIO_SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)
