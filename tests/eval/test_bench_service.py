"""The service-at-scale bench: the comparison of candidates with every row, and its table."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from fakes import FakeEmbedder, write_fake_policy

from eval.bench_http import HttpBench, LoadResult, matrix_p50
from eval.bench_report import scale_section
from eval.bench_service import (
    Agreement,
    SizeRun,
    agreement,
    emptied,
    headline,
    rotated,
    sample,
    sizes_up_to,
)
from eval.bench_stats import summarise_ms
from eval.questions import load_questions
from indexer.build import build_index
from rag import candidates, retrieve
from rag.config import IndexSettings, Settings
from rag.matrix import read_topics
from rag.service import Service

ROOT = Path(__file__).resolve().parents[2]


def test_sizes_end_with_the_largest_asked_for() -> None:
    assert sizes_up_to(1_000_000) == (10_000, 100_000, 1_000_000)
    assert sizes_up_to(50_000) == (10_000, 50_000)
    assert sizes_up_to(5_000) == (5_000,)


def test_a_sample_is_spread_over_the_items() -> None:
    items = [str(i) for i in range(10)]
    assert sample(items, 5) == ["0", "2", "4", "6", "8"]
    assert sample(items, 20) == items


@pytest.fixture(scope="module")
def seeds_service(tmp_path_factory: pytest.TempPathFactory) -> Service:
    """The seeds indexed with the fake embedder (fast), served through the candidate path a
    large index takes."""
    folder = tmp_path_factory.mktemp("fake-seeds")
    settings = Settings(index=IndexSettings(path=folder / "index", cache_dir=folder / "cache"))
    build_index([ROOT / "seeds"], settings.index.path, settings, embedder_factory=FakeEmbedder)
    write_fake_policy(settings.index.path)
    service = Service.load(settings, FakeEmbedder())
    service.retriever.exhaustive = False
    return service


def test_candidates_that_hold_every_row_agree_with_every_row(seeds_service: Service) -> None:
    questions = [q.question for q in load_questions()][:20]
    topics = read_topics(ROOT / "topics.txt")[:3]
    found = agreement(seeds_service, questions, topics)
    assert (found.questions, found.topics) == (20, 3)
    assert (found.search_top10, found.ask_same, found.matrix_cells) == (1.0, 1.0, 1.0)


def test_too_few_candidates_show_as_disagreement(
    seeds_service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(candidates, "CANDIDATES", 1)
    monkeypatch.setattr(retrieve, "REACH_GAPS", 0.0)  # widened once: 2 sentences
    questions = [q.question for q in load_questions()][:20]
    found = agreement(seeds_service, questions, read_topics(ROOT / "topics.txt")[:3])
    assert found.search_top10 < 0.9
    assert found.ask_same < 1.0 and found.matrix_cells < 1.0


def test_the_scale_table_reads_the_cached_pass_of_one_client() -> None:
    def result(endpoint: str, cache: str, ms: float) -> LoadResult:
        return LoadResult(endpoint, 1, cache, summarise_ms([ms]), 0, 0, 1.0, 1.0)  # type: ignore[arg-type]

    http = HttpBench(
        (
            result("search", "cold", 90.0),
            result("search", "repeated", 12.0),
            result("ask", "repeated", 34.0),
            result("matrix", "cold", 250.0),
            result("matrix", "repeated", 0.6),  # joined a computation still running
        ),
        (3.0, 4.5, 4.0),
        questions=2,
        repeats=1,
        peak_rss_mb=(900.0, 1200.4, None),
    )
    alike = Agreement(30, 0.993, 0.967, 10, 0.999, 40.0, 900.0)
    run = SizeRun(
        1_000_000, 180_000, 3_000, ("a", "b"), {"chunks": "IVF"}, 600.0, http, alike, None
    )
    text = scale_section([run])
    row = next(line for line in text.splitlines() if line.startswith("1,000,000"))
    cells = row.split()
    assert cells[:12] == [
        "1,000,000",
        "180,000",
        "3,000",
        "600.0",
        "4.5",
        "12.0",
        "34.0",
        "34.0",
        "250.0",
        "1,200",
        "0.993",
        "0.967",
    ]
    assert "30 questions, 10 topics" in text and "1,000,000: chunks IVF" in text
    assert headline(run) == {
        "sentences": 1_000_000,
        "chunks": 180_000,
        "documents": 3_000,
        "encoders": ["a", "b"],
        "faiss_type": {"chunks": "IVF"},
        "build_s": 600.0,
        "search_p50_ms": 12.0,
        "ask_p50_ms": 34.0,
        "matrix_p50_ms": 250.0,
        "agreement_with_exact": 0.993,
        "ask_agreement_with_exact": 0.967,
        "matrix_agreement_with_exact": 0.999,
        "rss_gb": pytest.approx(1200.4 / 1024),
    }


def test_each_matrix_request_holds_every_topic_from_another_start() -> None:
    assert rotated(["a", "b", "c"], 1) == ("b", "c", "a")
    assert rotated(["a", "b", "c"], 4) == ("b", "c", "a")
    assert rotated([], 2) == ()


def test_between_sizes_the_work_folder_is_emptied_links_and_all(tmp_path: Path) -> None:
    builds = tmp_path / "synthetic-10000.builds" / "b1"
    builds.mkdir(parents=True)
    (builds / "manifest.json").write_text("{}", encoding="utf-8")
    (tmp_path / "synthetic-10000").symlink_to(builds, target_is_directory=True)
    (tmp_path / "stray.txt").write_text("x", encoding="utf-8")
    emptied(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_matrix_pass_with_a_timeout_has_no_p50() -> None:
    timed = summarise_ms([250.0])
    failed = LoadResult("matrix", 1, "cold", timed, 1, 0, 60.0, 0.0)
    http = HttpBench((failed,), (3.0,), questions=1, repeats=1)
    assert matrix_p50(http) is None
    fine = dataclasses.replace(failed, errors=0)
    assert matrix_p50(dataclasses.replace(http, results=(fine,))) == 250.0
