"""Vector indexes: one small interface (`VectorIndex`) with FAISS behind it.

Rows are unit vectors, or several encoders' unit vectors side by side (`rag.encoders`); the
metric is the inner product. A question whose blocks are weighted (`Retriever.fused`, not a
unit vector) therefore scores the fused similarity Σ w_e cos_e against every row, and one index
serves every weighting, a missing encoder (its block of the query zero) included. IVF lists are
trained by spherical k-means on the rows and probed by inner product with the weighted query,
which ranks a list by the fused similarity to its centroid.

Kinds (`IndexSpec`, recorded in the manifest):

- `flat`: exact. Below `FLAT_BELOW` rows, where scanning every row is cheap.
- `ivf`: `nlist` lists of about `ROWS_PER_LIST` rows; a search scans the `nprobe` lists closest
  to the query. With `pq` > 0 (the default) the lists hold 4-bit product-quantizer codes that
  FAISS scans fast (PQ..x4fs): they pick `rescore` candidates, and those are scored exactly on
  the stored vectors (IndexRefine), so every score returned is exact. With `pq` = 0 the lists
  hold the rows themselves.
- `hnsw`: a graph (`M` neighbours, `efSearch`); measured by `eval.bench_scale`, not chosen by
  `auto`: at 100k sentences it needed efSearch 256 for 0.955 of the exact top 10 where the IVF
  gave 0.981, and took 41 s to build against 6.

Measured on SYNTHETIC corpora grown from the seeds (`python -m eval.bench_scale`, real question
vectors, both encoders weighted 0.5): at 1M sentences the default IVF (1,024 lists, 128
probed, 1,000 candidates re-scored) finds 0.987 of the exact top 10 in 3.1 ms on one thread;
with one encoder missing (its block of the query zero) 0.983 (e5 present: 0.851). Probing twice
the lists and re-scoring twice the candidates (`FaissIndex.tuned`) gives 0.997 (e5 alone 0.959)
in 6 ms: use that when an encoder is missing, and for the search that finds every submitter's
best sentence (there 512 lists and 4,000 candidates reach 0.98-0.999 of the documents a decision
needs, in about 17 ms).

Vectors are stored once, as float32 or float16 (`precision`), and read back by row (`vectors`)
without reconstructing the whole matrix: a zero-copy view of the flat storage (of a flat index,
an HNSW graph or the refinement of an IVF), else the direct map of an IVF. `load(path)` maps
that flat storage from the file (read-only, shared by processes) instead of reading it. A search
restricted to a few rows (`RowRanges`: a document's sentences are contiguous rows; `RowList`)
scores them exactly on the stored vectors; a wide restriction goes to FAISS as an IDSelector in
the search parameters.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import faiss
import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from rag.config import FLAT_BELOW

Vectors = NDArray[np.float32]
Rows = NDArray[np.int64]
Kind = Literal["flat", "ivf", "hnsw"]
Precision = Literal["fp32", "fp16"]
KINDS: tuple[Kind, ...] = ("flat", "ivf", "hnsw")
PRECISIONS: tuple[Precision, ...] = ("fp32", "fp16")

ROWS_PER_LIST = 1024  # IVF: nlist = rows / this, rounded to a power of two
MAX_LISTS = 4096
TRAIN_ROWS_PER_LIST = 40  # k-means sample per list (FAISS asks for at least 39)
PROBES_PER_ROOT = 4  # IVF: lists scanned per search, times the square root of the lists
# (a smaller share of more lists: 1,024 lists -> 128, 256 -> 64, 128 -> 45; eval.bench_scale)
DIMENSIONS_PER_CODE = 2  # IVF: a 4-bit PQ code per this many dimensions (1,152: 288 bytes a
# row). e5's cosines crowd near 0.9: codes of 4 dimensions rank its block too coarsely (1M rows,
# e5-only queries: agreement 0.67 against 0.85; lean 384-wide index 0.69 against 0.94)
RESCORE = 1000  # IVF with PQ: candidates scored exactly per query (at least k)
HNSW_NEIGHBOURS = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256
EXACT_SELECTION = 20_000  # a restriction to at most this many rows is scored exactly
ADD_ROWS = 65_536  # rows converted and added at a time: build memory stays bounded
SCORED_BLOCK = 1_024  # stored rows widened and scored at a time (exact search, features)
MISSING = -1  # the row of a result that does not exist (fewer rows than k)
SEED = 1234
MMAP_FLAGS = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY
SPEC_SUFFIX = ".json"


class IndexSpec(BaseModel):
    """How an index is built and searched; the manifest records it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind
    precision: Precision = Field("fp32", description="How rows are stored: float32 or float16.")
    nlist: int = Field(0, ge=0, description="IVF: number of lists.")
    nprobe: int = Field(0, ge=0, description="IVF: lists scanned per search.")
    pq: int = Field(
        0, ge=0, description="IVF: 4-bit codes per row that pick candidates (0: rows in lists)."
    )
    rescore: int = Field(0, ge=0, description="IVF with pq: candidates scored exactly.")
    hnsw_neighbours: int = Field(0, ge=0, description="HNSW: M, neighbours per node.")
    ef_construction: int = Field(0, ge=0, description="HNSW: candidate list while building.")
    ef_search: int = Field(0, ge=0, description="HNSW: candidate list while searching.")

    def factory(self) -> str:
        """The FAISS index_factory string of this spec."""
        storage = "Flat" if self.precision == "fp32" else "SQfp16"
        if self.kind == "ivf" and self.pq:
            return f"IVF{self.nlist},PQ{self.pq}x4fs,Refine({storage})"
        if self.kind == "ivf":
            return f"IVF{self.nlist},{storage}"
        if self.kind == "hnsw":
            return f"HNSW{self.hnsw_neighbours},{storage}"
        return storage


def ivf_lists(n: int) -> int:
    """About ROWS_PER_LIST rows a list, a power of two, at most MAX_LISTS and never more
    lists than k-means has points for."""
    wanted = 2 ** round(math.log2(max(1.0, n / ROWS_PER_LIST)))
    return int(max(1, min(wanted, MAX_LISTS, n)))


def pq_codes(dimension: int, per_code: int = DIMENSIONS_PER_CODE) -> int:
    """Sub-quantizers of the PQ: one per `per_code` dimensions, an even divisor of the
    dimension (fast scan packs codes in pairs)."""
    wanted = max(2, dimension // per_code)
    fitting = [m for m in range(2, dimension + 1, 2) if dimension % m == 0]
    return min(fitting, key=lambda m: (abs(m - wanted), m)) if fitting else 0


def choose_spec(
    n: int,
    dimension: int,
    requested: str = "auto",
    precision: Precision | None = None,
    flat_below: int = FLAT_BELOW,
) -> IndexSpec:
    """The index for n rows of `dimension`: `auto` is exact below `flat_below` rows and IVF
    with PQ candidates and exact re-scoring from there. Rows are kept as float32 in a flat
    index (small, and searched by NumPy exactly as brute force) and float16 in the others,
    unless `precision` says otherwise."""
    if requested not in ("auto", *KINDS):
        choices = ", ".join(("auto", *KINDS))
        raise ValueError(f"unknown FAISS index type {requested!r}; choose one of: {choices}")
    if precision is not None and precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of: {', '.join(PRECISIONS)}")
    kind = ("ivf" if n >= flat_below else "flat") if requested == "auto" else requested
    if precision is None:
        precision = "fp32" if kind == "flat" else "fp16"
    if kind == "ivf":
        nlist = ivf_lists(n)
        return IndexSpec(
            kind="ivf",
            precision=precision,
            nlist=nlist,
            nprobe=min(nlist, round(PROBES_PER_ROOT * math.sqrt(nlist))),
            pq=pq_codes(dimension),
            rescore=RESCORE,
        )
    if kind == "hnsw":
        return IndexSpec(
            kind="hnsw",
            precision=precision,
            hnsw_neighbours=HNSW_NEIGHBOURS,
            ef_construction=HNSW_EF_CONSTRUCTION,
            ef_search=HNSW_EF_SEARCH,
        )
    return IndexSpec(kind="flat", precision=precision)


# --- selections ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowRanges:
    """Rows start <= row < end of each range (a document's sentences are contiguous rows)."""

    starts: Rows
    ends: Rows

    @classmethod
    def of(cls, *ranges: tuple[int, int]) -> RowRanges:
        starts = np.array([a for a, _ in ranges], dtype=np.int64)
        return cls(starts, np.array([b for _, b in ranges], dtype=np.int64))

    def rows(self) -> Rows:
        """The rows in ascending order, each once."""
        if not len(self.starts):
            return np.empty(0, dtype=np.int64)
        pairs = zip(self.starts.tolist(), self.ends.tolist(), strict=True)
        rows = np.concatenate([np.arange(a, b, dtype=np.int64) for a, b in pairs])
        in_order = (np.diff(self.starts) > 0).all() and (self.starts[1:] >= self.ends[:-1]).all()
        return rows if in_order else distinct(rows)


def distinct(rows: Rows) -> Rows:
    """The values of `rows`, ascending, each once: `np.unique`'s result, by sorting. NumPy 2.4's
    `np.unique` hashes, and took 1.8 ms for 14,000 rows and 273 ms for 800,000 here against 0.5
    and 44 ms sorted (README, Candidates, then exact scores)."""
    ordered: Rows = np.sort(np.ravel(rows))
    if not len(ordered):
        return ordered
    found: Rows = ordered[np.r_[True, ordered[1:] != ordered[:-1]]]
    return found


@dataclass(frozen=True)
class RowList:
    """Any rows, e.g. a document's quotable sentences."""

    rows_: Rows

    def rows(self) -> Rows:
        return distinct(np.asarray(self.rows_, dtype=np.int64))


Selection = RowRanges | RowList


@dataclass(frozen=True)
class Selector:
    """A FAISS IDSelector and the array it reads (which must live as long as it)."""

    selector: faiss.IDSelector
    bits: NDArray[np.uint8] | None = None


def selector(selection: Selection, size: int) -> Selector:
    """A FAISS IDSelector for a selection: one range as IDSelectorRange, else a bitmap."""
    if isinstance(selection, RowRanges) and len(selection.starts) == 1:
        start, end = int(selection.starts[0]), int(selection.ends[0])
        return Selector(faiss.IDSelectorRange(start, end))
    mask = np.zeros(size, dtype=bool)
    mask[selection.rows()] = True
    bits = np.packbits(mask, bitorder="little")
    return Selector(faiss.IDSelectorBitmap(size, faiss.swig_ptr(bits)), bits)


# --- the interface and its FAISS implementation -----------------------------------------------


class VectorIndex(Protocol):
    """Rows of vectors searched by inner product."""

    @property
    def size(self) -> int: ...

    @property
    def dimension(self) -> int: ...

    def add(self, vectors: Vectors) -> None: ...

    def search(
        self, queries: Vectors, k: int, selection: Selection | None = None
    ) -> tuple[Vectors, Rows]: ...

    def vectors(self, rows: Rows) -> Vectors: ...

    def scored_rows(self, rows: Rows, score: Callable[[Vectors], Vectors]) -> Vectors: ...

    def row_scores(self, rows: Rows, vector: Vectors) -> Vectors: ...

    def save(self, path: Path) -> None: ...

    def record(self) -> IndexSpec: ...


def exact_top_k(scores: Vectors, rows: Rows, k: int) -> tuple[Vectors, Rows]:
    """The k best (scores, rows) of each query's `scores` over `rows` (ascending), best first,
    equal scores by row: what NumPy brute force gives."""
    k = max(0, min(k, len(rows)))
    found_scores = np.empty((len(scores), k), dtype=np.float32)
    found_rows = np.empty((len(scores), k), dtype=np.int64)
    for i, line in enumerate(scores):
        if 0 < k < len(rows):  # every row that ties the k-th score, then a stable sort
            kth = np.partition(line, len(line) - k)[len(line) - k]
            candidates = np.flatnonzero(line >= kth)
        else:
            candidates = np.arange(len(rows))
        best = candidates[np.argsort(-line[candidates], kind="stable")[:k]]
        found_scores[i], found_rows[i] = line[best], rows[best]
    return found_scores, found_rows


def canonical(scores: Vectors, rows: Rows) -> tuple[Vectors, Rows]:
    """FAISS results with missing rows as MISSING / -inf and equal scores in row order."""
    scores = np.where(rows == MISSING, -np.inf, scores).astype(np.float32)
    last = np.where(rows == MISSING, np.iinfo(np.int64).max, rows)
    order = np.lexsort((last, -scores), axis=1)
    return np.take_along_axis(scores, order, axis=1), np.take_along_axis(rows, order, axis=1)


def as_queries(queries: Vectors, dimension: int) -> Vectors:
    matrix = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[1] != dimension:
        raise ValueError(f"queries of shape {matrix.shape}, the index has {dimension} columns")
    return matrix


def nothing(queries: int) -> tuple[Vectors, Rows]:
    empty = np.empty((queries, 0))
    return empty.astype(np.float32), empty.astype(np.int64)


StoredRows = NDArray[np.float32] | NDArray[np.float16]


def flat_storage(index: faiss.Index) -> faiss.Index | None:
    """The flat index that holds an index's rows in order (itself, an HNSW graph's storage, an
    IVF's refinement); None when the rows are inside IVF lists."""
    index = faiss.downcast_index(index)
    if isinstance(index, faiss.IndexHNSW):
        return flat_storage(index.storage)
    if isinstance(index, faiss.IndexRefine):
        return flat_storage(index.refine_index)
    if isinstance(index, faiss.IndexFlat):
        return index
    if isinstance(index, faiss.IndexScalarQuantizer) and index.code_size == 2 * index.d:
        return index
    return None


def storage_view(index: faiss.Index) -> StoredRows | None:
    """A zero-copy (rows x dimension) view of an index's flat storage (`flat_storage`), float32
    or float16; None when the rows are inside IVF lists."""
    storage = flat_storage(index)
    if storage is None:
        return None
    n, d = storage.ntotal, storage.d
    if isinstance(storage, faiss.IndexFlat):
        if not n:
            return np.empty((0, d), dtype=np.float32)
        rows: NDArray[np.float32] = faiss.rev_swig_ptr(storage.get_xb(), n * d).reshape(n, d)
        return rows
    if not n:
        return np.empty((0, d), dtype=np.float16)
    codes = faiss.rev_swig_ptr(storage.codes.data(), n * storage.code_size)  # type: ignore[attr-defined]
    return codes.view(np.float16).reshape(n, d)


def widened(rows: StoredRows) -> Vectors:
    """Stored rows as float32, float16 ones converted to the same values by torch's vectorised
    copy into fresh memory: 0.7 ms for 4,096 rows of 1,152, against 5.0 ms by FAISS's own
    decoder and 7.8 by NumPy's conversion (README, Candidates, then exact scores)."""
    if rows.dtype == np.float32 or not len(rows):
        return np.asarray(rows, dtype=np.float32)
    import torch

    out = np.empty(rows.shape, dtype=np.float32)
    with warnings.catch_warnings():  # a read-only storage view: read, never written
        warnings.simplefilter("ignore", UserWarning)
        source = torch.from_numpy(np.ascontiguousarray(rows))
    torch.from_numpy(out).copy_(source)
    return out


def is_one_range(rows: Rows) -> bool:
    """Whether `rows` are consecutive rows in ascending order (at least one)."""
    return len(rows) > 0 and bool((np.diff(rows) == 1).all())


def inner_products(queries: Vectors, rows: StoredRows) -> Vectors:
    """queries · rowsᵀ [queries, rows], scored a block of SCORED_BLOCK stored rows at a time
    (`rows @ queries.T`): each block is read once, in order, and float16 rows are widened a
    block at a time. A product against the whole storage transposed (`queries @ rows.T`) reads
    it across rows, and on memory-mapped storage that ran 10-15 times slower (22,180 rows of
    1,152, two queries: 163 against 9.5-9.9 ms; README, Candidates, then exact scores)."""
    scores = np.empty((len(queries), len(rows)), dtype=np.float32)
    for start in range(0, len(rows), SCORED_BLOCK):
        block = widened(rows[start : start + SCORED_BLOCK])
        scores[:, start : start + len(block)] = (block @ queries.T).T
    return scores


def owned_downcast(index: faiss.Index) -> faiss.Index:
    """`index` as its own class (IndexIVFPQFastScan, not Index), owning the C++ object that
    `index` owned (a plain downcast wrapper does not, and would dangle once `index` is gone)."""
    specific = faiss.downcast_index(index)
    if specific is not index:
        specific.thisown, index.thisown = index.thisown, False  # type: ignore[attr-defined]
    return specific


class FaissIndex:
    """A `VectorIndex` over a FAISS index (inner product) built or loaded from an `IndexSpec`."""

    def __init__(self, index: faiss.Index, spec: IndexSpec) -> None:
        self.index = owned_downcast(index)
        self.spec = spec
        self._view = storage_view(self.index)  # into self.index's memory: lives with it

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    @property
    def dimension(self) -> int:
        return int(self.index.d)

    def record(self) -> IndexSpec:
        return self.spec

    def tuned(self, **search: int) -> FaissIndex:
        """The same index searched with other search-time settings (nprobe, rescore,
        ef_search); it shares the FAISS index, so keep this one alive as long as that."""
        unknown = set(search) - {"nprobe", "rescore", "ef_search"}
        if unknown:
            raise ValueError(f"not search-time settings: {', '.join(sorted(unknown))}")
        twin = FaissIndex.__new__(FaissIndex)
        twin.index, twin._view = self.index, self._view
        twin.spec = self.spec.model_copy(update=search)
        return twin

    def add(self, vectors: Vectors) -> None:
        """Append rows, ADD_ROWS at a time (a memory-mapped matrix is read piecewise)."""
        for start in range(0, len(vectors), ADD_ROWS):
            block = np.ascontiguousarray(vectors[start : start + ADD_ROWS], dtype=np.float32)
            self.index.add(block)
        self._view = storage_view(self.index)  # the storage may have moved

    def search(
        self, queries: Vectors, k: int, selection: Selection | None = None
    ) -> tuple[Vectors, Rows]:
        """The k best rows per query (of the selection, if given), best first, equal scores in
        row order; every row when there are fewer than k. Rows an approximate search does not
        reach are MISSING with score -inf."""
        matrix = as_queries(queries, self.dimension)
        chosen = None if selection is None else selection.rows()
        if chosen is not None and len(chosen) and (chosen[0] < 0 or chosen[-1] >= self.size):
            raise IndexError(f"selection outside rows 0-{self.size - 1}")
        if self._exact(chosen):
            rows = np.arange(self.size, dtype=np.int64) if chosen is None else chosen
            return exact_top_k(self._scores(matrix, rows), rows, k)
        if selection is None or chosen is None:
            return self._faiss_search(matrix, min(k, self.size), None)
        return self._faiss_search(matrix, min(k, len(chosen)), selector(selection, self.size))

    def _exact(self, chosen: Rows | None) -> bool:
        """Scored by NumPy on the stored rows: a float32 flat index (equal scores then come in
        row order, as brute force has them; FAISS may keep another of them at the k-th place),
        and a selection that a flat index holds or that is small."""
        if self.spec.kind == "flat" and self.spec.precision == "fp32":
            return True
        return chosen is not None and (self.spec.kind == "flat" or len(chosen) <= EXACT_SELECTION)

    def _scores(self, queries: Vectors, chosen: Rows) -> Vectors:
        """queries · the chosen rows' stored vectors: consecutive rows (every row, one range)
        are read in place from the storage, other rows are gathered as stored (float16 rows are
        then widened a block at a time too)."""
        if self._view is None:
            return inner_products(queries, self.vectors(chosen))
        if is_one_range(chosen):
            return inner_products(queries, self._view[chosen[0] : chosen[-1] + 1])
        return inner_products(queries, self._view[chosen])

    def _faiss_search(
        self, queries: Vectors, k: int, chosen: Selector | None
    ) -> tuple[Vectors, Rows]:
        if k <= 0:
            return nothing(len(queries))
        params, _alive = search_parameters(self.spec, k, chosen)  # _alive: what params point at
        scores, rows = self.index.search(queries, k, params=params)
        return canonical(scores, rows)

    def vectors(self, rows: Rows) -> Vectors:
        """The stored vectors of `rows` as float32 (float16 rows widened exactly), without
        touching the other rows."""
        wanted = np.asarray(rows, dtype=np.int64)
        if len(wanted) and (wanted.min() < 0 or wanted.max() >= self.size):
            raise IndexError(f"rows outside 0-{self.size - 1}")
        if self._view is None:
            found: Vectors = self.index.reconstruct_batch(wanted)  # the IVF's direct map
            return found
        if is_one_range(wanted):
            return widened(self._view[wanted[0] : wanted[-1] + 1])  # one range: no gather
        return widened(self._view[wanted])

    def scored_rows(self, rows: Rows, score: Callable[[Vectors], Vectors]) -> Vectors:
        """`score` of the stored vectors of `rows`, SCORED_BLOCK rows read and widened at a
        time and the results joined along the rows: a block stays in cache from its read to
        its product (gathering and widening 20,000 rows first took 15 of a 1,000,000-sentence
        /search's 55 ms), and float16 rows are never all widened at once."""
        wanted = np.asarray(rows, dtype=np.int64)
        starts = range(0, len(wanted), SCORED_BLOCK) or range(1)  # no rows: one empty block
        parts = [score(self.vectors(wanted[a : a + SCORED_BLOCK])) for a in starts]
        return np.concatenate(parts).astype(np.float32, copy=False)

    def row_scores(self, rows: Rows, vector: Vectors) -> Vectors:
        """Each of `rows`' stored vector · `vector` (one question), a block at a time
        (`scored_rows`): the values of `vectors(rows) @ vector` up to the last bit (the seeds'
        answers and scores: identical)."""
        return self.scored_rows(rows, lambda block: block @ vector)

    def save(self, path: Path) -> None:
        """The FAISS index in `path`, its spec beside it (`path` + SPEC_SUFFIX)."""
        faiss.write_index(self.index, str(path))
        spec_path(path).write_text(self.spec.model_dump_json(), encoding="utf-8")


def spec_path(path: Path) -> Path:
    return path.with_name(path.name + SPEC_SUFFIX)


def search_parameters(
    spec: IndexSpec, k: int, chosen: Selector | None
) -> tuple[faiss.SearchParameters, tuple[Any, ...]]:
    """Per-call FAISS parameters (the spec's nprobe, efSearch, rescore: FAISS's own defaults
    apply to any not set once parameters are passed) with the selector, if any; and the objects
    they point at, which must live until the search returns."""
    selected = chosen.selector if chosen is not None else None
    if spec.kind == "ivf":
        ivf = faiss.SearchParametersIVF()
        ivf.nprobe, ivf.sel = spec.nprobe, selected
        if not spec.pq:
            return ivf, (ivf, chosen)
        refine = faiss.IndexRefineSearchParameters()
        refine.k_factor = float(max(1.0, math.ceil(spec.rescore / k)))
        refine.base_index_params = ivf
        return refine, (ivf, chosen)
    params: Any = faiss.SearchParameters()
    if spec.kind == "hnsw":
        params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]  # not in the stubs
        params.efSearch = spec.ef_search
    params.sel = selected
    return params, (chosen,)


def train_sample(vectors: Vectors, rows: int) -> Vectors:
    """`rows` rows chosen at random (fixed seed, in row order, so a memory-mapped matrix is
    read forward), as float32."""
    if rows >= len(vectors):
        return np.ascontiguousarray(vectors, dtype=np.float32)
    picked = np.sort(np.random.default_rng(SEED).choice(len(vectors), rows, replace=False))
    return np.ascontiguousarray(vectors[picked], dtype=np.float32)


def build(vectors: Vectors, spec: IndexSpec) -> FaissIndex:
    """An index of `spec` over the rows of `vectors` (an array or a np.memmap): IVF lists
    trained on TRAIN_ROWS_PER_LIST sampled rows a list, rows added ADD_ROWS at a time."""
    n, dimension = vectors.shape
    index = faiss.index_factory(dimension, spec.factory(), faiss.METRIC_INNER_PRODUCT)
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        ivf.cp.seed = SEED
        ivf.by_residual = False  # float16 lists keep float16(row), as the other kinds do
        index.train(train_sample(vectors, spec.nlist * TRAIN_ROWS_PER_LIST))
        if not spec.pq:
            ivf.make_direct_map(True)  # rows are read back by number: `FaissIndex.vectors`
    elif isinstance(index, faiss.IndexHNSW):
        index.hnsw.efConstruction = spec.ef_construction
    if not index.is_trained:
        index.train(train_sample(vectors, min(n, ADD_ROWS)))
    built = FaissIndex(index, spec)
    built.add(vectors)
    return built


def load(path: Path, mmap: bool = True) -> FaissIndex:
    """An index saved by `FaissIndex.save`; `mmap` maps its flat storage from the file
    (read-only, shared by processes) instead of reading it into memory."""
    spec = IndexSpec.model_validate_json(spec_path(path).read_text(encoding="utf-8"))
    return FaissIndex(faiss.read_index(str(path), MMAP_FLAGS if mmap else 0), spec)
