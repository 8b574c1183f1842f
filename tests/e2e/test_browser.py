"""End to end: the real API over the seeds index, the Streamlit UI, and headless Chromium.

Uses the session's seeds index (tests/conftest.py), starts `rag serve` and
`streamlit run ui/app.py` on free ports on 127.0.0.1, asks the example question through a
shareable `?q=` link and follows a source into the document view. Screenshots go to
tests/artifacts/ (gitignored). Nothing reaches beyond 127.0.0.1.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from browser_support import (
    ARTIFACTS,
    BIN,
    OffHostGuard,
    start,
    stop,
    streamlit_ui,
    wait_until_up,
)
from live_server import free_port
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.slow, pytest.mark.browser]

QUESTION = "Hva sier kommunene om fastlegeordningen?"
ANSWER_MS = 180_000


@pytest.fixture(scope="session")
def api_url(seeds_index: Path, work_dir: Path) -> Iterator[str]:
    port = free_port()
    log = work_dir / "api.log"
    env = {**os.environ, "RAG_INDEX__CACHE_DIR": str(work_dir / "cache")}
    process = start(
        [str(BIN / "rag"), "serve", "--index", str(seeds_index), "--port", str(port)], log, env
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/health", process, log)
        yield url
    finally:
        stop(process)


@pytest.fixture(scope="session")
def ui_url(api_url: str, work_dir: Path) -> Iterator[str]:
    with streamlit_ui(api_url, work_dir / "ui.log") as url:
        yield url


def squash(text: str) -> str:
    return " ".join(text.split())


def test_question_link_shows_cited_answer_and_opens_the_source(
    ui_url: str, page: Page, off_host: OffHostGuard
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    page.goto(f"{ui_url}/?q={quote(QUESTION)}")
    expect(page.get_by_role("heading", name="Svar")).to_be_visible(timeout=ANSWER_MS)
    expect(page.get_by_label("Spørsmål")).to_have_value(QUESTION)
    cards = page.locator(".kilde")
    expect(cards.first).to_be_visible()
    page.wait_for_timeout(500)  # let the remaining cards settle before reading them

    submitters = set(page.locator(".kilde .innsender").all_inner_texts())
    assert len(submitters) >= 3, submitters
    answer = page.locator(".st-key-svar")
    for submitter in submitters:
        expect(answer).to_contain_text(submitter)
    assert page.locator(".kilde mark").count() == cards.count()
    overview = page.get_by_test_id("stExpander").filter(has_text="Oversikt per innsender")
    expect(overview).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "svar.png"))
    overview.get_by_text("Oversikt per innsender").click()  # collapsed under the answer
    expect(overview.get_by_test_id("stTable")).to_be_visible()
    overview.scroll_into_view_if_needed()
    page.locator(".st-key-svar").evaluate("e => e.closest('.stMain').scrollBy(0, -80)")
    page.screenshot(path=str(ARTIFACTS / "oversikt.png"))

    # A [n] marker in the answer leads to its source card.
    last = (cards.last.locator("h4").get_attribute("id") or "").removeprefix("kilde-")
    page.get_by_role("link", name=f"[{last}]", exact=True).first.click()
    expect(page.locator(f"#kilde-{last}")).to_be_in_viewport()

    # Open the source whose quote lies deepest in its document: the view must scroll to it.
    links = page.get_by_role("link", name="Vis i dokumentet")
    starts = [
        int(parse_qs(urlsplit(links.nth(i).get_attribute("href") or "").query)["start"][0])
        for i in range(links.count())
    ]
    chosen = starts.index(max(starts))
    quote_in_card = squash(cards.nth(chosen).locator("mark").inner_text())
    links.nth(chosen).click()

    page.wait_for_url("**/dokument?*")
    mark = page.locator("mark#treff")
    expect(mark).to_be_visible(timeout=30_000)
    expect(mark).to_be_in_viewport()
    assert squash(mark.inner_text()) == quote_in_card
    assert page.locator(".dokument script").count() == 0
    page.screenshot(path=str(ARTIFACTS / "dokument.png"))

    page.get_by_role("link", name="Tilbake til svaret").click()
    expect(page.get_by_role("heading", name="Svar")).to_be_visible(timeout=ANSWER_MS)
    assert off_host.blocked == []
