"""Candidate rows of a large index: where each document's rows lie, and the widening search."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import numpy as np
import pytest
from numpy.typing import NDArray

from rag import candidates
from rag.candidates import Layout, document_candidates, exhaustive, reaching, spans
from rag.config import FLAT_BELOW, IndexSettings
from rag.store import StoredIndex
from rag.vector_index import IndexSpec, build, choose_spec


def units(n: int, dimension: int, seed: int = 0) -> NDArray[np.float32]:
    rows = np.random.default_rng(seed).standard_normal((n, dimension)).astype(np.float32)
    unit: NDArray[np.float32] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return unit


def test_spans_are_each_documents_contiguous_rows() -> None:
    owner = np.array([0, 0, 1, 1, 1, 2], dtype=np.int64)
    assert spans(("a", "b", "c"), owner) == {"a": (0, 2), "b": (2, 5), "c": (5, 6)}
    assert spans(("a",), np.empty(0, dtype=np.int64)) == {}
    with pytest.raises(ValueError, match="rows of a are not contiguous"):
        spans(("a", "b"), np.array([0, 1, 0], dtype=np.int64))


def layout_of(owner: NDArray[np.int64], chunk_owner: NDArray[np.int64], names: int) -> Layout:
    documents = tuple(f"d{i}" for i in range(names))
    return Layout(
        spans(documents, owner),
        spans(documents, chunk_owner),
        owner,
        chunk_owner,
        documents,
        {d: i for i, d in enumerate(documents)},
    )


def test_a_layout_restricts_to_the_admitted_documents_rows() -> None:
    layout = layout_of(np.array([0, 0, 1, 2, 2]), np.array([0, 1, 2]), 3)
    assert layout.sentence_rows(["d0", "d1", "d2"]) is None  # everything: no restriction
    restricted = layout.sentence_rows(["d0", "d2"])
    assert restricted is not None and restricted.rows().tolist() == [0, 1, 3, 4]
    chunks = layout.chunk_rows(["d1"])
    assert chunks is not None and chunks.rows().tolist() == [1]
    assert layout.positions(["d2", "d0"]).tolist() == [2, 0]


def test_reaching_widens_until_the_last_row_is_far_enough(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(candidates, "CANDIDATES", 10)
    rows = units(4_000, 8)
    index = build(rows, choose_spec(len(rows), 8, flat_below=100))  # an IVF with PQ codes
    assert index.spec.kind == "ivf"
    query = rows[:1]
    exact = (rows @ query[0])[np.argsort(-(rows @ query[0]))]

    near = reaching(index, query, None, reach=0.0)  # the closest row is far enough from itself
    assert len(near) == 10 and 0 in near.tolist()

    reach = float(exact[0] - exact[300])  # 300 rows within reach: 10, 40, 160, 640 searched
    wide = reaching(index, query, None, reach)
    assert len(wide) == 640
    within = np.flatnonzero(rows @ query[0] > exact[0] - reach)
    assert np.isin(within, wide).mean() >= 0.95  # the IVF probes wider, not everything

    everything = reaching(index, query, None, reach=3.0)  # every row is within 3
    assert everything.tolist() == list(range(len(rows)))


def test_a_reach_past_a_share_of_the_rows_takes_every_row_without_searching_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(candidates, "CANDIDATES", 10)
    rows = units(4_000, 8)
    index = build(rows, choose_spec(len(rows), 8, flat_below=100))
    query = rows[:1]
    exact = np.sort(rows @ query[0])[::-1]
    asked: list[int] = []
    searched = type(index).search

    def counted(self: object, queries: np.ndarray, k: int, selection: object = None) -> object:
        asked.append(k)
        return searched(self, queries, k, selection)  # type: ignore[arg-type]

    monkeypatch.setattr(type(index), "search", counted)
    found = reaching(index, query, None, float(exact[0] - exact[1_500]))
    assert found.tolist() == list(range(len(rows)))
    assert asked == [10, 40, 160, 640]  # 2,560 rows would be more than a quarter of 4,000


def test_reaching_stays_inside_the_selection() -> None:
    rows = units(500, 8, seed=1)
    index = build(rows, IndexSpec(kind="flat"))
    layout = layout_of(np.repeat(np.arange(5), 100), np.arange(5), 5)
    chosen = layout.sentence_rows(["d1", "d3"])
    found = reaching(index, rows[:2], chosen, reach=3.0)
    assert found.tolist() == [*range(100, 200), *range(300, 400)]


def test_document_candidates_are_the_owners_of_the_rows_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(candidates, "CANDIDATES", 3)
    sentences = units(60, 8, seed=2)
    chunks = units(6, 8, seed=3)
    query = sentences[25:26]  # a sentence of d2 (rows 20-29)
    stored = SimpleNamespace(
        sentences=SimpleNamespace(index=build(sentences, IndexSpec(kind="flat"))),
        vectors=build(chunks, IndexSpec(kind="flat")),
    )
    layout = layout_of(np.repeat(np.arange(6), 10), np.arange(6), 6)
    everyone = list(layout.documents)
    index = cast(StoredIndex, stored)

    found = document_candidates(index, layout, query, everyone, reach=0.0)
    closest_chunks = np.argsort(-(chunks @ query[0]))[:3].tolist()
    closest_sentences = np.argsort(-(sentences @ query[0]))[:3] // 10
    expected = {f"d{i}" for i in [*closest_chunks, *closest_sentences.tolist()]}
    assert "d2" in found and set(found) == expected
    assert found == [d for d in everyone if d in expected]  # in index order

    assert document_candidates(index, layout, query, ["d4"], reach=3.0) == ["d4"]


def test_every_row_is_scored_exactly_while_the_indexes_are_flat() -> None:
    assert IndexSettings().ann_threshold == FLAT_BELOW
    assert choose_spec(FLAT_BELOW - 1, 8).kind == "flat"
    assert choose_spec(FLAT_BELOW, 8).kind == "ivf"
    rows = units(300, 8)
    flat = build(rows, IndexSpec(kind="flat"))
    ivf = build(rows, choose_spec(len(rows), 8, flat_below=100))

    def index_of(sentences: object, chunks: object) -> StoredIndex:
        return cast(
            StoredIndex, SimpleNamespace(sentences=SimpleNamespace(index=sentences), vectors=chunks)
        )

    assert exhaustive(index_of(flat, flat))
    assert not exhaustive(index_of(ivf, flat))
    assert not exhaustive(index_of(flat, ivf))
