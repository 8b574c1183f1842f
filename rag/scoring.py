"""How sentences are scored for a question under a policy: one definition, used by retrieval
(on every sentence, to pick candidates) and by the decision (on the candidates).

Every formula takes per-sentence features with one column per encoder and the policy's weights
per encoder in the same order:

- similarity in context: Σ_e w_e · (own_e + context_mix · chunk_e) / (1 + context_mix), where
  own_e is the sentence's own cosine to the question's topic and chunk_e the cosine of the
  closest chunk that holds it (the chunk vector carries the submitter and section);
- distinctiveness: Σ_e s_e · own_e − typicality_weight · Σ_e s_e · typical_e, with the support
  weights s_e and the sentence's typicality (mean cosine to its closest other sentences, less
  the corpus median: a generic sentence close to every question is discounted);
- support: the mean distinctiveness of the `support_sentences` best distinct wordings, less
  `vocabulary_weight` × the share of the question's words the corpus does not know.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from rag.policy import Policy

Floats = NDArray[np.float32]
Rows = NDArray[np.int64]
NO_SUPPORT = -1.0  # nothing to quote
SUPPORT_DEPTH = 3  # candidates by distinctiveness: this many times the support's sentences


def weight_vector(policy: Policy, identities: tuple[str, ...], support: bool) -> Floats:
    """The policy's weight of each encoder, in the index's order."""
    return np.array([policy.weight(i, support) for i in identities], dtype=np.float32)


def similarity(own: Floats, chunk: Floats, weights: Floats, context_mix: float) -> Floats:
    """Per sentence (rows of `own` and `chunk`, one column per encoder): its similarity to the
    question in its context. Summed per row, so a row's value does not depend on the rows
    scored with it."""
    mixed = (own + np.float32(context_mix) * chunk) / np.float32(1.0 + context_mix)
    result: Floats = (mixed * weights).sum(axis=1, dtype=np.float32)
    return result


def distinctiveness(
    own: Floats, typical: Floats, weights: Floats, typicality_weight: float
) -> Floats:
    """Per sentence: its own cosine less its typicality, both under the support weights."""
    cosine = (own * weights).sum(axis=1, dtype=np.float32)
    generic = (typical * weights).sum(axis=1, dtype=np.float32)
    result: Floats = (cosine - np.float32(typicality_weight) * generic).astype(np.float32)
    return result


def segments_of(lengths: Sequence[int]) -> Rows:
    """The segment (a document's candidates) of each position of their concatenation."""
    found: Rows = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    return found


def ranked_within(values: Floats, segments: Rows) -> Rows:
    """Every position, by segment, then best value first, then earlier position (stable)."""
    found: Rows = np.lexsort((-values, segments)).astype(np.int64)
    return found


def first_per_segment(order: Rows, segments: Rows, n: int) -> Rows:
    """Of `order` (positions grouped by segment), the first `n` of each segment."""
    if not len(order):
        return order
    grouped = segments[order]
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
    first = np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    found: Rows = order[np.arange(len(order)) - first < n]
    return found


def best_distinct(scores: Floats, wordings: Rows, n: int, segments: Rows | None = None) -> Rows:
    """Positions of the `n` best `scores` of each segment (one, when not given), one per
    wording (a template sentence sent by several submitters counts once), best first; ties
    keep the earlier position."""
    within = np.zeros(len(scores), np.int64) if segments is None else segments
    order = ranked_within(scores, within)
    if not len(order):
        return order
    pairs = within[order] * (int(wordings.max()) + 1) + wordings[order]
    _, first = np.unique(pairs, return_index=True)
    return first_per_segment(order[np.sort(first)], within, n)


def support(distinctive: Floats, wordings: Rows, policy: Policy, coverage: float) -> float:
    """How strongly sentences support an answer: the mean distinctiveness of the best distinct
    ones, less `vocabulary_weight` × the share of the question's words the corpus does not know.
    A topic the corpus discusses is said in several sentences; a question it does not cover
    lands on one stray sentence. `NO_SUPPORT` when there is nothing to quote."""
    no_segments = np.zeros(len(distinctive), np.int64)
    return float(supports(distinctive, wordings, no_segments, 1, policy, coverage)[0])


def supports(
    distinctive: Floats,
    wordings: Rows,
    segments: Rows,
    count: int,
    policy: Policy,
    coverage: float,
) -> NDArray[np.float64]:
    """`support` of each of `count` segments (NO_SUPPORT for one without sentences)."""
    best = best_distinct(distinctive, wordings, policy.support.support_sentences, segments)
    values = distinctive[best].astype(np.float64)
    sums = np.bincount(segments[best], weights=values, minlength=count)
    counts = np.bincount(segments[best], minlength=count)
    unfamiliar = policy.support.vocabulary_weight * (1.0 - coverage)
    means = sums / np.maximum(counts, 1) - unfamiliar
    found: NDArray[np.float64] = np.where(counts > 0, means, NO_SUPPORT)
    return found


def narrowed(
    own: Floats,
    chunk: Floats,
    typical: Floats,
    policy: Policy,
    identities: tuple[str, ...],
    per_document: int,
    segments: Rows | None = None,
) -> Rows:
    """Positions of each document's candidates worth deciding on (of one document, or of the
    documents `segments` tells apart): its `per_document` × 3 closest in context (what may be
    quoted) and its best by distinctiveness (what its support rests on), in their original
    order. The decision on these is the decision on all of them but for the lexical
    tie-break, which only reorders sentences within 0.01 of each other."""
    within = np.zeros(len(own), np.int64) if segments is None else segments
    close = similarity(own, chunk, weight_vector(policy, identities, False), policy.context_mix)
    distinct = distinctiveness(
        own, typical, weight_vector(policy, identities, True), policy.support.typicality_weight
    )
    depth = SUPPORT_DEPTH * policy.support.support_sentences
    chosen = np.zeros(len(own), dtype=bool)
    chosen[first_per_segment(ranked_within(close, within), within, per_document * 3)] = True
    chosen[first_per_segment(ranked_within(distinct, within), within, depth)] = True
    found: Rows = np.flatnonzero(chosen).astype(np.int64)
    return found
