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
    question in its context."""
    mixed = (own + np.float32(context_mix) * chunk) / np.float32(1.0 + context_mix)
    result: Floats = (mixed @ weights).astype(np.float32)
    return result


def distinctiveness(
    own: Floats, typical: Floats, weights: Floats, typicality_weight: float
) -> Floats:
    """Per sentence: its own cosine less its typicality, both under the support weights."""
    result: Floats = (own @ weights - np.float32(typicality_weight) * (typical @ weights)).astype(
        np.float32
    )
    return result


def best_distinct(scores: Floats, wordings: Rows, n: int) -> Rows:
    """Positions of the `n` best `scores`, one per wording (a template sentence sent by several
    submitters counts once), best first; ties keep the earlier position."""
    order = np.argsort(-scores, kind="stable")
    _, first = np.unique(wordings[order], return_index=True)
    chosen: Rows = order[np.sort(first)[:n]]
    return chosen


def support(distinctive: Floats, wordings: Rows, policy: Policy, coverage: float) -> float:
    """How strongly sentences support an answer: the mean distinctiveness of the best distinct
    ones, less `vocabulary_weight` × the share of the question's words the corpus does not know.
    A topic the corpus discusses is said in several sentences; a question it does not cover
    lands on one stray sentence. `NO_SUPPORT` when there is nothing to quote."""
    best = best_distinct(distinctive, wordings, policy.support.support_sentences)
    if not len(best):
        return NO_SUPPORT
    unfamiliar = policy.support.vocabulary_weight * (1.0 - coverage)
    return float(distinctive[best].mean()) - unfamiliar


def narrowed(
    own: Floats,
    chunk: Floats,
    typical: Floats,
    policy: Policy,
    identities: tuple[str, ...],
    per_document: int,
) -> Rows:
    """Positions of a document's candidates worth deciding on: its `per_document` × 3 closest
    in context (what may be quoted) and its best by distinctiveness (what its support rests
    on), in their original order. The decision on these is the decision on all of them but for
    the lexical tie-break, which only reorders sentences within 0.01 of each other."""
    close = similarity(own, chunk, weight_vector(policy, identities, False), policy.context_mix)
    distinct = distinctiveness(
        own, typical, weight_vector(policy, identities, True), policy.support.typicality_weight
    )
    return np.union1d(
        np.argsort(-close, kind="stable")[: per_document * 3],
        np.argsort(-distinct, kind="stable")[: SUPPORT_DEPTH * policy.support.support_sentences],
    ).astype(np.int64)
