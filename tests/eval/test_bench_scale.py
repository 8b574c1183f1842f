"""The pure parts of the SYNTHETIC scale bench: brute-force references, the stop rule, the
agreement, the candidates swept and the tables. Nothing here is timed."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import brute_typicality
from numpy.typing import NDArray

from eval import scale_measures as measure
from eval.bench_scale import built_settings, candidates, setting_label, weighted
from eval.bench_scale_report import report_text
from eval.synthetic_spread import closest_others
from rag.vector_index import IndexSpec, build, choose_spec

Vectors = NDArray[np.float32]


def unit_rows(n: int, seed: int, dimension: int = 24) -> Vectors:
    rows = np.random.default_rng(seed).normal(size=(n, dimension)).astype(np.float32)
    unit: Vectors = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return unit


def test_exact_top_is_brute_force_across_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(measure, "BLOCK_ROWS", 7)  # many blocks, ties across their edges
    rows = np.repeat(unit_rows(20, seed=1), 2, axis=0)
    queries = unit_rows(5, seed=2)
    found = measure.exact_top(rows, queries, k=6)
    scores = queries @ rows.T
    expected = np.argsort(-scores, axis=1, kind="stable")[:, :6]
    np.testing.assert_array_equal(found.rows, expected)


def test_document_best_is_each_documents_best_row() -> None:
    rows, queries = unit_rows(50, seed=3), unit_rows(4, seed=4)
    starts = np.array([0, 7, 8, 30, 50])
    scores, best = measure.document_best(rows, queries, starts)
    for doc in range(4):
        part = queries @ rows[starts[doc] : starts[doc + 1]].T
        np.testing.assert_array_equal(best[:, doc], starts[doc] + part.argmax(axis=1))
        np.testing.assert_allclose(scores[:, doc], part.max(axis=1), atol=1e-6)


def test_the_stop_rule_keeps_every_row_within_the_gap() -> None:
    rows = unit_rows(3000, seed=5)
    index = build(rows, IndexSpec(kind="flat"))
    query = unit_rows(1, seed=6)[0]
    _, found = measure.stop_rule(index, query, gap=0.3, k=10, widen=4)
    exact = rows @ query
    expected = np.flatnonzero(exact >= exact.max() - 0.3)
    assert sorted(found.tolist()) == sorted(expected.tolist())  # widened past k = 10
    assert len(expected) > 10


def test_the_stop_rule_finds_every_documents_best_sentence_on_a_flat_index() -> None:
    rows, queries = unit_rows(600, seed=7), unit_rows(6, seed=8)
    starts = np.arange(0, 601, 50)
    best = measure.document_best(rows, queries, starts)
    index = build(rows, IndexSpec(kind="flat"))
    reach = measure.reach_by_stop_rule(index, queries, starts, best, gap=0.2, first_k=5)
    assert reach.needed > 1 and reach.reached == reach.found == 1.0


def test_agreement_counts_the_exact_top_10_among_the_rescored_candidates() -> None:
    rows, queries = unit_rows(400, seed=9), unit_rows(3, seed=10)
    index = build(rows, IndexSpec(kind="flat"))
    exact = measure.exact_top(rows, queries)
    _, found = index.search(queries, 50)
    assert measure.agreement(index, queries, found, exact) == 1.0
    shuffled = np.ascontiguousarray(found[:, ::-1])  # order does not matter, membership does
    assert measure.agreement(index, queries, shuffled, exact) == 1.0
    assert measure.agreement(index, queries, found[:, 5:], exact) == pytest.approx(0.5)


def test_sampled_exact_typicality_is_the_all_pairs_typicality() -> None:
    rows = unit_rows(300, seed=11)
    rows[1] = rows[0]  # an identical wording, left out
    sample = np.array([0, 1, 17, 299])
    found = measure.exact_typicality(rows, slice(0, 24), sample)
    np.testing.assert_allclose(found, brute_typicality(rows)[sample], atol=1e-6)


def test_closest_others_leave_out_identical_rows() -> None:
    rows = unit_rows(200, seed=12)
    rows[5] = rows[3]
    found = closest_others(rows, np.array([3, 9]), 5)
    cosines = rows[[3, 9]] @ rows.T
    cosines[cosines >= 0.999] = -np.inf
    np.testing.assert_allclose(found, -np.sort(-cosines, axis=1)[:, :5], rtol=1e-6)


def test_queries_are_weighted_per_block() -> None:
    queries = np.ones((2, 6), dtype=np.float32)
    out = weighted(queries, (slice(0, 2), slice(2, 6)), (0.25, 0.75))
    np.testing.assert_array_equal(out[0], [0.25, 0.25, 0.75, 0.75, 0.75, 0.75])


def test_the_sweep_holds_the_default_settings_and_flat_and_hnsw_only_up_to_100k() -> None:
    for n in (10_000, 100_000, 1_000_000):
        found = {c.name: c for c in candidates(n, 1152)}
        default = choose_spec(n, 1152, "ivf")
        assert built_settings(default) in found["ivf-pq"].settings
        assert ("flat" in found) == ("hnsw" in found) == (n <= 100_000)
    assert setting_label({"nprobe": 32, "rescore": 1000}) == "nprobe=32 rescore=1000"
    assert setting_label({}) == "exact"


def test_the_report_tables_show_every_setting() -> None:
    latency = {"n": 1, "p50_ms": 1.5, "p95_ms": 2.0, "mean_ms": 1.5, "max_ms": 2.0}
    search = {
        "name": "ivf-pq",
        "target": "sentences",
        "setting": "nprobe=32 rescore=1000",
        "k": 200,
        "latency": latency,
        "cpu_p50_ms": 1.2,
        "rescore_p50_ms": 0.3,
        "agreement": {"both": 0.97, "first only": 0.7, "second only": 0.96},
    }
    build_row = {
        "name": "ivf-pq",
        "target": "sentences",
        "factory": "IVF128,PQ288x4fs,Refine(SQfp16)",
        "build_s": 5.8,
        "index_gb": 0.25,
        "rss_delta_gb": 0.3,
    }
    summary = {
        "sentences": 100_000,
        "chunks": 22_110,
        "documents": 303,
        "faiss_type": build_row["factory"],
        "build_s": 60.0,
        "rss_gb": 0.4,
        "search_p50_ms": 1.5,
        "agreement_with_exact": 0.97,
    }
    size = {
        "sentences": 100_000,
        "builds": [build_row],
        "searches": [search],
        "reach": {},
        "typicality": None,
        "summary": summary,
    }
    report = {
        "started_at": "now",
        "load_average_start": [1.0, 1.0, 1.0],
        "load_average_end": [1.0, 1.0, 1.0],
        "queries": 229,
        "sizes": [size],
    }
    text = report_text(report)
    assert "IVF128,PQ288x4fs,Refine(SQfp16)" in text and "nprobe=32 rescore=1000" in text
    assert "0.970" in text and "0.700" in text  # both encoders; the worse one alone
