"""Hostile documents in the real browser: the Streamlit UI against the fake API (tests/ui), which
serves documents whose every field holds Markdown links, images, a javascript: link and raw HTML,
and topics that are Markdown.

Every page and every table is visited: the answer with its sources and its «Oversikt per
innsender» table, the document view, the documents page with its metadata table, its template
groups and its document picker, the overview matrix with its quotes, and the comparison.
Asserts that nothing from document text becomes an <a> or <img> in the DOM (the only links are
the UI's own, built from ids), that the text shows literally, that no request leaves 127.0.0.1,
and that the toolbar has no «Deploy» button. No model and no index: only the UI, the fake API
and Chromium. Screenshots: tests/artifacts/.
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
    HOSTILE_TOPIC,
    HOSTILE_URL_QUOTE,
    IMAGE_ID,
    IMAGE_QUOTE,
    IMAGE_SUBMITTER,
    TABLE_QUESTION,
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


def test_the_answers_overview_table_is_literal(
    hostile_ui: str, page: Page, off_host: OffHostGuard
) -> None:
    page.goto(f"{hostile_ui}/?q={quote(TABLE_QUESTION)}")
    overview = page.get_by_test_id("stExpander").filter(has_text="Oversikt per innsender")
    expect(overview).to_be_visible(timeout=LOAD_MS)
    overview.get_by_text("Oversikt per innsender").click()  # collapsed on the answer page
    table = page.get_by_test_id("stTable")
    expect(table).to_have_count(1)
    shown = squash(table.inner_text())
    for text in (HOSTILE_SUBMITTER, IMAGE_SUBMITTER, IMAGE_QUOTE, HOSTILE_URL_QUOTE):
        assert squash(text) in shown
    page.wait_for_timeout(500)
    assert_only_local_links_and_images(page)
    page.screenshot(path=str(ARTIFACTS / "fiendtlig-oversikt-svar.png"), full_page=True)
    assert off_host.blocked == []


def test_the_documents_page_tables_and_picker_are_literal(
    hostile_ui: str, page: Page, off_host: OffHostGuard
) -> None:
    """A shared-text table once rendered names as Markdown: the browser fetched
    https://evil.example/ for a submitter named like an image. The template groups are HTML
    with every name escaped and one link, to «Sammenlign» with the group's ids."""
    page.goto(f"{hostile_ui}/dokumenter")
    expect(page.get_by_role("heading", name="Maler: innspill med samme tekst")).to_be_visible(
        timeout=LOAD_MS
    )
    groups = page.locator("table.maler")
    expect(groups).to_have_count(1)
    shown = squash(groups.inner_text())
    assert squash(HOSTILE_SUBMITTER) in shown and squash(IMAGE_SUBMITTER) in shown
    hrefs = groups.locator("a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert [urlsplit(h).path for h in hrefs] == ["sammenlign"]
    expect(page.get_by_test_id("stDataFrame")).to_be_visible()
    picker = page.get_by_test_id("stSelectbox").filter(has_text="Åpne et dokument")
    picker.click()  # the picker's options: submitter — title
    options = page.get_by_role("option")
    expect(options.first).to_be_visible()
    labels = [squash(t) for t in options.all_inner_texts()]
    assert squash(f"{IMAGE_SUBMITTER} — B") in labels
    page.wait_for_timeout(1000)
    assert_only_local_links_and_images(page)
    page.screenshot(path=str(ARTIFACTS / "fiendtlig-dokumenter.png"), full_page=True)
    assert off_host.blocked == []


def test_the_overview_matrix_and_its_quotes_are_literal(
    hostile_ui: str, page: Page, off_host: OffHostGuard
) -> None:
    page.goto(f"{hostile_ui}/oversikt")  # the default topics: GET /topics, one of them Markdown
    table = page.locator("table.matrise")
    expect(table).to_be_visible(timeout=LOAD_MS)
    headers = [squash(h) for h in table.locator("thead th").all_inner_texts()]
    assert headers[:2] == ["Innsender", "Temaer"]
    assert headers[2].startswith(squash(HOSTILE_TOPIC))
    title = table.locator("thead th.tema").first.get_attribute("title") or ""
    assert title.startswith(HOSTILE_TOPIC) and "2 av 3 organisasjon" in title
    rows = [squash(r) for r in table.locator("tbody th[scope=row]").all_inner_texts()]
    assert squash(HOSTILE_SUBMITTER) in rows and squash(IMAGE_SUBMITTER) in rows
    quotes = page.locator(".st-key-sitater")  # the first topic's quotes, fetched when shown
    expect(quotes.locator(".kilde").first).to_be_visible(timeout=LOAD_MS)
    assert squash(IMAGE_QUOTE) in squash(quotes.inner_text())
    page.wait_for_timeout(500)
    assert_only_local_links_and_images(page)
    page.screenshot(path=str(ARTIFACTS / "fiendtlig-matrise.png"), full_page=True)
    assert off_host.blocked == []


def test_the_comparison_is_literal(hostile_ui: str, page: Page, off_host: OffHostGuard) -> None:
    params = f"q={quote(HOSTILE_QUESTION)}&s={HOSTILE_ID}&s={IMAGE_ID}"
    page.goto(f"{hostile_ui}/sammenlign?{params}")
    columns = page.locator(".kolonne")
    expect(columns.first).to_be_visible(timeout=LOAD_MS)
    assert [squash(t) for t in columns.locator("h4").all_inner_texts()] == [
        squash(HOSTILE_SUBMITTER),
        squash(IMAGE_SUBMITTER),
    ]
    assert squash(IMAGE_QUOTE) in squash(columns.nth(1).inner_text())
    page.wait_for_timeout(500)
    assert_only_local_links_and_images(page)
    page.screenshot(path=str(ARTIFACTS / "fiendtlig-sammenlign.png"), full_page=True)
    assert off_host.blocked == []
