"""End to end: «Oversikt» and «Sammenlign» in headless Chromium over the real API and seeds.

Opens both pages through shareable links (`oversikt?topics=…`, `sammenlign?q=…&s=…`), clicks a
matrix cell and checks that its quote is highlighted in the document. The API runs in-process
(tests/live_server.py), the UI as `streamlit run ui/app.py`; every request to a host other than
127.0.0.1 is aborted. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from browser_support import ARTIFACTS, OffHostGuard, streamlit_ui
from live_server import serving, settings_for
from playwright.sync_api import Page, expect

from rag.api import create_app

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PAGE_MS = 180_000
TOPICS = ("fastlegeordningen", "legevakt", "vulkanutbrudd på Island")
MOSS, AHUS, BERGEN = "000_1151dadce9b0985f", "001_7127cb6351a76271", "003_3d69ec6ad6cea8a3"


@pytest.fixture(scope="module")
def workbench_api(seeds_index: Path) -> Iterator[str]:
    with serving(create_app(settings_for(seeds_index))) as url:
        yield url


@pytest.fixture(scope="module")
def workbench_ui(workbench_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with streamlit_ui(workbench_api, tmp_path_factory.mktemp("workbench-ui") / "ui.log") as url:
        yield url


@pytest.fixture(autouse=True)
def nothing_left_the_machine(off_host: OffHostGuard) -> Iterator[None]:
    yield
    assert off_host.blocked == []


def squash(text: str) -> str:
    return " ".join(text.split())


def test_overview_link_shows_the_matrix_and_a_cell_opens_its_quote(
    workbench_ui: str, workbench_api: str, page: Page
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{workbench_ui}/oversikt?{urlencode([('topics', t) for t in TOPICS])}")
    table = page.locator("table.matrise")
    expect(table).to_be_visible(timeout=PAGE_MS)
    headers = [squash(h) for h in table.locator("thead th").all_inner_texts()]
    assert headers[:2] == ["Innsender", "Temaer"]
    assert headers[2].startswith("fastlegeordningen")
    # The page shows what the API decided (whether every seed discusses a topic is the API's
    # to test: tests/api/test_workbench_api.py).
    body = {"topics": list(TOPICS)}
    decided = httpx.post(f"{workbench_api}/matrix", json=body, timeout=600).json()
    titles = [t.get_attribute("title") or "" for t in table.locator("thead th.tema").all()]
    assert table.locator("tbody th[scope=row]").count() == 5
    for column, topic in enumerate(TOPICS):
        mentioned = sum(c["mentioned"] for c in decided["cells"] if c["topic"] == topic)
        counts = [c for c in decided["counts"] if c["topic"] == topic]
        kinds = ", ".join(f"{c['mentioned']} av {c['total']}" for c in counts)
        assert titles[column].startswith(f"{topic}: {mentioned} av 5"), titles[column]
        assert all(f"{c['mentioned']} av {c['total']}" in titles[column] for c in counts), kinds
        # Each row: its name, how many topics it mentions, then one cell per topic.
        marks = table.locator(f"tbody tr td:nth-child({column + 3}) a")
        assert marks.count() == mentioned, topic
    assert titles[2].startswith("vulkanutbrudd på Island: 0 av 5")  # nothing about volcanoes
    fastlege_marks = table.locator("tbody tr td:nth-child(3) a")
    page.screenshot(path=str(ARTIFACTS / "arbeidsbenk-oversikt.png"), full_page=True)

    # The page asks for the marks alone: the quote a mark opens is the document's own text.
    cell = fastlege_marks.nth(1)
    query = parse_qs(urlsplit(cell.get_attribute("href") or "").query)
    start, end = int(query["start"][0]), int(query["end"][0])
    text = httpx.get(f"{workbench_api}/documents/{query['doc'][0]}", timeout=30).json()["text"]
    cell.click()
    page.wait_for_url("**/dokument?*")
    mark = page.locator("mark#treff")
    expect(mark).to_be_visible(timeout=60_000)
    expect(mark).to_be_in_viewport()
    assert squash(mark.inner_text()) == squash(text[start:end])
    assert parse_qs(urlsplit(page.url).query)["doc"] == query["doc"]
    page.screenshot(path=str(ARTIFACTS / "arbeidsbenk-sitat.png"))


def test_compare_link_shows_submitters_side_by_side(workbench_ui: str, page: Page) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    question = "Hva sier innspillene om legevakt?"
    params = [("q", question), ("s", BERGEN), ("s", AHUS), ("s", MOSS)]
    page.goto(f"{workbench_ui}/sammenlign?{urlencode(params)}")
    columns = page.locator(".kolonne")
    expect(columns.first).to_be_visible(timeout=PAGE_MS)
    assert columns.count() == 3
    names = [squash(t) for t in columns.locator("h4").all_inner_texts()]
    assert names == ["Bergen kommune", "Helsefellesskapet for Ahus og kommunene", "Moss kommune"]
    expect(columns.nth(1)).to_contain_text("Omtaler ikke dette")
    assert columns.nth(0).locator("blockquote").count() >= 1
    assert columns.nth(2).locator("blockquote").count() >= 1
    expect(page.get_by_label("Spørsmål")).to_have_value(question)
    page.screenshot(path=str(ARTIFACTS / "arbeidsbenk-sammenlign.png"), full_page=True)

    # Each quote is highlighted in its paragraph; the link opens it highlighted in the document.
    first_quote = squash(columns.nth(0).locator("blockquote mark").first.inner_text())
    columns.nth(0).get_by_role("link", name="Vis i dokumentet").first.click()
    mark = page.locator("mark#treff")
    expect(mark).to_be_visible(timeout=60_000)
    assert squash(mark.inner_text()) == first_quote
