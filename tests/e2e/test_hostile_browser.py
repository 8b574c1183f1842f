"""Hostile documents in the real browser: the Streamlit UI against the fake API (tests/ui), which
serves a document whose every field holds Markdown links, images, a javascript: link and raw HTML.

Asserts that nothing from document text becomes an <a> or <img> in the DOM, that the text shows
literally, that no request leaves 127.0.0.1, and that the toolbar has no «Deploy» button.
No model and no index: only the UI, the fake API and Chromium. Screenshots: tests/artifacts/.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from urllib.parse import quote, urljoin, urlsplit

import pytest
from browser_support import ARTIFACTS, ROOT, OffHostGuard, streamlit_ui
from playwright.sync_api import Page, expect

sys.path.insert(0, str(ROOT / "tests" / "ui"))  # the fake API lives beside the AppTest tests
from fake_api import (
    HOSTILE_CITATIONS,
    HOSTILE_FIRST_LINE,
    HOSTILE_GENERATED,
    HOSTILE_HTML_QUOTE,
    HOSTILE_ID,
    HOSTILE_QUESTION,
    HOSTILE_SUBMITTER,
    HOSTILE_URL_QUOTE,
    start_fake_api,
)

pytestmark = pytest.mark.browser

LOAD_MS = 60_000


@pytest.fixture(scope="module")
def hostile_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    fake, server = start_fake_api()
    log = tmp_path_factory.mktemp("hostile") / "ui.log"
    try:
        with streamlit_ui(fake.url, log) as url:
            yield url
    finally:
        server.shutdown()
        server.server_close()


def squash(text: str) -> str:
    """Whitespace folded, and the invisible word joiners that keep URLs from becoming links
    (see ui.render.literal) removed: what a reader sees."""
    return " ".join(text.replace("\u2060", "").split())


def assert_only_local_links_and_images(page: Page) -> None:
    """Every <a href> and <img src> on the page points at the UI itself (or is an anchor)."""
    hrefs = page.locator("a[href]").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    srcs = page.locator("img").evaluate_all("els => els.map(e => e.getAttribute('src') || '')")
    for href in hrefs:
        target = urlsplit(urljoin(page.url, href))
        assert (target.scheme, target.hostname) == ("http", "127.0.0.1"), href
    for src in srcs:
        assert src.startswith("data:") or urlsplit(urljoin(page.url, src)).hostname == "127.0.0.1"
    assert page.locator("a[href*='evil'], img[src*='evil'], a[href^='javascript']").count() == 0
    assert page.locator("[onerror]").count() == 0


def assert_no_deploy_button(page: Page) -> None:
    expect(page.get_by_test_id("stToolbar")).to_be_attached()
    assert page.get_by_test_id("stAppDeployButton").count() == 0
    assert page.get_by_role("button", name="Deploy").count() == 0


def test_hostile_answer_shows_document_text_literally(
    hostile_ui: str, page: Page, off_host: OffHostGuard
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{hostile_ui}/?q={quote(HOSTILE_QUESTION)}")
    expect(page.get_by_role("heading", name="Svar")).to_be_visible(timeout=LOAD_MS)
    cards = page.locator(".kilde")
    expect(cards).to_have_count(len(HOSTILE_CITATIONS))
    page.wait_for_timeout(500)

    answer = page.locator(".st-key-svar")
    shown = squash(answer.inner_text())
    for text in (HOSTILE_GENERATED, HOSTILE_SUBMITTER, HOSTILE_URL_QUOTE, HOSTILE_HTML_QUOTE):
        assert squash(text) in shown
    # The only links in the answer are the [n] markers, each to its source card.
    marker_links = answer.locator("a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert marker_links == ["#kilde-1", "#kilde-1", "#kilde-2"]
    assert answer.locator("img, em, code").count() == 0
    assert page.locator(".kilde .innsender").all_inner_texts() == [HOSTILE_SUBMITTER] * 2
    assert squash(cards.nth(0).locator("mark").inner_text()) == HOSTILE_URL_QUOTE
    assert_only_local_links_and_images(page)
    assert_no_deploy_button(page)
    page.screenshot(path=str(ARTIFACTS / "fiendtlig-svar.png"), full_page=True)
    assert off_host.blocked == []


def test_hostile_document_view_is_literal_and_highlights_the_quote(
    hostile_ui: str, page: Page, off_host: OffHostGuard
) -> None:
    quote_ = HOSTILE_CITATIONS[1]
    page.goto(f"{hostile_ui}/dokument?doc={HOSTILE_ID}&start={quote_['start']}&end={quote_['end']}")
    mark = page.locator("mark#treff")
    expect(mark).to_be_visible(timeout=LOAD_MS)
    assert mark.inner_text() == HOSTILE_HTML_QUOTE
    assert squash(page.get_by_role("heading", level=1).inner_text()) == HOSTILE_SUBMITTER
    assert page.locator(".dokument").inner_text().startswith(HOSTILE_FIRST_LINE)
    assert_only_local_links_and_images(page)
    assert_no_deploy_button(page)
    page.screenshot(path=str(ARTIFACTS / "fiendtlig-dokument.png"), full_page=True)
    assert off_host.blocked == []


def test_markdown_in_the_doc_parameter_is_shown_as_text(
    hostile_ui: str, page: Page, off_host: OffHostGuard
) -> None:
    page.goto(f"{hostile_ui}/dokument?doc={quote(HOSTILE_FIRST_LINE)}")
    alert = page.get_by_test_id("stAlert")
    expect(alert).to_contain_text("Fant ikke dokumentet", timeout=LOAD_MS)
    assert squash(alert.inner_text()) == f"Fant ikke dokumentet «{HOSTILE_FIRST_LINE}»."
    assert_only_local_links_and_images(page)
    page.goto(f"{hostile_ui}/dokumenter")
    expect(page.get_by_role("heading", name="Dokumenter i indeksen")).to_be_visible(timeout=LOAD_MS)
    page.wait_for_timeout(1000)
    assert_only_local_links_and_images(page)
    page.screenshot(path=str(ARTIFACTS / "fiendtlig-parameter.png"))
    assert off_host.blocked == []
