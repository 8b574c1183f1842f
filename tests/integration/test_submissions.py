"""`rag index` on the seeds plus awkward submissions, with the real model, then served:
the same letter as PDF and DOCX, a template letter from two municipalities, a sender line and a
name merely mentioned, and the staging folder a killed build left behind."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from live_server import serving, settings_for
from source_files import write_docx, write_pdf

from cli.main import main
from rag.api import create_app
from rag.config import get_settings
from rag.store import STAGING_PREFIX, load_index

pytestmark = pytest.mark.slow

LETTER = [
    "Høringssvar fra Ås kommune",
    "Ås kommune viser til høringen om nasjonal helse- og samhandlingsplan.",
    "Fastlegeordningen er under sterkt press i kommunen vår. Mange innbyggere står uten fastlege.",
    "Vi ber om at staten tar et større ansvar for rekruttering av leger til distriktene.",
]
TEMPLATE = [
    "Kommunene i regionen har samme erfaring med fastlegeordningen over flere år.",
    "Rekrutteringen av nye leger har stoppet opp i de minste kommunene.",
    "Sykehjemmene trenger flere sykepleiere med spesialkompetanse i geriatri.",
]
LEGEFORENINGEN = [
    "Høringssvar fra Den norske legeforening",
    "Oslo kommune har i sitt høringssvar pekt på at det er for få LIS1-stillinger. "
    "Legeforeningen mener at antallet LIS1-stillinger må økes betydelig.",
]


@pytest.fixture
def sources(tmp_path: Path, seeds_dir: Path) -> Path:
    folder = tmp_path / "innspill"
    shutil.copytree(seeds_dir, folder)
    write_pdf(folder / "aas.pdf", LETTER)
    write_docx(folder / "aas.docx", LETTER)
    for name in ("Vestby", "Frogn"):
        body = "\n\n".join([f"Høringssvar fra {name} kommune", *TEMPLATE])
        (folder / f"{name.lower()}.txt").write_text(body, encoding="utf-8")
    write_pdf(folder / "legeforeningen.pdf", LEGEFORENINGEN)
    (folder / "notat.txt").write_text(
        "Notat om legevakt\n\nLegevakten i Bergen kommune bør ha flere leger om natten.",
        encoding="utf-8",
    )
    return folder


@pytest.fixture(autouse=True)
def shared_cache(seeds_index: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The seeds' embeddings are cached by the session's seeds index: reuse that cache."""
    monkeypatch.setenv("RAG_INDEX__CACHE_DIR", str(seeds_index.parent / "cache"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def killed_build_staging(out: Path) -> Path:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    staging = out.parent / f"{out.name}.builds" / f"{STAGING_PREFIX}{process.pid}-0badc0de"
    (staging / "bm25").mkdir(parents=True)
    return staging


def test_index_and_serve_awkward_submissions(
    tmp_path: Path, sources: Path, seeds_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "index"
    leftover = killed_build_staging(out)

    assert main(["index", str(sources), "--out", str(out)]) == 0
    summary = capsys.readouterr().out

    assert not leftover.exists()
    assert "taken from the cache" in summary  # the seeds' passages were cached
    assert "aas.docx: near-identical to aas" in summary or "aas.docx: identical to aas" in summary
    rows = {line.split()[0]: line for line in summary.splitlines() if line.startswith("  ")}
    assert rows["legeforeningen.pdf"].split()[-2:] == ["annen", "avsenderlinje"]
    assert "Den norske legeforening" in rows["legeforeningen.pdf"]
    assert rows["notat.txt"].split()[-3:] == ["notat", "ukjent", "filnavn"]
    assert rows["000_1151dadce9b0985f.txt"].split()[-2:] == ["kommune", "metadata.csv"]
    assert (out / "metadata.suggested.csv").is_file()

    index = load_index(out)
    seeds = load_index(seeds_index)
    for doc in seeds.documents.values():  # the seeds are stored exactly as on their own
        assert index.documents[doc.document_id].text == doc.text
        assert index.documents[doc.document_id].submitter == doc.submitter
    seed_chunks = [c for c in index.chunks if c.document_id in seeds.documents]
    assert seed_chunks == list(seeds.chunks)

    with serving(create_app(settings_for(out, seeds_index.parent / "cache"))) as url:
        listed = {d["source"]: d for d in httpx.get(f"{url}/documents", timeout=60).json()}
    assert "aas.docx" not in listed and listed["aas.pdf"]["submitter"] == "Ås kommune"
    assert listed["vestby.txt"]["near_duplicates"] == ["frogn"]
    assert listed["frogn.txt"]["near_duplicates"] == ["vestby"]
    assert listed["vestby.txt"]["shared_text"] == {"frogn": 1.0}
    assert listed["legeforeningen.pdf"]["submitter"] == "Den norske legeforening"
    assert listed["legeforeningen.pdf"]["submitter_origin"] == "avsenderlinje"
    assert "Oslo kommune" not in {d["submitter"] for d in listed.values()}

    assert main(["index", str(sources), "--out", str(out)]) == 0
    assert "is up to date (10 documents" in capsys.readouterr().out
