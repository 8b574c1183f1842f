"""End to end: the real API over the seeds index, the Streamlit UI, and headless Chromium.

Uses the session's seeds index (tests/conftest.py), starts `rag serve` and
`streamlit run ui/app.py` on free ports on 127.0.0.1, asks the example question through a
shareable `?q=` link and follows a source into the document view. Screenshots go to
tests/artifacts/ (gitignored). Nothing reaches beyond 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
QUESTION = "Hva sier kommunene om fastlegeordningen?"
STARTUP_S = 300.0
ANSWER_MS = 180_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll `url` until it answers 200; fail with the server's log if it dies or never does."""
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args!r} exited with {process.returncode}:\n{tail(log)}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} did not come up within {STARTUP_S:g} s:\n{tail(log)}")


def start(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=20)


@pytest.fixture(scope="session")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def server_env(work_dir: Path) -> dict[str, str]:
    return {**os.environ, "RAG_INDEX__CACHE_DIR": str(work_dir / "cache")}


@pytest.fixture(scope="session")
def api_url(seeds_index: Path, work_dir: Path, server_env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    log = work_dir / "api.log"
    process = start(
        [str(BIN / "rag"), "serve", "--index", str(seeds_index), "--port", str(port)],
        log,
        server_env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/health", process, log)
        yield url
    finally:
        stop(process)


@pytest.fixture(scope="session")
def ui_url(api_url: str, work_dir: Path) -> Iterator[str]:
    port = free_port()
    log = work_dir / "ui.log"
    command = [
        str(BIN / "streamlit"),
        "run",
        "ui/app.py",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",
    ]
    process = start(command, log, {**os.environ, "RAG_UI_API_URL": api_url})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/_stcore/health", process, log)
        yield url
    finally:
        stop(process)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="nb-NO")
    yield context.new_page()
    context.close()


def squash(text: str) -> str:
    return " ".join(text.split())


def test_question_link_shows_cited_answer_and_opens_the_source(ui_url: str, page: Page) -> None:
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
    overview = page.get_by_role("heading", name="Oversikt per innsender")
    expect(overview).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "svar.png"))
    overview.scroll_into_view_if_needed()
    page.locator(".st-key-svar").evaluate("e => e.closest('.stMain').scrollBy(0, -80)")
    page.screenshot(path=str(ARTIFACTS / "oversikt.png"))

    # A [n] marker in the answer leads to its source card.
    last = cards.count()
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
