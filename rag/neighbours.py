"""Build-time nearest neighbours through the vector index: how typical each sentence is, kept
from one build to the next.

`typicality` has the definition of `rag.sentence_layer.typicality` (the mean cosine of a
sentence's `neighbours` closest other sentences, identical wordings, cos >= SAME_WORDING, not
counted), computed per encoder block by a k-nearest-neighbour search of each block's own index
instead of all pairs: exact (a flat index, NumPy) below `EXACT_BELOW` rows, where it equals the
all-pairs result, and approximate above (IVF; the agreement is measured by
`eval.bench_scale`). Rows are searched `QUERY_ROWS` at a time, so memory stays bounded by one
block's index plus a block of results, whatever the corpus size.

A build keeps each sentence's closest others (`Neighbours`: a few more than it uses, keyed by a
hash of the text embedded for it), so the next build of a changed corpus (`updated`) does not
search every sentence again: the sentences it still has keep their lists (less the rows it
lost, plus any sentence it gained that comes closer, scored exactly), and only the sentences
it gained, and those that lost too many of their own, are scored exactly against every row.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from rag.vector_index import (
    MISSING,
    FaissIndex,
    IndexSpec,
    Vectors,
    build,
    choose_spec,
)

log = logging.getLogger(__name__)

TYPICAL_NEIGHBOURS = 5
EXACT_BELOW = 20_000  # rows from which typicality searches an IVF: all pairs of 20,000 take ~5 s
UPDATE_PAIRS = EXACT_BELOW * EXACT_BELOW  # an update scoring more pairs searches every row again
SAME_WORDING = 0.999  # cosine from which two sentences count as one wording (template letters)
QUERY_ROWS = 4096  # rows searched (or scored against a slab of rows) at a time
SPARE = 3  # neighbours kept beyond those used, and asked for beyond those kept
WIDEN = 4  # rows with too many identical wordings are searched again with k this much larger
TYPICALITY_NPROBE = 8  # IVF: lists scanned per sentence (its neighbours are sentences, which
TYPICALITY_RESCORE = 64  # lie in the lists near its own); candidates scored exactly. 1M
# sentences: 7.2 minutes for both blocks, mean error 5.7e-4 (e5) and 3.6e-4 (Gemma); 4 lists
# would take about a fifth less time for about half again the error (eval.bench_scale)
NO_NEIGHBOUR = -1.0  # what a missing neighbour counts (as the all-pairs definition has it)

Keys = NDArray[np.uint64]
Scores = NDArray[np.float32]
Rows = NDArray[np.int64]


@dataclass(frozen=True)
class Neighbours:
    """Each row's closest other rows in every encoder's block, identical wordings not counted,
    best first, as many as are known (at most `kept`); the rest NO_NEIGHBOUR / MISSING."""

    keys: Keys  # (rows,) what each row embeds (`passage_keys`): which rows two builds share
    scores: Scores  # (rows, encoders, kept)
    rows: Rows  # (rows, encoders, kept)

    @property
    def kept(self) -> int:
        return int(self.scores.shape[2])

    def typicality(self, neighbours: int = TYPICAL_NEIGHBOURS) -> Scores:
        """Per row and encoder: the mean of its `neighbours` closest (fewer in a corpus of
        fewer rows), a missing one counting NO_NEIGHBOUR."""
        count, encoders, _ = self.scores.shape
        k = min(neighbours, count - 1, self.kept)
        if k <= 0:
            return np.zeros((count, encoders), dtype=np.float32)
        found: Scores = self.scores[:, :, :k].mean(axis=2, dtype=np.float64).astype(np.float32)
        return found

    def save(self, path: Path) -> None:
        with path.open("wb") as handle:
            np.savez(handle, keys=self.keys, scores=self.scores, rows=self.rows.astype(np.int32))


def read_neighbours(path: Path) -> Neighbours | None:
    """The neighbours a build kept at `path`, or None when there are none or they do not hold
    together (an older build, a damaged file): the next build then searches every row."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            keys, scores, rows = stored["keys"], stored["scores"], stored["rows"]
    except (OSError, KeyError, ValueError) as exc:
        log.info("no neighbours kept at %s (%s): every row is searched", path, exc)
        return None
    shaped = keys.ndim == 1 and scores.ndim == 3 and scores.shape == rows.shape
    if not shaped or len(keys) != len(scores) or keys.dtype != np.uint64:
        return None
    return Neighbours(keys, scores.astype(np.float32), rows.astype(np.int64))


def passage_keys(texts: Sequence[str]) -> Keys:
    """A 64-bit hash of each text a row embeds: with the same encoders, the same vector."""
    digests = (hashlib.blake2b(t.encode("utf-8"), digest_size=8).digest() for t in texts)
    return np.fromiter((int.from_bytes(d, "little") for d in digests), np.uint64, len(texts))


def typicality_per_encoder(
    vectors: Vectors,
    blocks: Sequence[slice],
    neighbours: int = TYPICAL_NEIGHBOURS,
    flat_below: int = EXACT_BELOW,
) -> Scores:
    """`typicality` in each encoder's block of the vectors (rag/encoders.py), one column each."""
    keys = np.zeros(len(vectors), dtype=np.uint64)
    return closest_per_encoder(vectors, blocks, keys, neighbours, flat_below).typicality(neighbours)


def closest_per_encoder(
    vectors: Vectors,
    blocks: Sequence[slice],
    keys: Keys,
    neighbours: int = TYPICAL_NEIGHBOURS,
    flat_below: int = EXACT_BELOW,
) -> Neighbours:
    """Every row's closest others in each encoder's block, by a search of that block's index."""
    kept = neighbours + SPARE
    found = [closest(vectors, block, kept, flat_below) for block in blocks]
    return side_by_side(keys, found, kept)


def side_by_side(keys: Keys, columns: Sequence[tuple[Scores, Rows]], kept: int) -> Neighbours:
    """The neighbours of each encoder's block (its lists of scores and rows) as one record."""
    shape = (len(keys), len(columns), kept)
    return Neighbours(
        keys,
        np.stack([s for s, _ in columns], axis=1).reshape(shape),
        np.stack([r for _, r in columns], axis=1).reshape(shape),
    )


def typicality_spec(n: int, dimension: int, flat_below: int = EXACT_BELOW) -> IndexSpec:
    """The index a block's typicality is searched in: exact below `flat_below` rows; above, the
    serving IVF with fewer lists probed and fewer candidates re-scored (a sentence's neighbours
    are sentences, which an IVF finds far more easily than a question's)."""
    spec = choose_spec(n, dimension, "auto", flat_below=flat_below)
    if spec.kind != "ivf":
        return spec
    update = {"nprobe": min(spec.nlist, TYPICALITY_NPROBE), "rescore": TYPICALITY_RESCORE}
    return spec.model_copy(update=update)


def typicality(
    vectors: Vectors,
    block: slice = slice(None),
    neighbours: int = TYPICAL_NEIGHBOURS,
    flat_below: int = EXACT_BELOW,
) -> Scores:
    """How generic each sentence is in its corpus: the mean cosine of its `neighbours` closest
    other sentences in the columns `block` of `vectors` (an array or np.memmap of unit rows),
    the same wording elsewhere (a template letter, a repeated line) not counted.

    A generic sentence («Dette er et viktig tema») is close to many sentences and so to many
    questions, answerable or not (the hubness of embedding spaces); subtracting a share of its
    typicality from its cosine (CSLS, Conneau et al. 2018) tells a question the corpus answers
    from one that merely lands on such a hub (`rag.scoring.distinctiveness`)."""
    keys = np.zeros(len(vectors), dtype=np.uint64)
    found = closest_per_encoder(vectors, [block], keys, neighbours, flat_below)
    return found.typicality(neighbours)[:, 0]


def closest(vectors: Vectors, block: slice, kept: int, flat_below: int) -> tuple[Scores, Rows]:
    """Each row's `kept` closest other rows in the columns `block`, by a search of their index."""
    count = len(vectors)
    scores, rows = unknown(count, kept)
    if count < 2:
        return scores, rows
    width = len(range(*block.indices(vectors.shape[1])))
    columns = vectors[:, block]  # a strided view: `build` copies a block of rows at a time
    index = build(columns, typicality_spec(count, width, flat_below))
    for start in range(0, count, QUERY_ROWS):
        part = slice(start, min(start + QUERY_ROWS, count))
        queries = np.ascontiguousarray(vectors[part, block], dtype=np.float32)
        scores[part], rows[part] = closest_in(index, queries, kept)
    log.info("neighbours of %d rows (columns %s) by %s", count, block, index.spec.kind)
    return scores, rows


def unknown(count: int, kept: int) -> tuple[Scores, Rows]:
    return (
        np.full((count, kept), NO_NEIGHBOUR, dtype=np.float32),
        np.full((count, kept), MISSING, dtype=np.int64),
    )


def closest_in(index: FaissIndex, queries: Vectors, kept: int) -> tuple[Scores, Rows]:
    """Per query row: its `kept` best rows under SAME_WORDING; rows with fewer such are
    searched again with a wider k, and, once every row has been searched, the missing ones
    count NO_NEIGHBOUR (as in the all-pairs definition)."""
    found_scores, found_rows = unknown(len(queries), kept)
    pending = np.arange(len(queries))
    wanted = kept + SPARE
    while len(pending):
        wanted = min(wanted, index.size)
        scores, rows = index.search(queries[pending], wanted)
        usable = (scores < SAME_WORDING) & (rows != MISSING)
        complete = (usable.sum(axis=1) >= kept) | (wanted >= index.size)
        done = pending[complete]
        found_scores[done], found_rows[done] = first_usable(
            scores[complete], rows[complete], usable[complete], kept
        )
        pending = pending[~complete]
        wanted *= WIDEN
    return found_scores, found_rows


def first_usable(
    scores: Scores, rows: Rows, usable: NDArray[np.bool_], kept: int
) -> tuple[Scores, Rows]:
    """Per row, its first `kept` usable results in their order, padded as unknown."""
    order = np.argsort(~usable, axis=1, kind="stable")[:, :kept]
    width = order.shape[1]
    found_scores, found_rows = unknown(len(scores), kept)
    ok = np.take_along_axis(usable, order, axis=1)
    found_scores[:, :width] = np.where(ok, np.take_along_axis(scores, order, 1), NO_NEIGHBOUR)
    found_rows[:, :width] = np.where(ok, np.take_along_axis(rows, order, 1), MISSING)
    return found_scores, found_rows


# --- from one build to the next ---------------------------------------------------------


def updated(
    previous: Neighbours,
    vectors: Vectors,
    blocks: Sequence[slice],
    keys: Keys,
    neighbours: int = TYPICAL_NEIGHBOURS,
    flat_below: int = EXACT_BELOW,
) -> Neighbours:
    """The neighbours of `vectors` (rows embedding `keys`), from those a previous build kept:
    a row it had keeps its list, less the rows gone, merged with the new rows' exact scores;
    new rows and rows left with fewer than `neighbours` are scored exactly against every row.
    When that is more than UPDATE_PAIRS pairs (most of the corpus changed), or the previous
    lists are of another shape, every row is searched as in a first build."""
    kept = neighbours + SPARE
    if previous.kept != kept or previous.scores.shape[1] != len(blocks) or len(vectors) < 2:
        return closest_per_encoder(vectors, blocks, keys, neighbours, flat_below)
    old_row = matched(previous.keys, keys)
    new_row = np.full(len(previous.keys), MISSING, dtype=np.int64)
    new_row[old_row[old_row != MISSING]] = np.flatnonzero(old_row != MISSING)
    added = np.flatnonzero(old_row == MISSING)
    carried = [carry(previous, e, old_row, new_row) for e in range(len(blocks))]
    again = [np.flatnonzero((r != MISSING).sum(axis=1) < neighbours) for _, r in carried]
    pairs = sum(len(a) * len(vectors) + (len(vectors) - len(a)) * len(added) for a in again)
    if pairs > UPDATE_PAIRS:
        log.info("%d of %d rows to score again: every row is searched", len(added), len(keys))
        return closest_per_encoder(vectors, blocks, keys, neighbours, flat_below)
    columns = []
    for block, (scores, rows), search in zip(blocks, carried, again, strict=True):
        merged_with(vectors, block, scores, rows, added, search)
        scores[search], rows[search] = exact_closest(vectors, block, search, kept)
        columns.append((scores, rows))
    log.info(
        "neighbours of %d rows kept from the previous build, %d new",
        len(keys) - len(added),
        len(added),
    )
    return side_by_side(keys, columns, kept)


def matched(previous: Keys, keys: Keys) -> Rows:
    """Per row of `keys`: a row of `previous` with the same key (each used once; the n-th
    repeat of a key matches its n-th repeat there), or MISSING."""
    available: dict[int, list[int]] = {}
    for row, key in reversed(list(enumerate(previous.tolist()))):
        available.setdefault(key, []).append(row)
    found = np.full(len(keys), MISSING, dtype=np.int64)
    for row, key in enumerate(keys.tolist()):
        rows = available.get(key)
        if rows:
            found[row] = rows.pop()
    return found


def carry(previous: Neighbours, encoder: int, old_row: Rows, new_row: Rows) -> tuple[Scores, Rows]:
    """The previous lists of one encoder in the new rows' numbering: rows gone dropped, the
    rest moved to the front in their order; a new row has none."""
    scores, rows = unknown(len(old_row), previous.kept)
    had = np.flatnonzero(old_row != MISSING)
    before = previous.rows[old_row[had], encoder]
    now = np.where(before == MISSING, MISSING, new_row[np.maximum(before, 0)])
    order = np.argsort(now == MISSING, axis=1, kind="stable")
    now = np.take_along_axis(now, order, axis=1)
    value = np.take_along_axis(previous.scores[old_row[had], encoder], order, axis=1)
    rows[had] = now
    scores[had] = np.where(now == MISSING, NO_NEIGHBOUR, value)
    return scores, rows


def merged_with(
    vectors: Vectors, block: slice, scores: Scores, rows: Rows, added: Rows, search: Rows
) -> None:
    """Merge the new rows into the carried lists of the rows not searched again, in place.

    A carried list is the previous corpus's best rows (less those gone), so a row not on it
    scores at most its last entry: of the merged list, the entries down to that score are
    exact, and only those are kept."""
    if not len(added):
        return
    keep = np.setdiff1d(np.arange(len(vectors)), search, assume_unique=True)
    targets = np.ascontiguousarray(vectors[added, block], dtype=np.float32)
    for start in range(0, len(keep), QUERY_ROWS):
        part = keep[start : start + QUERY_ROWS]
        fresh = np.ascontiguousarray(vectors[part, block], dtype=np.float32) @ targets.T
        fresh[fresh >= SAME_WORDING] = -np.inf
        known = rows[part] != MISSING
        floor = np.where(known, scores[part], np.inf).min(axis=1, keepdims=True)
        candidates = np.concatenate([np.where(known, scores[part], -np.inf), fresh], axis=1)
        ids = np.concatenate([rows[part], np.broadcast_to(added, fresh.shape)], axis=1)
        best_scores, best_rows = best_of(candidates, ids, rows.shape[1])
        exact = best_scores >= floor
        scores[part] = np.where(exact, best_scores, NO_NEIGHBOUR)
        rows[part] = np.where(exact, best_rows, MISSING)


def exact_closest(vectors: Vectors, block: slice, search: Rows, kept: int) -> tuple[Scores, Rows]:
    """The `kept` closest other rows of the rows `search`, scored against every row."""
    scores, rows = unknown(len(search), kept)
    for start in range(0, len(search), QUERY_ROWS):
        part = slice(start, start + QUERY_ROWS)
        queries = np.ascontiguousarray(vectors[search[part], block], dtype=np.float32)
        best = np.full((len(queries), kept), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), kept), MISSING, dtype=np.int64)
        for first in range(0, len(vectors), QUERY_ROWS):
            slab = np.ascontiguousarray(vectors[first : first + QUERY_ROWS, block], np.float32)
            fresh = queries @ slab.T
            fresh[fresh >= SAME_WORDING] = -np.inf
            slab_rows = np.arange(first, first + len(slab), dtype=np.int64)
            best, ids = best_of(
                np.concatenate([best, fresh], axis=1),
                np.concatenate([ids, np.broadcast_to(slab_rows, fresh.shape)], axis=1),
                kept,
            )
        found = np.isfinite(best)
        scores[part] = np.where(found, best, NO_NEIGHBOUR)
        rows[part] = np.where(found, ids, MISSING)
    return scores, rows


def best_of(scores: Scores, rows: Rows, kept: int) -> tuple[Scores, Rows]:
    """Per line, the `kept` best (scores, rows), best first (-inf where there are fewer)."""
    if scores.shape[1] > kept:
        top = np.argpartition(-scores, kept - 1, axis=1)[:, :kept]
        scores, rows = np.take_along_axis(scores, top, 1), np.take_along_axis(rows, top, 1)
    order = np.argsort(-scores, axis=1, kind="stable")
    found_scores = np.take_along_axis(scores, order, 1)
    found_rows = np.where(np.isfinite(found_scores), np.take_along_axis(rows, order, 1), MISSING)
    width = found_scores.shape[1]
    if width < kept:
        pad = ((0, 0), (0, kept - width))
        found_scores = np.pad(found_scores, pad, constant_values=-np.inf)
        found_rows = np.pad(found_rows, pad, constant_values=MISSING)
    return found_scores.astype(np.float32), found_rows
