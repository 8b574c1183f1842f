"""Calibration on dev: the refusal thresholds, the submitter preference, the fusion objective."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pytest

from eval.calibrate import (
    FALSE_REFUSAL_COST,
    REFUSAL_MARGIN,
    FusionRow,
    Observed,
    SubmitterRow,
    SupportRow,
    answerable_of,
    chosen_then_judged,
    cross_validated_refusals,
    fusion_table,
    quote_hit_rate,
    refusal_ceiling,
    refusal_thresholds,
    refused_share,
    submitter_preference,
    support_table,
    supports_of,
)
from eval.gold import LocatedGold, Span
from eval.questions import Question
from rag.config import AnswerSettings
from rag.query import Query
from rag.types import Document, DocumentEvidence, Evidence, Filters, ScoredSentence, Sentence


def observed(kind: str, support: float) -> Observed:
    """Only what the threshold choice reads: the question's kind and its support."""
    document = Document("d", "d.txt", "D kommune", "kommune", "D", "Tekst.", "h")
    scored = ScoredSentence(Sentence("d", 0, 6, (0,)), 0.0, 0.0)  # support alone decides
    question = Question(f"q-{kind}-{support}", "Spørsmål?", cast(Any, kind), ())
    evidence = Evidence((DocumentEvidence(document, (scored,), support),), support)
    return Observed(question, cast(Any, None), (), frozenset(), cast(Any, None), evidence)


def cross_validated(questions: list[Observed]) -> tuple[float, float]:
    return cross_validated_refusals(supports_of(questions), answerable_of(questions))


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


def test_cross_validation_counts_refusals_on_the_half_that_did_not_set_the_threshold() -> None:
    answerable = [observed("paraphrase", 0.9) for _ in range(8)]
    below = [observed("negative", 0.5) for _ in range(6)]
    above = [observed("negative", 0.95) for _ in range(6)]
    assert cross_validated(answerable + below) == (0.0, 1.0)
    assert cross_validated(answerable + above) == (0.0, 0.0)
    # One weak real question: refused whenever it is in the other half (never by its own).
    false, _ = cross_validated([*answerable, observed("paraphrase", 0.7), *below])
    assert 0.05 < false < 0.2


def test_the_nested_choice_picks_on_one_half_and_judges_on_the_other() -> None:
    kinds = ["paraphrase"] * 10 + ["negative"] * 10
    answerable = answerable_of([observed(k, 0.0) for k in kinds])
    separating = np.array([0.9] * 10 + [0.5] * 10)  # every negative under every real question
    useless = np.array([0.9] * 10 + [0.95] * 10)  # every negative above them
    assert chosen_then_judged([useless, separating], answerable) == (0.0, 1.0)
    # Ties go to the first (simplest) setting: two identical settings judge like one.
    assert chosen_then_judged([useless, useless], answerable) == (0.0, 0.0)


def test_the_ceiling_counts_the_negatives_under_the_weakest_real_question() -> None:
    kinds = ["paraphrase"] * 4 + ["negative"] * 4
    answerable = answerable_of([observed(k, 0.0) for k in kinds])
    support = np.array([0.90, 0.88, 0.86, 0.87, 0.80, 0.85, 0.857, 0.89])
    # Under the weakest real question (0.86), with no margin: all but 0.89.
    assert refusal_ceiling(support, answerable) == 0.75
    weaker = support.copy()
    weaker[2] = 0.79  # one weak real question lowers the bar for every negative
    assert refusal_ceiling(weaker, answerable) == 0.0


def test_the_support_table_shows_the_ceiling_beside_the_cross_validated_figures() -> None:
    row = SupportRow(1.0, 2, 0.2, false_refusals=0.0, negatives_refused=0.484, ceiling=0.568)
    table = support_table([row])
    assert "| ceiling (in-sample) |" in table.splitlines()[0]
    assert "| 1 | 2 | 0.2 | 0.000 | 0.484 | 0.568 |" in table


def test_support_rows_trade_a_false_refusal_for_several_refused_negatives() -> None:
    careful = SupportRow(0.25, 3, 0.2, false_refusals=0.0, negatives_refused=0.5, ceiling=0.6)
    eager = SupportRow(0.5, 3, 0.2, false_refusals=0.02, negatives_refused=0.6, ceiling=0.7)
    assert careful.objective == 0.5
    assert eager.objective == pytest.approx(0.6 - FALSE_REFUSAL_COST * 0.02)
    assert careful.objective > eager.objective


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
        frozenset(), False, Filters(), 1.0,
    )  # fmt: skip
    evidence = Evidence((DocumentEvidence(document, (scored,), score),), score)
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
