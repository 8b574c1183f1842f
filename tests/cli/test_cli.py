"""`rag ask` and `rag search`, run as the installed command, against the API on the same index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow

RAG = (sys.executable, "-m", "cli")
ROOT = Path(__file__).resolve().parents[2]
FASTLEGE = "Hva sier kommunene om fastlegeordningen?"
NEGATIVE = "Hva sier innspillene om vaksinasjonsprogrammet?"


def rag(index: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"RAG_INDEX__PATH": str(index)}
    return subprocess.run(
        [*RAG, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300
    )


def without_timing_values(body: dict[str, Any]) -> dict[str, Any]:
    return body | {"timings_ms": sorted(body["timings_ms"])}


@pytest.mark.parametrize(
    ("question", "extra"),
    [(FASTLEGE, ()), (NEGATIVE, ()), ("Hva sier Moss om KAD?", ("--k", "5"))],
    ids=["answered", "no-answer", "k-5"],
)
def test_ask_json_prints_the_api_body(
    seeds_index: Path, client: httpx.Client, question: str, extra: tuple[str, ...]
) -> None:
    done = rag(seeds_index, "ask", question, "--json", *extra)
    assert done.returncode == 0, done.stderr
    request: dict[str, Any] = {"question": question}
    if extra:
        request["k"] = int(extra[1])
    api = client.post("/ask", json=request).json()
    assert without_timing_values(json.loads(done.stdout)) == without_timing_values(api)


def test_search_json_prints_the_api_body(seeds_index: Path, client: httpx.Client) -> None:
    query = "KAD nettverk i Østfold"
    done = rag(seeds_index, "search", query, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == client.get("/search", params={"q": query}).json()


def test_readable_answer_lists_numbered_sources(seeds_index: Path) -> None:
    done = rag(seeds_index, "ask", FASTLEGE)
    assert done.returncode == 0, done.stderr
    assert "Kilder:" in done.stdout
    assert "[1] " in done.stdout and "Bergen kommune" in done.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("ask", ""), "tomt"),
        (("search", "   "), "tomt"),
        (("ask", "fastlege \udcff"), "gyldig Unicode"),  # the byte 0xff on the command line
        (("ask", "fastlege", "--index", "/nonexistent/rag-index"), "rag index"),
    ],
    ids=["empty-question", "blank-query", "invalid-utf8", "no-index"],
)
def test_errors_exit_1_with_one_line(seeds_index: Path, args: tuple[str, ...], says: str) -> None:
    done = rag(seeds_index, *args)
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"rag {args[0]}: "), done.stderr
    assert says in lines[0]
