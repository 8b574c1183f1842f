"""`rag matrix` and `rag ask --format/-o`, run as the installed command, against the API."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

pytestmark = pytest.mark.slow

RAG = (sys.executable, "-m", "cli")
ROOT = Path(__file__).resolve().parents[2]
FASTLEGE = "Hva sier kommunene om fastlegeordningen?"


def rag(index: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = os.environ | {"RAG_INDEX__PATH": str(index)}
    return subprocess.run([*RAG, *args], capture_output=True, env=env, cwd=ROOT, timeout=300)


def without_timings(body: dict[str, Any]) -> dict[str, Any]:
    return body | {"timings_ms": sorted(body["timings_ms"])}


def test_matrix_json_prints_the_api_body(seeds_index: Path, client: httpx.Client) -> None:
    done = rag(seeds_index, "matrix", "fastlegeordningen", "legevakt", "--format", "json")
    assert done.returncode == 0, done.stderr
    api = client.post("/matrix", json={"topics": ["fastlegeordningen", "legevakt"]}).json()
    assert without_timings(json.loads(done.stdout)) == without_timings(api)


def test_matrix_reads_the_topics_file_and_prints_a_table(seeds_index: Path, tmp_path: Path) -> None:
    topics = tmp_path / "temaer.txt"
    topics.write_text("# mine temaer\nlegevakt\n\nbarn og unge\n", encoding="utf-8")
    done = rag(seeds_index, "matrix", "--topics-file", str(topics))
    assert done.returncode == 0, done.stderr
    table = done.stdout.decode("utf-8")
    assert "legevakt" in table and "barn og unge" in table and "mine temaer" not in table
    assert "Bergen kommune (kommune)" in table and "av 3 kommuner" in table


def test_matrix_xlsx_is_written_to_the_file(seeds_index: Path, tmp_path: Path) -> None:
    out = tmp_path / "oversikt.xlsx"
    done = rag(seeds_index, "matrix", "fastlegeordningen", "--format", "xlsx", "-o", str(out))
    assert done.returncode == 0, done.stderr
    grid = list(load_workbook(out)["Oversikt"].iter_rows(values_only=True))
    assert grid[0] == ("innsender", "type", "fastlegeordningen")
    # a full mark when confident, a half mark when weak, nothing when not mentioned; all five
    # discuss it and four are found (the eval's matrix coverage measures who is missed)
    assert len(grid) == 6 and all(row[2] in {"●", "◐", None} for row in grid[1:])
    marked = {row[0] for row in grid[1:] if row[2]}
    assert len(marked) >= 4 and {"Bergen kommune", "Stange kommune"} <= marked, marked


def test_ask_csv_is_written_to_the_file(
    seeds_index: Path, client: httpx.Client, tmp_path: Path
) -> None:
    out = tmp_path / "svar.csv"
    done = rag(seeds_index, "ask", FASTLEGE, "--format", "csv", "-o", str(out))
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"), newline="")))
    citations = client.post("/ask", json={"question": FASTLEGE}).json()["citations"]
    assert [(r["sitat"], int(r["start"]), int(r["slutt"])) for r in rows] == [
        (c["quote"], c["start"], c["end"]) for c in citations
    ]


def test_binary_formats_need_a_file_and_bad_topics_are_refused(seeds_index: Path) -> None:
    done = rag(seeds_index, "ask", FASTLEGE, "--format", "docx")
    assert done.returncode == 2 and b"-o" in done.stderr and not done.stdout
    done = rag(seeds_index, "matrix", "x" * 201)
    assert done.returncode == 2 and "ugyldige temaer" in done.stderr.decode("utf-8")
    done = rag(seeds_index, "matrix", "--topics-file", "finnes-ikke.txt")
    assert done.returncode == 1 and "temafilen" in done.stderr.decode("utf-8").lower()
