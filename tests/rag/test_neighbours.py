"""Typicality by nearest-neighbour search against the all-pairs definition it replaces."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import faiss
import numpy as np
import pytest
from fakes import brute_typicality
from numpy.typing import NDArray

import rag.neighbours as neighbours_module
from rag.neighbours import (
    Neighbours,
    closest_per_encoder,
    passage_keys,
    read_neighbours,
    typicality,
    typicality_per_encoder,
    typicality_spec,
    updated,
)

BLOCKS = (slice(0, 16), slice(16, 48))
Vectors = NDArray[np.float32]


def unit_blocks(matrix: NDArray[np.float64]) -> Vectors:
    out = np.empty(matrix.shape, dtype=np.float32)
    for block in BLOCKS:
        part = matrix[:, block]
        out[:, block] = part / np.linalg.norm(part, axis=1, keepdims=True)
    return out


def clustered(n: int, seed: int, clusters: int = 30, copies: int = 0) -> Vectors:
    """Unit rows in overlapping clusters; the first `copies` rows repeat row 0 (a template
    sentence sent by many submitters)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, 48))
    rows = unit_blocks(centres[rng.integers(0, clusters, n)] + 0.7 * rng.normal(size=(n, 48)))
    if n:
        rows[1:copies] = rows[0]
    return rows


@pytest.fixture(autouse=True, scope="module")
def one_faiss_thread() -> Iterator[None]:
    """FAISS on one thread: its OpenMP threads spin, and crawl on a busy machine."""
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(threads)


def all_pairs(vectors: Vectors, neighbours: int = 5) -> NDArray[np.float32]:
    columns = [brute_typicality(np.ascontiguousarray(vectors[:, b]), neighbours) for b in BLOCKS]
    return np.stack(columns, axis=1)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 100, 1500])
@pytest.mark.parametrize("neighbours", [1, 5])
def test_flat_typicality_is_the_all_pairs_result(n: int, neighbours: int) -> None:
    vectors = clustered(n, seed=n, copies=min(n, 4))  # identical wordings are left out
    found = typicality_per_encoder(vectors, BLOCKS, neighbours)
    assert found.shape == (n, 2) and found.dtype == np.float32
    np.testing.assert_allclose(found, all_pairs(vectors, neighbours), rtol=0, atol=1e-6)


def test_a_wording_repeated_more_often_than_searched_is_still_exact() -> None:
    vectors = clustered(400, seed=3, copies=60)  # 60 identical rows: k is widened for them
    np.testing.assert_allclose(
        typicality_per_encoder(vectors, BLOCKS), all_pairs(vectors), rtol=0, atol=1e-6
    )


def test_rows_with_only_identical_others_count_the_missing_neighbours_as_minus_one() -> None:
    vectors = clustered(3, seed=1, copies=2)  # rows 0 and 1 identical, row 2 apart
    found = typicality(vectors, BLOCKS[0], neighbours=2)
    np.testing.assert_allclose(found, all_pairs(vectors, 2)[:, 0], atol=1e-6)
    assert found[0] < 0  # its one real neighbour and a missing one (-1)


def test_a_memory_mapped_matrix_gives_the_same_typicality(tmp_path: Path) -> None:
    vectors = clustered(500, seed=5, copies=3)
    np.save(tmp_path / "rows.npy", vectors)
    mapped = np.load(tmp_path / "rows.npy", mmap_mode="r")
    np.testing.assert_array_equal(
        typicality_per_encoder(mapped, BLOCKS), typicality_per_encoder(vectors, BLOCKS)
    )


def test_above_the_flat_size_typicality_is_approximate_and_close() -> None:
    vectors = clustered(6000, seed=7, clusters=60, copies=30)
    assert typicality_spec(len(vectors), 32, flat_below=1000).kind == "ivf"
    found = typicality_per_encoder(vectors, BLOCKS, flat_below=1000)
    exact = all_pairs(vectors)
    error = np.abs(found - exact)
    assert (found <= exact + 1e-3).all()  # it can only miss neighbours (float16: 1e-3)
    assert float(np.median(error)) < 1e-3  # most rows find exactly their five neighbours
    assert float(error.mean()) < 0.01


# --- from one build to the next ----------------------------------------------------------


def keyed(vectors: Vectors) -> NDArray[np.uint64]:
    """A key per row that two corpora share exactly when their rows are the same vector."""
    return passage_keys([row.tobytes().hex() for row in vectors])


def full(vectors: Vectors) -> Neighbours:
    return closest_per_encoder(vectors, BLOCKS, keyed(vectors))


def next_build(previous: Neighbours, vectors: Vectors) -> Neighbours:
    return updated(previous, vectors, BLOCKS, keyed(vectors))


def no_full_search(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*_: object) -> None:
        raise AssertionError("every row searched again")

    monkeypatch.setattr(neighbours_module, "closest", refused)


def test_an_update_with_rows_added_equals_a_first_build(monkeypatch: pytest.MonkeyPatch) -> None:
    before = clustered(1200, seed=11, copies=6)
    extra = clustered(1300, seed=12, copies=0)[1200:]  # 100 new rows, some close to old ones
    after = np.concatenate([before[:600], extra, before[600:]])  # rows move, as a build has it
    previous = full(before)
    no_full_search(monkeypatch)
    found = next_build(previous, after)
    np.testing.assert_allclose(found.typicality(), all_pairs(after), rtol=0, atol=1e-6)


def test_an_update_with_rows_gone_equals_a_first_build(monkeypatch: pytest.MonkeyPatch) -> None:
    vectors = clustered(1500, seed=13, copies=8)
    previous = full(vectors)
    rng = np.random.default_rng(13)
    gone = np.zeros(len(vectors), dtype=bool)
    gone[rng.choice(len(vectors), 120, replace=False)] = True
    gone[previous.rows[0, 0, :4]] = True  # row 0 loses four of its eight: it is searched again
    no_full_search(monkeypatch)
    found = next_build(previous, vectors[~gone])
    np.testing.assert_allclose(found.typicality(), all_pairs(vectors[~gone]), rtol=0, atol=1e-6)


def test_updates_in_a_row_stay_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lists merged once are merged again: each update keeps only what it knows is exact."""
    pool = clustered(2400, seed=17, clusters=40, copies=12)
    current = pool[:1600]
    state = full(current)
    no_full_search(monkeypatch)
    rng = np.random.default_rng(17)
    for step in range(6):
        kept = current[np.sort(rng.choice(len(current), len(current) - 40, replace=False))]
        current = np.concatenate([kept, pool[1600 + 100 * step : 1700 + 100 * step]])
        state = next_build(state, current)
        np.testing.assert_allclose(state.typicality(), all_pairs(current), rtol=0, atol=1e-6)


def test_a_mostly_new_corpus_is_searched_as_in_a_first_build(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    previous = full(clustered(300, seed=19))
    vectors = clustered(400, seed=20)
    monkeypatch.setattr(neighbours_module, "UPDATE_PAIRS", 300 * 400)  # a corpus of 300 x 400
    searched: list[int] = []
    real = neighbours_module.closest

    def counted(vectors: Vectors, *rest: object) -> tuple[object, object]:
        searched.append(len(vectors))
        return real(vectors, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(neighbours_module, "closest", counted)
    found = next_build(previous, vectors)
    assert searched == [400, 400]  # each encoder's block searched in full
    np.testing.assert_allclose(found.typicality(), all_pairs(vectors), rtol=0, atol=1e-6)


def test_kept_neighbours_read_back_and_a_damaged_file_is_none(tmp_path: Path) -> None:
    vectors = clustered(200, seed=23, copies=3)
    found = full(vectors)
    found.save(tmp_path / "n.npz")
    back = read_neighbours(tmp_path / "n.npz")
    assert back is not None
    for name in ("keys", "scores", "rows"):
        np.testing.assert_array_equal(getattr(back, name), getattr(found, name))
    (tmp_path / "n.npz").write_bytes(b"not a zip")
    assert read_neighbours(tmp_path / "n.npz") is None
    assert read_neighbours(tmp_path / "absent.npz") is None
