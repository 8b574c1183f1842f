"""The vector-index contract: every backend against NumPy brute force.

Rows are two encoder blocks side by side, each a unit vector (as `rag.encoders` makes them);
queries are weighted per block, so they are not unit vectors. Flat indexes must give exactly
what brute force gives; approximate ones must find a stated share of it on clustered data.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import faiss
import numpy as np
import pytest
from numpy.typing import NDArray

from rag import vector_index
from rag.vector_index import (
    KINDS,
    MISSING,
    FaissIndex,
    IndexSpec,
    RowList,
    RowRanges,
    Selection,
    build,
    choose_spec,
    load,
    pq_codes,
)

BLOCKS = (slice(0, 16), slice(16, 48))
DIMENSION = 48
WEIGHTS = ((0.5, 0.5), (0.3, 0.7), (1.0, 0.0), (0.0, 1.0))
APPROXIMATE_RECALL = 0.9  # of the brute-force top 10, on clustered data
Vectors = NDArray[np.float32]

SPECS = {
    "flat": IndexSpec(kind="flat", precision="fp32"),
    "flat-fp16": IndexSpec(kind="flat", precision="fp16"),
    "ivf-pq": IndexSpec(kind="ivf", precision="fp16", nlist=16, nprobe=6, pq=8, rescore=300),
    "ivf-pq-fp32": IndexSpec(kind="ivf", precision="fp32", nlist=16, nprobe=6, pq=8, rescore=300),
    "ivf-flat": IndexSpec(kind="ivf", precision="fp32", nlist=16, nprobe=6),
    "ivf-fp16": IndexSpec(kind="ivf", precision="fp16", nlist=16, nprobe=6),
    "hnsw": IndexSpec(
        kind="hnsw", precision="fp32", hnsw_neighbours=16, ef_construction=80, ef_search=128
    ),
    "hnsw-fp16": IndexSpec(
        kind="hnsw", precision="fp16", hnsw_neighbours=16, ef_construction=80, ef_search=128
    ),
}
EXACT = ("flat", "flat-fp16")


def unit_blocks(matrix: NDArray[np.float64]) -> Vectors:
    out = np.empty(matrix.shape, dtype=np.float32)
    for block in BLOCKS:
        part = matrix[:, block]
        out[:, block] = part / np.linalg.norm(part, axis=1, keepdims=True)
    return out


def random_rows(n: int, seed: int) -> Vectors:
    return unit_blocks(np.random.default_rng(seed).normal(size=(n, DIMENSION)))


def clustered_rows(n: int, seed: int, clusters: int = 40) -> Vectors:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, DIMENSION))
    members = centres[rng.integers(0, clusters, size=n)]
    return unit_blocks(members + 0.8 * rng.normal(size=(n, DIMENSION)))  # clusters overlap


def weighted(queries: Vectors, weights: tuple[float, float]) -> Vectors:
    """Queries with each block weighted, as `Retriever.fused` makes them (not unit vectors)."""
    parts = [np.full(b.stop - b.start, w) for b, w in zip(BLOCKS, weights, strict=True)]
    scaled: Vectors = (queries * np.concatenate(parts)).astype(np.float32)
    return scaled


def stored(index: FaissIndex) -> Vectors:
    """Every row as the index keeps it (the reference brute force runs on)."""
    return index.vectors(np.arange(index.size, dtype=np.int64))


def assert_kept(got: Vectors, vectors: Vectors, spec: IndexSpec) -> None:
    """float32 rows are kept as they are, float16 rows within float16 rounding."""
    if spec.precision == "fp32":
        np.testing.assert_array_equal(got, vectors)
    else:
        np.testing.assert_allclose(got, vectors, rtol=2**-10, atol=2**-24)


def brute_force(
    vectors: Vectors, queries: Vectors, k: int, rows: NDArray[np.int64] | None = None
) -> tuple[Vectors, NDArray[np.int64]]:
    """Scores and rows of the k best (of `rows`), best first, equal scores by row."""
    rows = np.arange(len(vectors)) if rows is None else rows
    scores = queries @ vectors[rows].T
    order = np.argsort(-scores, axis=1, kind="stable")[:, : min(k, len(rows))]
    return np.take_along_axis(scores, order, axis=1), rows[order]


def recall(found: NDArray[np.int64], expected: NDArray[np.int64]) -> float:
    pairs = zip(found.tolist(), expected.tolist(), strict=True)
    hits = sum(len(set(f) & set(e)) for f, e in pairs)
    return hits / expected.size


@pytest.fixture(autouse=True, scope="module")
def one_faiss_thread() -> Iterator[None]:
    """FAISS on one thread: its OpenMP threads spin, and crawl on a busy machine."""
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(threads)


@pytest.fixture(scope="module")
def clustered() -> tuple[Vectors, Vectors]:
    data = clustered_rows(2100, seed=11)
    return data[:2000], data[2000:]  # queries from the same clusters, not indexed


@pytest.fixture(scope="module")
def indexes(clustered: tuple[Vectors, Vectors]) -> dict[str, FaissIndex]:
    return {name: build(clustered[0], spec) for name, spec in SPECS.items()}


# --- exact backends ------------------------------------------------------------------------


@pytest.mark.parametrize("name", EXACT)
@pytest.mark.parametrize(("n", "k"), [(1, 1), (1, 5), (7, 3), (7, 10), (1000, 10), (1000, 1)])
def test_flat_search_equals_brute_force(name: str, n: int, k: int) -> None:
    spec = SPECS[name]
    vectors = random_rows(n, seed=n)
    for weights in WEIGHTS:
        queries = weighted(random_rows(5, seed=n + 1), weights)
        index = build(vectors, spec)
        scores, rows = index.search(queries, k)
        expected_scores, expected_rows = brute_force(stored(index), queries, k)
        assert rows.shape == (5, min(k, n))  # k > n gives every row, never MISSING
        np.testing.assert_array_equal(rows, expected_rows)
        np.testing.assert_allclose(scores, expected_scores, atol=1e-5)


@pytest.mark.parametrize("name", EXACT)
def test_exact_scores_span_blocks_of_stored_rows(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Scored a few stored rows at a time (memory-mapped, float16 widened per block): the
    same top rows as brute force, for every row, one range and a gathered selection."""
    monkeypatch.setattr(vector_index, "SCORED_BLOCK", 7)
    vectors = random_rows(100, seed=21)
    queries = weighted(random_rows(3, seed=22), (0.3, 0.7))
    build(vectors, SPECS[name]).save(tmp_path / "rows.faiss")
    index = load(tmp_path / "rows.faiss")
    kept = stored(index)
    for selection in (None, RowRanges.of((5, 60)), RowList(np.array([3, 99, 40, 41, 8]))):
        rows = np.arange(100) if selection is None else selection.rows()
        scores, found = index.search(queries, 9, selection)
        expected_scores, at = brute_force(kept[rows], queries, 9)
        np.testing.assert_array_equal(found, rows[at])
        np.testing.assert_allclose(scores, expected_scores, atol=1e-6)


def test_inner_products_of_blocks_are_the_whole_product(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vector_index, "SCORED_BLOCK", 4)
    rows, queries = random_rows(10, seed=5), random_rows(2, seed=6)
    scores = vector_index.inner_products(queries, rows)
    np.testing.assert_allclose(scores, queries @ rows.T, atol=1e-6)


def test_distinct_rows_are_what_numpy_unique_gives() -> None:
    rng = np.random.default_rng(3)
    for rows in (rng.integers(0, 50, 400), rng.integers(0, 9, (4, 6)), np.arange(0), np.ones(3)):
        found = vector_index.distinct(rows.astype(np.int64))
        assert found.dtype == np.int64
        np.testing.assert_array_equal(found, np.unique(rows))


def test_float16_rows_widen_to_their_exact_values() -> None:
    rows = random_rows(50, seed=8).astype(np.float16)
    widened = vector_index.widened(rows)
    assert widened.dtype == np.float32
    np.testing.assert_array_equal(widened, rows.astype(np.float32))
    read_only = rows.copy()
    read_only.flags.writeable = False  # as a memory-mapped storage view is
    np.testing.assert_array_equal(vector_index.widened(read_only[3:9]), widened[3:9])


def test_equal_scores_come_in_row_order_as_brute_force() -> None:
    vectors = np.repeat(random_rows(30, seed=4), 3, axis=0)  # each row three times (templates)
    queries = vectors[[0, 10, 44]]
    for k in (2, 4, 5, 90):
        _, rows = build(vectors, SPECS["flat"]).search(queries, k)
        np.testing.assert_array_equal(rows, brute_force(vectors, queries, k)[1])


@pytest.mark.parametrize("name", SPECS)
def test_equal_scores_within_the_results_are_in_row_order(name: str) -> None:
    vectors = np.repeat(clustered_rows(300, seed=4), 3, axis=0)  # templates: rows repeated
    scores, rows = build(vectors, SPECS[name]).search(vectors[[0, 10, 44]], 12)
    tied = np.diff(scores, axis=1) == 0
    assert tied.any() and (np.diff(rows, axis=1)[tied] > 0).all()


def test_fp16_scores_stay_within_a_thousandth_of_fp32() -> None:
    vectors, queries = random_rows(500, seed=2), weighted(random_rows(20, seed=3), (0.5, 0.5))
    fp16, _ = build(vectors, SPECS["flat-fp16"]).search(queries, 10)
    fp32, _ = brute_force(vectors, queries, 10)
    assert np.abs(fp16 - fp32).max() < 1e-3


# --- every backend -------------------------------------------------------------------------


@pytest.mark.parametrize("name", SPECS)
def test_k_zero_and_k_beyond_the_rows(name: str, indexes: dict[str, FaissIndex]) -> None:
    index = indexes[name]
    queries = weighted(random_rows(3, seed=5), (0.5, 0.5))
    scores, rows = index.search(queries, 0)
    assert scores.shape == rows.shape == (3, 0)
    small = build(random_rows(7, seed=6), SPECS[name] if "ivf" not in name else SPECS["flat"])
    scores, rows = small.search(queries, 50)
    assert rows.shape == (3, 7)
    assert sorted(rows[0].tolist()) == list(range(7))


@pytest.mark.parametrize("name", [n for n in SPECS if n not in EXACT])
@pytest.mark.parametrize("weights", WEIGHTS)
def test_approximate_search_finds_most_of_the_brute_force_top_10(
    name: str,
    weights: tuple[float, float],
    indexes: dict[str, FaissIndex],
    clustered: tuple[Vectors, Vectors],
) -> None:
    queries = weighted(clustered[1], weights)
    scores, rows = indexes[name].search(queries, 10)
    expected_rows = brute_force(stored(indexes[name]), queries, 10)[1]
    assert recall(rows, expected_rows) >= APPROXIMATE_RECALL
    assert (np.diff(scores, axis=1) <= 0).all()  # best first
    found = rows != MISSING
    exact = np.einsum("qd,qkd->qk", queries, stored(indexes[name])[rows])
    np.testing.assert_allclose(scores[found], exact[found], atol=1e-4)  # exact scores


@pytest.mark.parametrize("name", SPECS)
def test_stored_vectors_are_read_back_by_row(
    name: str, indexes: dict[str, FaissIndex], clustered: tuple[Vectors, Vectors]
) -> None:
    rows = np.array([1999, 0, 5, 5, 1234], dtype=np.int64)
    got = indexes[name].vectors(rows)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, stored(indexes[name])[rows])
    assert_kept(got, clustered[0][rows], SPECS[name])
    with pytest.raises(IndexError):
        indexes[name].vectors(np.array([2000], dtype=np.int64))


@pytest.mark.parametrize("name", SPECS)
def test_row_scores_are_the_stored_rows_products_block_by_block(
    name: str,
    indexes: dict[str, FaissIndex],
    clustered: tuple[Vectors, Vectors],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Read and scored a few rows at a time: each row's product (up to the last bit, which the
    matrix-vector kernel may round differently for another number of rows), for a range (read
    in place), rows in any order and repeated rows."""
    monkeypatch.setattr(vector_index, "SCORED_BLOCK", 7)
    vector = weighted(clustered[1][:1], (0.3, 0.7))[0]
    kept = stored(indexes[name])
    for rows in (np.arange(40, 95), np.array([1999, 0, 5, 5, 1234, 7, 6]), np.arange(0)):
        scores = indexes[name].row_scores(rows, vector)
        assert scores.dtype == np.float32 and scores.shape == (len(rows),)
        np.testing.assert_allclose(scores, kept[rows] @ vector, rtol=1e-6, atol=1e-7)
        columns = indexes[name].scored_rows(rows, lambda block: block[:, :2])  # any per-row score
        np.testing.assert_array_equal(columns, kept[rows][:, :2])


def test_a_range_of_rows_is_read_in_place(
    indexes: dict[str, FaissIndex], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Consecutive rows are sliced from the storage, other rows gathered; the same values."""
    gathered = []
    real = vector_index.widened
    monkeypatch.setattr(vector_index, "widened", lambda rows: gathered.append(rows) or real(rows))
    index = indexes["flat-fp16"]
    in_place = index.vectors(np.arange(10, 20))
    assert np.shares_memory(gathered[-1], vector_index.storage_view(index.index))
    apart = index.vectors(np.array([10, 12, 11, 13, 14, 15, 16, 17, 18, 19]))
    assert not np.shares_memory(gathered[-1], vector_index.storage_view(index.index))
    np.testing.assert_array_equal(in_place[[0, 2, 1]], apart[:3])
    assert vector_index.is_one_range(np.arange(3, 9))
    assert not vector_index.is_one_range(np.array([3, 5, 6]))
    assert not vector_index.is_one_range(np.array([4, 3]))
    assert not vector_index.is_one_range(np.arange(0))


# --- selections ----------------------------------------------------------------------------

SELECTIONS: dict[str, Selection] = {
    "one range": RowRanges.of((100, 430)),
    "ranges": RowRanges.of((0, 50), (700, 720), (1990, 2000)),
    "list": RowList(np.array([3, 1500, 77, 1999, 42, 42], dtype=np.int64)),
}


@pytest.mark.parametrize("name", SPECS)
@pytest.mark.parametrize("selection", SELECTIONS)
def test_a_small_selection_is_searched_exactly(
    name: str, selection: str, indexes: dict[str, FaissIndex], clustered: tuple[Vectors, Vectors]
) -> None:
    chosen = SELECTIONS[selection]
    queries = weighted(clustered[1][:20], (0.3, 0.7))
    scores, rows = indexes[name].search(queries, 10, chosen)
    expected_scores, expected_rows = brute_force(stored(indexes[name]), queries, 10, chosen.rows())
    np.testing.assert_array_equal(rows, expected_rows)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5)


WIDE: dict[str, Selection] = {  # what FAISS gets: a filter that admits many documents
    "one range": RowRanges.of((300, 1700)),
    "ranges": RowRanges.of((0, 400), (700, 1100), (1500, 2000)),
    "list": RowList(np.arange(1, 2000, 2, dtype=np.int64)),
}


@pytest.mark.parametrize("name", [n for n in SPECS if n not in EXACT])
@pytest.mark.parametrize("selection", WIDE)
def test_a_wide_selection_goes_to_faiss_and_stays_inside_it(
    name: str,
    selection: str,
    indexes: dict[str, FaissIndex],
    clustered: tuple[Vectors, Vectors],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(vector_index, "EXACT_SELECTION", 500)  # these go to FAISS
    queries, chosen = weighted(clustered[1], (0.5, 0.5)), WIDE[selection]
    _, rows = indexes[name].search(queries, 10, chosen)
    assert set(rows[rows != MISSING].tolist()) <= set(chosen.rows().tolist())
    expected = brute_force(stored(indexes[name]), queries, 10, chosen.rows())[1]
    assert recall(rows, expected) >= APPROXIMATE_RECALL


@pytest.mark.parametrize("name", SPECS)
def test_an_empty_selection_finds_nothing(name: str, indexes: dict[str, FaissIndex]) -> None:
    queries = weighted(random_rows(2, seed=8), (0.5, 0.5))
    for empty in (RowRanges.of(), RowList(np.empty(0, dtype=np.int64)), RowRanges.of((5, 5))):
        scores, rows = indexes[name].search(queries, 10, empty)
        assert scores.shape == rows.shape == (2, 0)


def test_selections_list_each_row_once_in_order() -> None:
    np.testing.assert_array_equal(RowRanges.of((10, 20), (5, 12)).rows(), np.arange(5, 20))
    np.testing.assert_array_equal(RowRanges.of((0, 3), (7, 9)).rows(), [0, 1, 2, 7, 8])
    np.testing.assert_array_equal(RowList(np.array([9, 2, 9, 4])).rows(), [2, 4, 9])


def test_a_selection_outside_the_rows_is_refused(indexes: dict[str, FaissIndex]) -> None:
    with pytest.raises(IndexError):
        indexes["flat"].search(random_rows(1, 0), 3, RowRanges.of((1990, 2001)))


def test_queries_of_another_width_are_refused(indexes: dict[str, FaissIndex]) -> None:
    with pytest.raises(ValueError, match="48 columns"):
        indexes["flat"].search(np.ones((1, 47), dtype=np.float32), 3)


# --- save and load -------------------------------------------------------------------------


@pytest.mark.parametrize("name", SPECS)
@pytest.mark.parametrize("mmap", [True, False])
def test_save_and_load_give_the_same_results(
    name: str, mmap: bool, indexes: dict[str, FaissIndex], tmp_path: Path
) -> None:
    path = tmp_path / "rows.faiss"
    indexes[name].save(path)
    loaded = load(path, mmap=mmap)
    assert loaded.record() == SPECS[name]
    assert (loaded.size, loaded.dimension) == (2000, DIMENSION)
    queries = weighted(random_rows(4, seed=9), (0.3, 0.7))
    for selection in (None, *SELECTIONS.values()):
        again = loaded.search(queries, 20, selection)
        np.testing.assert_array_equal(again[1], indexes[name].search(queries, 20, selection)[1])
    rows = np.array([0, 999, 1999], dtype=np.int64)
    np.testing.assert_array_equal(loaded.vectors(rows), indexes[name].vectors(rows))


def mapped_from(path: Path, address: int) -> bool:
    """Whether `address` lies in a memory mapping of the file at `path` (Linux)."""
    for line in Path("/proc/self/maps").read_text().splitlines():
        span, *_, name = line.split(maxsplit=5)
        start, end = (int(x, 16) for x in span.split("-"))
        if name == str(path) and start <= address < end:
            return True
    return False


@pytest.mark.parametrize("name", ["flat", "flat-fp16", "ivf-pq", "hnsw"])
def test_a_memory_mapped_index_reads_its_rows_from_the_file(name: str, tmp_path: Path) -> None:
    vectors = clustered_rows(800, seed=10)
    path = tmp_path / "rows.faiss"
    build(vectors, SPECS[name]).save(path)
    for mmap in (True, False):
        loaded = load(path, mmap=mmap)  # alive while its storage is looked at
        view = vector_index.storage_view(loaded.index)
        assert view is not None
        assert not view.flags.owndata  # a view of the index's own storage
        assert mapped_from(path.resolve(), view.ctypes.data) is mmap
    loaded = load(path)  # kept alive while its rows are read
    assert_kept(loaded.vectors(np.arange(800)), vectors, SPECS[name])


# --- choosing a spec -----------------------------------------------------------------------


def test_auto_is_exact_below_the_threshold_and_ivf_from_it() -> None:
    assert choose_spec(999, 1152, flat_below=1000).kind == "flat"
    spec = choose_spec(1000, 1152, flat_below=1000)
    assert spec.kind == "ivf" and spec.pq and spec.rescore and 1 <= spec.nprobe <= spec.nlist


@pytest.mark.parametrize("kind", KINDS)
def test_an_explicit_kind_is_kept_whatever_the_size(kind: str) -> None:
    assert choose_spec(1, 384, kind).kind == kind
    assert choose_spec(10**6, 384, kind).kind == kind


def test_unknown_kinds_and_precisions_name_the_valid_choices() -> None:
    with pytest.raises(ValueError, match="'annoy'") as caught:
        choose_spec(10, 384, "annoy")
    for choice in ("auto", *KINDS):
        assert choice in str(caught.value)
    with pytest.raises(ValueError, match="fp32, fp16"):
        choose_spec(10, 384, "flat", "bf16")  # type: ignore[arg-type]


@pytest.mark.parametrize("dimension", [48, 384, 768, 1152])
@pytest.mark.parametrize("per_code", [2, 4])
def test_pq_codes_split_the_dimension_evenly(dimension: int, per_code: int) -> None:
    codes = pq_codes(dimension, per_code)
    assert dimension % codes == 0 and codes % 2 == 0
    assert codes == dimension // per_code  # these dimensions divide exactly


@pytest.mark.parametrize(
    ("n", "nlist", "nprobe"), [(20_000, 16, 16), (100_000, 128, 45), (1_000_000, 1024, 128)]
)
def test_ivf_lists_grow_with_the_rows_and_a_smaller_share_is_probed(
    n: int, nlist: int, nprobe: int
) -> None:
    spec = choose_spec(n, 1152, flat_below=1)
    assert (spec.nlist, spec.nprobe) == (nlist, nprobe)
    assert spec.nlist * vector_index.TRAIN_ROWS_PER_LIST <= n  # k-means has its points


def test_the_default_spec_builds_and_searches_at_its_smallest_size() -> None:
    vectors = clustered_rows(3000, seed=12)
    index = build(vectors[:2900], choose_spec(2900, DIMENSION, flat_below=2000))
    queries = weighted(vectors[2900:], (0.5, 0.5))
    _, rows = index.search(queries, 10)
    assert recall(rows, brute_force(stored(index), queries, 10)[1]) >= 0.9
