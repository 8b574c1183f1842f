"""Calibration on dev: the refusal thresholds, the submitter preference, the fusion objective."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pytest

from eval.calibrate import (
    REFUSAL_MARGIN,
    FusionRow,
    Observed,
    SubmitterRow,
    fusion_table,
    quote_hit_rate,
    refusal_thresholds,
    refused_share,
    submitter_preference,
)
from eval.gold import LocatedGold, Span
from eval.questions import Question
from rag.config import AnswerSettings
from rag.query import Query
from rag.types import Document, DocumentEvidence, Evidence, Filters, ScoredSentence, Sentence


def observed(kind: str, best: float) -> Observed:
    """Only what the threshold choice reads: the question's kind and its best sentence."""
    document = Document("d", "d.txt", "D kommune", "kommune", "D", "Tekst.", "h")
    scored = ScoredSentence(Sentence("d", 0, 6, (0,)), best, best)
    question = Question(f"q-{kind}-{best}", "Spørsmål?", cast(Any, kind), ())
    evidence = Evidence((DocumentEvidence(document, (scored,)),))
    return Observed(question, cast(Any, None), (), frozenset(), cast(Any, None), evidence)


def test_refusal_sits_under_the_weakest_answerable_and_caution_above_every_negative() -> None:
    dev = [
        observed("factual", 0.91),
        observed("paraphrase", 0.86),
        observed("negative", 0.84),
        observed("negative", 0.87),
    ]
    low, high = refusal_thresholds(dev)
    assert low == pytest.approx(0.86 - REFUSAL_MARGIN)
    assert high == pytest.approx(0.872)  # just above the closest negative
    assert low < 0.86 < high  # the weakest real question is answered, with a caution


def test_high_confidence_never_falls_under_low() -> None:
    low, high = refusal_thresholds([observed("factual", 0.9), observed("negative", 0.5)])
    assert high == low == pytest.approx(0.9 - REFUSAL_MARGIN)


def test_submitter_preference_wants_coverage_first_then_precision_else_f1() -> None:
    rows = [
        SubmitterRow(0.85, 0.05, 0.02, precision=1.0, coverage=0.6),
        SubmitterRow(0.82, 0.05, 0.02, precision=0.8, coverage=1.0),
        SubmitterRow(0.83, 0.05, 0.02, precision=0.9, coverage=0.96),
    ]
    best = sorted(rows, key=submitter_preference)[0]
    assert (best.precision, best.coverage) == (0.9, 0.96)
    infeasible = [r for r in rows if r.coverage < 0.95] + [
        SubmitterRow(0.8, 0.05, 0.02, precision=0.7, coverage=0.9)
    ]
    assert sorted(infeasible, key=submitter_preference)[0].coverage == 0.9  # best F1


def test_fusion_objective_and_table() -> None:
    row = FusionRow(
        {"sentence_weight": 1.0, "dense_weight": 0.0, "bm25_weight": 0.0, "chunk_mix": 0.0},
        paraphrase_recall=0.6,
        factual_recall=0.9,
        answerable_mrr=0.3,
        answerable_recall=0.7,
    )
    assert row.objective == pytest.approx(0.6)
    table = fusion_table([row])
    assert "| 1 | 0 | 0 | 0 | 0.600 | 0.900 | 0.300 | 0.600 |" in table


TEXT = "Legevakten trenger flere leger om natten. Tannhelsen er god i fylket."
FIRST, SECOND = (0, 41), (42, len(TEXT))


def answered(kind: str, said: tuple[int, int], score: float) -> Observed:
    """A question whose gold is the first sentence, and whose evidence is sentence `said`."""
    document = Document("d", "d.txt", "D kommune", "kommune", "D", TEXT, "h")
    scored = ScoredSentence(Sentence("d", *said, (0,)), score, score)
    question = Question(f"q-{kind}-{said}-{score}", "Spørsmål?", cast(Any, kind), ())
    gold = LocatedGold("d.txt", TEXT[slice(*FIRST)], "d", Span(*FIRST), "whitespace")
    golds = (gold,) if kind != "negative" else ()
    query = Query(
        "Spørsmål?", np.zeros(4, np.float32), np.zeros(4, np.float32), (), (), {},
        frozenset(), False, Filters(),
    )  # fmt: skip
    evidence = Evidence((DocumentEvidence(document, (scored,)),))
    return Observed(question, query, golds, frozenset({"d"}), cast(Any, None), evidence)


def test_quote_hits_and_refusals_follow_the_decision() -> None:
    settings = AnswerSettings(low_confidence=0.5, high_confidence=0.6, submitter_threshold=0.5)
    dev = [
        answered("factual", FIRST, 0.9),  # quotes its gold sentence
        answered("paraphrase", SECOND, 0.9),  # quotes another
        answered("paraphrase", FIRST, 0.4),  # refused: quotes nothing
        answered("negative", SECOND, 0.3),  # refused
        answered("negative", SECOND, 0.7),  # answered
    ]
    assert quote_hit_rate(dev, settings, documents=1) == pytest.approx(1 / 3)
    assert refused_share(dev, settings) == pytest.approx(0.5)
