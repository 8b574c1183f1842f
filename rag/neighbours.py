"""Build-time nearest neighbours through the vector index: how typical each sentence is.

`typicality` has the definition of `rag.sentence_layer.typicality` (the mean cosine of a
sentence's `neighbours` closest other sentences, identical wordings, cos >= SAME_WORDING, not
counted), computed per encoder block by a k-nearest-neighbour search of each block's own index
instead of all pairs: exact (a flat index, NumPy) below `EXACT_BELOW` rows, where it equals the
all-pairs result, and approximate above (IVF; the agreement is measured by
`eval.bench_scale`). Rows are searched `QUERY_ROWS` at a time, so memory stays bounded by one
block's index plus a block of results, whatever the corpus size.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

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
SAME_WORDING = 0.999  # cosine from which two sentences count as one wording (template letters)
QUERY_ROWS = 4096  # rows searched at a time
SPARE = 3  # neighbours asked for beyond those needed: itself and a few identical wordings
WIDEN = 4  # rows with too many identical wordings are searched again with k this much larger
TYPICALITY_NPROBE = 8  # IVF: lists scanned per sentence (its neighbours are sentences, which
TYPICALITY_RESCORE = 64  # lie in the lists near its own); candidates scored exactly. 1M
# sentences: 7.2 minutes for both blocks, mean error 5.7e-4 (e5) and 3.6e-4 (Gemma); 4 lists
# would take about a fifth less time for about half again the error (eval.bench_scale)
NO_NEIGHBOUR = -1.0  # what a missing neighbour counts (as the all-pairs definition has it)


def typicality_per_encoder(
    vectors: Vectors,
    blocks: Sequence[slice],
    neighbours: int = TYPICAL_NEIGHBOURS,
    flat_below: int = EXACT_BELOW,
) -> NDArray[np.float32]:
    """`typicality` in each encoder's block of the vectors (rag/encoders.py), one column each."""
    columns = [typicality(vectors, block, neighbours, flat_below) for block in blocks]
    return np.stack(columns, axis=1).astype(np.float32).reshape(len(vectors), len(blocks))


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
) -> NDArray[np.float32]:
    """How generic each sentence is in its corpus: the mean cosine of its `neighbours` closest
    other sentences in the columns `block` of `vectors` (an array or np.memmap of unit rows),
    the same wording elsewhere (a template letter, a repeated line) not counted.

    A generic sentence («Dette er et viktig tema») is close to many sentences and so to many
    questions, answerable or not (the hubness of embedding spaces); subtracting a share of its
    typicality from its cosine (CSLS, Conneau et al. 2018) tells a question the corpus answers
    from one that merely lands on such a hub (`rag.scoring.distinctiveness`)."""
    count = len(vectors)
    result = np.zeros(count, dtype=np.float32)
    if count < 2:
        return result
    width = len(range(*block.indices(vectors.shape[1])))
    columns = vectors[:, block]  # a strided view: `build` copies a block of rows at a time
    index = build(columns, typicality_spec(count, width, flat_below))
    k = min(neighbours, count - 1)
    for start in range(0, count, QUERY_ROWS):
        rows = slice(start, min(start + QUERY_ROWS, count))
        queries = np.ascontiguousarray(vectors[rows, block], dtype=np.float32)
        result[rows] = mean_of_closest(index, queries, k)
    log.info("typicality of %d rows (columns %s) by %s", count, block, index.spec.kind)
    return result


def mean_of_closest(index: FaissIndex, queries: Vectors, k: int) -> NDArray[np.float32]:
    """Per query row: the mean of its k best scores under SAME_WORDING; rows with fewer than k
    such neighbours are searched again with a wider k, and, once every row has been searched,
    the missing ones count NO_NEIGHBOUR (as in the all-pairs definition)."""
    found = np.zeros(len(queries), dtype=np.float32)
    pending = np.arange(len(queries))
    wanted = k + SPARE
    while len(pending):
        wanted = min(wanted, index.size)
        scores, rows = index.search(queries[pending], wanted)
        kept = (scores < SAME_WORDING) & (rows != MISSING)
        complete = (kept.sum(axis=1) >= k) | (wanted >= index.size)
        for i in np.flatnonzero(complete):
            closest = scores[i, kept[i]][:k]
            padded = np.concatenate([closest, np.full(k - len(closest), NO_NEIGHBOUR)])
            found[pending[i]] = np.float32(padded.astype(np.float32).mean())
        pending = pending[~complete]
        wanted *= WIDEN
    return found
