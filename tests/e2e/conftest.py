"""Fixtures of the browser tests: headless Chromium and a page whose requests to any host but
127.0.0.1 are aborted and recorded (`off_host.blocked`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, OffHostGuard
from playwright.sync_api import Browser, Page, sync_playwright


@pytest.fixture(scope="session")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def off_host() -> OffHostGuard:
    return OffHostGuard()


@pytest.fixture
def page(browser: Browser, off_host: OffHostGuard) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="nb-NO")
    context.route("**/*", off_host)
    yield context.new_page()
    context.close()
