"""Choose the retrieval fusion and the answer thresholds; never judge a setting on what chose it.

Retrieval and the relevance decision are pure functions of per-question evidence, so the
evidence is computed once per question (one embedding each) and every candidate setting is
scored on it without touching the model again.

On the dev split:

- fusion: recall@10 of paraphrase questions and MRR@10 of all answerable ones, for every
  combination of `FUSION_GRID` (the sweep the README and closing note report);
- context: `context_mix` (how much a sentence's chunk counts in its /ask similarity) for the
  best quote hit rate on the answerable questions;
- submitters: `submitter_threshold` / `corpus_gap` for the best submitter precision at
  coverage ≥ `MIN_COVERAGE` on the aggregate questions (the best F1 where no setting reaches
  that coverage).

On every question (dev and test), by cross-validation, because the refusal bar is set by the
weakest real questions and dev alone holds too few kinds of them (a fact named in a single
sentence sets the bar lower than any dev question did):

- support: `typicality_weight`, `support_sentences` and `vocabulary_weight` (what the refusal
  rests on) for the most negatives refused, a false refusal counted `FALSE_REFUSAL_COST` times,
  both measured on the half of the questions that did not set the threshold
  (`cross_validated_refusals`);
- thresholds: `low_confidence` `REFUSAL_MARGIN` under the lowest answerable question's support
  (refusing a real question is worse than a cautious answer), `high_confidence` just above the
  closest negative. What is reported for refusals is the cross-validated figure; beside it,
  each setting's in-sample ceiling (`refusal_ceiling`), the most negatives any threshold on it
  could refuse without refusing a real question.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from eval import metrics
from eval.gold import LocatedGold, StoredText, locate_all
from eval.questions import Question
from eval.report import markdown_table
from rag.answer import compose
from rag.config import AnswerSettings, RetrievalSettings
from rag.decide import decide
from rag.query import Query
from rag.retrieve import ChunkScores, Retriever, best_passages
from rag.service import Service
from rag.store import StoredIndex
from rag.types import Evidence

MIN_COVERAGE = 0.95
REFUSAL_MARGIN = 0.005
DEPTH = 10
FUSION_GRID: dict[str, tuple[float, ...]] = {
    "sentence_weight": (0.0, 1.0, 2.0, 3.0),
    "dense_weight": (0.0, 1.0, 2.0),
    "bm25_weight": (0.0, 0.5, 1.0),
    "chunk_mix": (0.0, 0.25, 0.5, 1.0),
}
CONTEXT_MIXES = (0.0, 0.25, 0.5, 1.0)
TYPICALITY_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)
SUPPORT_SENTENCES = (1, 2, 3, 4, 5)
VOCABULARY_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5)
FALSE_REFUSAL_COST = 10.0
HALVINGS = 200
INNER = 20  # halvings within a half when the whole choice is cross-validated
WEIGHT_STEP = 0.1
GRID_STEPS = 40


@dataclass(frozen=True)
class Observed:
    """One question with everything the decisions are made from."""

    question: Question
    query: Query
    golds: tuple[LocatedGold, ...]
    gold_documents: frozenset[str]
    scores: ChunkScores
    evidence: Evidence


def observe(
    service: Service, retriever: Retriever, questions: Sequence[Question], per_document: int
) -> list[Observed]:
    """Each question parsed once (its `Query` holds every encoder's vector), scored by
    `retriever` (its encoder weights)."""
    by_source = {
        d.source: StoredText(d.document_id, d.text) for d in service.index.documents.values()
    }
    found = []
    for question in questions:
        query = service.parse(question.question)
        golds = locate_all(question.relevant, by_source)
        found.append(
            Observed(
                question,
                query,
                golds,
                frozenset(g.document_id for g in golds if g.document_id),
                retriever.chunk_scores(query),
                retriever.evidence(query, per_document),
            )
        )
    return found


# --- fusion ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FusionRow:
    settings: dict[str, float]
    paraphrase_recall: float  # recall@10
    factual_recall: float  # recall@5
    answerable_mrr: float
    answerable_recall: float  # recall@10

    @property
    def objective(self) -> float:
        """What the fusion is chosen by: meaning (paraphrases), facts and ranking, equally."""
        return (self.paraphrase_recall + self.factual_recall + self.answerable_mrr) / 3


def ranked_passages(
    retriever: Retriever, observed: Observed, settings: RetrievalSettings
) -> list[metrics.Passage]:
    rows = retriever.allowed_rows(observed.query.filters)
    order, _, _ = best_passages(observed.scores, rows, settings, "hybrid", DEPTH)
    chunks = retriever.index.chunks
    return [
        metrics.Passage(chunks[r].document_id, chunks[r].start, chunks[r].end, chunks[r].text)
        for r in order.tolist()
    ]


def fusion_row(
    retriever: Retriever, observed: Sequence[Observed], settings: RetrievalSettings
) -> FusionRow:
    recall: dict[str, list[float]] = {"paraphrase": [], "factual": [], "answerable": []}
    ranks: list[float] = []
    for item in observed:
        if not item.golds:
            continue
        hits = metrics.gold_hit_sets(ranked_passages(retriever, item, settings), item.golds)
        recall["answerable"].append(metrics.recall_at_k(hits, len(item.golds), DEPTH))
        if item.question.kind == "paraphrase":
            recall["paraphrase"].append(metrics.recall_at_k(hits, len(item.golds), DEPTH))
        if item.question.kind == "factual":
            recall["factual"].append(metrics.recall_at_k(hits, len(item.golds), 5))
        ranks.append(metrics.reciprocal_rank(hits, DEPTH))
    chosen = {name: float(getattr(settings, name)) for name in FUSION_GRID}
    return FusionRow(
        chosen,
        float(np.mean(recall["paraphrase"] or [0.0])),
        float(np.mean(recall["factual"] or [0.0])),
        float(np.mean(ranks or [0.0])),
        float(np.mean(recall["answerable"] or [0.0])),
    )


def fusion_sweep(
    retriever: Retriever, observed: Sequence[Observed], base: RetrievalSettings
) -> list[FusionRow]:
    """Every fusion in the grid, best objective first."""
    rows = []
    for values in itertools.product(*FUSION_GRID.values()):
        update = dict(zip(FUSION_GRID, values, strict=True))
        if update["sentence_weight"] + update["dense_weight"] + update["bm25_weight"] == 0:
            continue
        rows.append(fusion_row(retriever, observed, base.model_copy(update=update)))
    return sorted(rows, key=lambda r: -r.objective)


# --- thresholds --------------------------------------------------------------------------


def refusal_thresholds(observed: Sequence[Observed]) -> tuple[float, float]:
    """(low_confidence, high_confidence) from the questions' support.

    Refusing a real question is worse than a cautious answer: `low_confidence` sits
    `REFUSAL_MARGIN` under the lowest answerable question, so an unseen question a little
    weaker still gets a cautious answer. `high_confidence` sits just above the closest
    negative: whatever scores like a negative is answered with a caution."""
    answerable = [o.evidence.support for o in observed if o.question.answerable]
    negatives = [o.evidence.support for o in observed if not o.question.answerable]
    low = refusal_bar(answerable)
    high = max([low, *(n + 0.002 for n in negatives)])
    return round(low, 4), round(high, 4)


def refusal_bar(answerable: Iterable[float]) -> float:
    """`low_confidence` for these answerable questions' supports: `REFUSAL_MARGIN` under the
    weakest."""
    return float(min(answerable)) - REFUSAL_MARGIN


@dataclass(frozen=True)
class SubmitterRow:
    submitter_threshold: float
    corpus_gap: float
    specific_gap: float
    precision: float
    coverage: float

    @property
    def f1(self) -> float:
        total = self.precision + self.coverage
        return 2 * self.precision * self.coverage / total if total else 0.0


def submitter_row(observed: Sequence[Observed], settings: AnswerSettings) -> SubmitterRow:
    precision, coverage = [], []
    for item in observed:
        if item.question.kind != "aggregate" or not item.gold_documents:
            continue
        decision = decide(item.query, item.evidence, settings)
        cited = frozenset(s.document.document_id for s in decision.quoted)
        precision.append(metrics.submitter_precision(cited, item.gold_documents) or 0.0)
        coverage.append(metrics.submitter_coverage(cited, item.gold_documents) or 0.0)
    return SubmitterRow(
        settings.submitter_threshold,
        settings.corpus_gap,
        settings.specific_gap,
        float(np.mean(precision or [0.0])),
        float(np.mean(coverage or [0.0])),
    )


def submitter_sweep(observed: Sequence[Observed], base: AnswerSettings) -> list[SubmitterRow]:
    """Submitter thresholds and gaps on the aggregate questions (whose gold lists every
    submitter that discusses the theme), best precision at coverage ≥ MIN_COVERAGE first.
    Both grids follow the observed scores (`submitter_grids`), whatever the encoders' scale."""
    thresholds, gaps = submitter_grids(observed)
    rows = [
        submitter_row(
            observed,
            base.model_copy(update={"submitter_threshold": float(t), "corpus_gap": g}),
        )
        for t in thresholds
        for g in gaps
    ]
    return sorted(rows, key=submitter_preference)


def submitter_grids(
    observed: Sequence[Observed], kinds: Sequence[str] = ("aggregate",)
) -> tuple[list[float], list[float]]:
    """Thresholds from under the lowest to over the highest document score of the questions
    of `kinds`, in `GRID_STEPS` steps; gaps at the quantiles of the documents' distances to
    their question's closest one, and no gap at all (1.0)."""
    best, gaps = [], []
    for item in observed:
        if item.question.kind not in kinds:
            continue
        scores = [d.best for d in item.evidence.documents if d.sentences]
        best += scores
        gaps += [max(scores) - b for b in scores if b < max(scores)]
    if not best:
        return [0.0], [1.0]
    low, high = min(best), max(best)
    margin = (high - low) / GRID_STEPS
    thresholds = np.linspace(low - margin, high + margin, GRID_STEPS + 3)
    quantiles = np.quantile(gaps, np.linspace(0.05, 0.95, 10)) if gaps else np.array([])
    return [round(float(t), 4) for t in thresholds], [
        *sorted({round(float(g), 4) for g in quantiles}),
        1.0,
    ]


def submitter_preference(row: SubmitterRow) -> tuple[bool, float]:
    """Best precision among the settings with coverage ≥ MIN_COVERAGE; if none has, best F1."""
    feasible = row.coverage >= MIN_COVERAGE
    return (not feasible, -(row.precision if feasible else row.f1))


def with_refusal(observed: Sequence[Observed], base: AnswerSettings) -> AnswerSettings:
    low, high = refusal_thresholds(observed)
    return base.model_copy(update={"low_confidence": low, "high_confidence": high})


def with_submitters(base: AnswerSettings, row: SubmitterRow) -> AnswerSettings:
    """`base` with the submitter threshold and corpus gap of a `submitter_sweep` row."""
    return base.model_copy(
        update={"submitter_threshold": row.submitter_threshold, "corpus_gap": row.corpus_gap}
    )


# --- context of a sentence in /ask ---------------------------------------------------------


@dataclass(frozen=True)
class ContextRow:
    context_mix: float
    answers: AnswerSettings  # submitter thresholds calibrated for this context_mix
    quote_hit: float  # share of answerable questions whose answer quotes a gold sentence
    negatives_refused: float
    submitters: SubmitterRow


def quote_hit_rate(observed: Sequence[Observed], settings: AnswerSettings, documents: int) -> float:
    hits = []
    for item in observed:
        if not item.question.answerable or not item.golds:
            continue
        _, citations = compose(item.query, decide(item.query, item.evidence, settings), documents)
        quoted = [metrics.Passage(c.document_id, c.start, c.end, c.quote) for c in citations]
        hits.append(metrics.quote_hit(quoted, item.golds))
    return float(np.mean(hits)) if hits else 0.0


def refused_share(observed: Sequence[Observed], settings: AnswerSettings) -> float:
    negatives = [o for o in observed if not o.question.answerable]
    refused = [decide(o.query, o.evidence, settings).confidence == "none" for o in negatives]
    return float(np.mean(refused)) if refused else 0.0


@dataclass(frozen=True)
class Scorer:
    """What the sweeps score with: a retriever (its encoder weights) and the /ask depth."""

    retriever: Retriever
    per_document: int

    @property
    def documents(self) -> int:
        return len(self.retriever.index.documents)

    def with_settings(self, settings: RetrievalSettings) -> Retriever:
        return self.retriever.renewed(settings)


def with_retrieval(
    scorer: Scorer, observed: Sequence[Observed], settings: RetrievalSettings
) -> list[Observed]:
    """The same parsed questions with their evidence again under other retrieval settings
    (the same encoder weights)."""
    retriever = scorer.with_settings(settings)
    return [
        dataclasses.replace(o, evidence=retriever.evidence(o.query, scorer.per_document))
        for o in observed
    ]


def context_row(
    scorer: Scorer,
    observed: Sequence[Observed],
    mix: float,
    base: RetrievalSettings,
    refusal: AnswerSettings,
) -> ContextRow:
    """Evidence again with `context_mix` = mix (same parsed questions), its own submitter
    thresholds (the refusal thresholds rest on support, which `context_mix` does not touch)."""
    again = with_retrieval(scorer, observed, base.model_copy(update={"context_mix": mix}))
    best = submitter_sweep(again, refusal)[0]
    answers = with_specific_gap(again, with_submitters(refusal, best), scorer.documents)
    return ContextRow(
        mix,
        answers,
        quote_hit_rate(again, answers, scorer.documents),
        refused_share(again, answers),
        best,
    )


def with_specific_gap(
    observed: Sequence[Observed], answers: AnswerSettings, documents: int
) -> AnswerSettings:
    """`answers` with the `specific_gap` of the best quote hit rate (ties: the narrower gap),
    from a grid at the quantiles of the documents' distances to their question's closest one
    (`submitter_grids`), so it follows the encoders' scale."""
    _, gaps = submitter_grids(observed, kinds=("factual", "paraphrase", "named_paraphrase"))
    candidates = [answers.model_copy(update={"specific_gap": g}) for g in [0.0, *gaps[:-1]]]
    rates = [quote_hit_rate(observed, a, documents) for a in candidates]
    return candidates[max(range(len(rates)), key=lambda i: (round(rates[i], 4), -i))]


def context_sweep(
    scorer: Scorer,
    observed: Sequence[Observed],
    base: RetrievalSettings,
    refusal: AnswerSettings,
) -> list[ContextRow]:
    """Every `CONTEXT_MIXES` value, best quote hit rate first (ties: less context)."""
    rows = [context_row(scorer, observed, mix, base, refusal) for mix in CONTEXT_MIXES]
    return sorted(rows, key=lambda r: (-r.quote_hit, r.context_mix))


# --- support: what the refusal rests on ------------------------------------------------------


@dataclass(frozen=True)
class SupportRow:
    typicality_weight: float
    support_sentences: int
    vocabulary_weight: float
    false_refusals: float  # cross-validated share of answerable questions refused
    negatives_refused: float  # cross-validated share of negatives refused
    ceiling: float  # the most negatives any threshold could refuse refusing none (in-sample)

    @property
    def objective(self) -> float:
        return objective(self.false_refusals, self.negatives_refused)


def objective(false_refusals: float, negatives_refused: float) -> float:
    """What the support settings are chosen by: a false refusal costs `FALSE_REFUSAL_COST`
    refused negatives (refusing a real question is worse than a cautious answer)."""
    return negatives_refused - FALSE_REFUSAL_COST * false_refusals


def halvings(
    answerable: NDArray[np.bool_], rounds: int = HALVINGS, seed: int = 0
) -> Iterator[NDArray[np.bool_]]:
    """`rounds` random halves of the questions, each with answerable questions on both sides."""
    rng = np.random.default_rng(seed)
    for _ in range(rounds):
        half = rng.random(len(answerable)) < 0.5
        if (half & answerable).any() and (~half & answerable).any():
            yield half


def refusals(
    support: NDArray[np.float64], answerable: NDArray[np.bool_], setter: NDArray[np.bool_]
) -> tuple[float, float]:
    """(false refusals, negatives refused; nan: no negatives) outside `setter`, the half whose
    answerable questions set the threshold (as `refusal_thresholds` sets it)."""
    low = refusal_bar(support[setter & answerable])
    judged = ~setter
    negatives = support[judged & ~answerable]
    refused = float(np.mean(negatives < low)) if len(negatives) else float("nan")
    return float(np.mean(support[judged & answerable] < low)), refused


def refusal_ceiling(support: NDArray[np.float64], answerable: NDArray[np.bool_]) -> float:
    """The most negatives any threshold on `support` can refuse without refusing a real
    question: the share under the weakest answerable question of all (no margin). In-sample,
    so an upper bound and never an estimate: when it is under a target, no threshold on this
    support reaches the target on these questions."""
    return float(np.mean(support[~answerable] < support[answerable].min()))


def supports_of(observed: Sequence[Observed]) -> NDArray[np.float64]:
    return np.array([o.evidence.support for o in observed], dtype=np.float64)


def answerable_of(observed: Sequence[Observed]) -> NDArray[np.bool_]:
    return np.array([o.question.answerable for o in observed], dtype=np.bool_)


def cross_validated_refusals(
    support: NDArray[np.float64], answerable: NDArray[np.bool_], rounds: int = HALVINGS
) -> tuple[float, float]:
    """(false refusals, negatives refused), each the mean over `rounds` random halvings of
    the questions: the refusal threshold set on one half, the refusals counted on the other.
    A threshold is never judged on what set it."""
    judged = [refusals(support, answerable, h) for h in halvings(answerable, rounds)]
    return mean_of(judged)


def mean_of(judged: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """(false refusals, negatives refused) averaged over halvings (no negatives: not counted)."""
    false = [f for f, _ in judged]
    refused = [r for _, r in judged if not np.isnan(r)]
    return float(np.mean(false or [0.0])), float(np.mean(refused or [0.0]))


def chosen_then_judged(
    supports: Sequence[NDArray[np.float64]], answerable: NDArray[np.bool_], seed: int = 1
) -> tuple[float, float]:
    """The whole choice cross-validated (nested): per halving, the support setting (one array
    of question supports each, simplest first: ties go to it) is chosen on one half by the same
    cross-validated objective the sweep uses, within that half, and its threshold set on that
    half; both are judged on the other. Guards the sweep's best row against luck."""
    judged = []
    for half in halvings(answerable, seed=seed):
        inside = [
            round(objective(*cross_validated_refusals(s[half], answerable[half], INNER)), 4)
            for s in supports
        ]
        best = max(range(len(supports)), key=lambda i: (inside[i], -i))
        judged.append(refusals(supports[best], answerable, half))
    return mean_of(judged)


SupportSetting = tuple[float, int, float]  # typicality_weight, support_sentences, vocabulary_weight


def support_grid(
    scorer: Scorer, observed: Sequence[Observed], base: RetrievalSettings
) -> dict[SupportSetting, NDArray[np.float64]]:
    """The questions' supports under every `TYPICALITY_WEIGHTS` × `SUPPORT_SENTENCES` ×
    `VOCABULARY_WEIGHTS`, simplest setting first."""
    grid = itertools.product(TYPICALITY_WEIGHTS, SUPPORT_SENTENCES, VOCABULARY_WEIGHTS)
    supports = {}
    for weight, sentences, vocabulary in grid:
        update = {
            "typicality_weight": weight,
            "support_sentences": sentences,
            "vocabulary_weight": vocabulary,
        }
        again = with_retrieval(scorer, observed, base.model_copy(update=update))
        supports[(weight, sentences, vocabulary)] = supports_of(again)
    return supports


def support_sweep(
    supports: dict[SupportSetting, NDArray[np.float64]], answerable: NDArray[np.bool_]
) -> list[SupportRow]:
    """Every setting of `support_grid` cross-validated, best objective first."""
    rows = [
        SupportRow(
            *setting,
            *cross_validated_refusals(support, answerable),
            refusal_ceiling(support, answerable),
        )
        for setting, support in supports.items()
    ]
    return sorted(rows, key=support_preference)


def support_preference(row: SupportRow) -> tuple[float, float, int, float]:
    """Best objective first; ties: the simpler setting (less weight, fewer sentences)."""
    best_first = -round(row.objective, 4)
    return (best_first, row.typicality_weight, row.support_sentences, row.vocabulary_weight)


# --- report ------------------------------------------------------------------------------


def fusion_table(rows: Sequence[FusionRow], top: int = 15) -> str:
    names = list(FUSION_GRID)
    header = [*names, "paraphrase R@10", "factual R@5", "MRR@10", "objective"]
    return markdown_table(
        header,
        [
            [f"{row.settings[n]:g}" for n in names]
            + [row.paraphrase_recall, row.factual_recall, row.answerable_mrr, row.objective]
            for row in rows[:top]
        ],
    )


def support_table(rows: Sequence[SupportRow], top: int = 10) -> str:
    header = [
        "typicality_weight",
        "support_sentences",
        "vocabulary_weight",
        "false refusals (CV)",
        "negatives refused (CV)",
        "ceiling (in-sample)",
    ]
    return markdown_table(
        header,
        [
            [
                f"{r.typicality_weight:g}",
                str(r.support_sentences),
                f"{r.vocabulary_weight:g}",
                r.false_refusals,
                r.negatives_refused,
                r.ceiling,
            ]
            for r in rows[:top]
        ],
    )


def context_table(rows: Sequence[ContextRow]) -> str:
    header = [
        "context_mix",
        "submitter threshold / corpus gap",
        "quote hit",
        "negatives refused",
        "aggregate precision / coverage",
    ]
    return markdown_table(
        header,
        [
            [
                f"{r.context_mix:g}",
                f"{r.answers.submitter_threshold:g} / {r.answers.corpus_gap:g}",
                r.quote_hit,
                r.negatives_refused,
                f"{r.submitters.precision:.3f} / {r.submitters.coverage:.3f}",
            ]
            for r in rows
        ],
    )


@dataclass(frozen=True)
class Calibration:
    weights: tuple[float, ...]  # of the encoders in ranking, in the index's block order
    support_weights: tuple[float, ...]  # of the encoders in the support
    fusion: list[FusionRow]  # dev
    supports: list[SupportRow]  # dev, cross-validated
    nested: tuple[float, float]  # (false refusals, negatives refused) of the whole choice
    contexts: list[ContextRow]  # dev; their answers carry the refusal thresholds (every question)

    @property
    def retrieval(self) -> dict[str, float]:
        """The retrieval settings chosen (fusion, support, context_mix)."""
        support, context = self.supports[0], self.contexts[0]
        return self.fusion[0].settings | {
            "typicality_weight": support.typicality_weight,
            "support_sentences": support.support_sentences,
            "vocabulary_weight": support.vocabulary_weight,
            "context_mix": context.context_mix,
        }

    @property
    def answers(self) -> AnswerSettings:
        """The answer settings chosen (refusal thresholds and submitter thresholds)."""
        return self.contexts[0].answers


def calibrate(
    service: Service,
    questions: Sequence[Question],
    weights: Sequence[float] | None = None,
    support_weights: Sequence[float] | None = None,
) -> Calibration:
    """Every sweep on the dev split, with the encoders weighted `weights` in ranking and
    `support_weights` in the support (the service's when None); see the module's
    docstring."""
    base = (
        service.retriever
        if weights is None
        else Retriever(
            service.index, service.encoders, service.settings.retrieval, weights, support_weights
        )
    )
    scorer = Scorer(base, service.settings.answer.k)
    dev = observe(service, base, [q for q in questions if q.split == "dev"], scorer.per_document)
    retrieval = service.settings.retrieval
    fusion = fusion_sweep(base, dev, retrieval)
    grid = support_grid(scorer, dev, retrieval)
    answerable = answerable_of(dev)
    supports = support_sweep(grid, answerable)
    nested = chosen_then_judged(list(grid.values()), answerable)
    chosen = {
        "typicality_weight": supports[0].typicality_weight,
        "support_sentences": supports[0].support_sentences,
        "vocabulary_weight": supports[0].vocabulary_weight,
    }
    with_support = retrieval.model_copy(update=chosen | fusion[0].settings)
    refusal = with_refusal(with_retrieval(scorer, dev, with_support), service.settings.answer)
    contexts = context_sweep(scorer, dev, with_support, refusal)
    return Calibration(
        tuple(base.encoder_weights.tolist()),
        tuple(base.support_weights.tolist()),
        fusion,
        supports,
        nested,
        contexts,
    )


# --- encoder weights -------------------------------------------------------------------------


@dataclass(frozen=True)
class WeightRow:
    weights: tuple[float, ...]
    fusion: FusionRow  # ranking at the service's fusion settings
    refusals: tuple[float, float]  # (false, negatives) cross-validated at its support settings
    ceiling: float  # refusal ceiling of that support (in-sample)

    @property
    def support_objective(self) -> float:
        return objective(*self.refusals)


def weight_grid(present: Sequence[bool], spreads: Sequence[float]) -> list[tuple[float, ...]]:
    """Weights of the encoders present (the others 0). For two, the second's share of the
    fused similarity in steps of `WEIGHT_STEP`, where a share is of each encoder's cosine
    divided by its spread (`encoder_spreads`): cosines of one model vary several times more
    than another's, and an equal share means an equal say. One alone gets everything."""
    on = [i for i, p in enumerate(present) if p]
    if len(on) == 1:
        return [tuple(1.0 if i == on[0] else 0.0 for i in range(len(present)))]
    if len(on) != 2:
        raise ValueError("weights are calibrated for one or two encoders")
    grid = []
    for share in np.arange(0.0, 1.0 + 1e-9, WEIGHT_STEP):
        row = [0.0] * len(present)
        row[on[0]], row[on[1]] = (1 - share) / spreads[on[0]], share / spreads[on[1]]
        grid.append(tuple(round(w / sum(row), 4) for w in row))
    return grid


def encoder_spreads(index: StoredIndex, queries: Sequence[Query]) -> list[float]:
    """Per encoder, the standard deviation of its cosines between the questions and every
    sentence."""
    blocks = np.cumsum([0, *(e.dimension for e in index.manifest.encoders)])
    topics = np.stack([q.topic_vector for q in queries])
    spreads = []
    for start, end in itertools.pairwise(blocks.tolist()):
        cosines = index.sentences.vectors[:, start:end] @ topics[:, start:end].T
        spreads.append(float(np.std(cosines)) or 1.0)
    return spreads


def weight_sweep(
    service: Service, questions: Sequence[Question], present: Sequence[bool]
) -> list[WeightRow]:
    """Every weighting of `weight_grid` on the dev split, in grid order. Ranking and support
    each take the best row by their own objective (`ranking_weights`, `support_weights`)."""
    dev_questions = [q for q in questions if q.split == "dev"]
    queries = [service.parse(q.question) for q in dev_questions]
    rows = []
    for weights in weight_grid(present, encoder_spreads(service.index, queries)):
        retriever = Retriever(service.index, service.encoders, service.settings.retrieval, weights)
        dev = observe(service, retriever, dev_questions, service.settings.answer.k)
        support, answerable = supports_of(dev), answerable_of(dev)
        rows.append(
            WeightRow(
                weights,
                fusion_row(retriever, dev, service.settings.retrieval),
                cross_validated_refusals(support, answerable),
                refusal_ceiling(support, answerable),
            )
        )
    return rows


def ranking_weights(rows: Sequence[WeightRow]) -> tuple[float, ...]:
    """The weights whose ranking scores best on dev (ties: the first in grid order)."""
    return max(rows, key=lambda r: round(r.fusion.objective, 4)).weights


def support_weights(rows: Sequence[WeightRow]) -> tuple[float, ...]:
    """The weights whose support refuses best on dev, cross-validated (ties: first)."""
    return max(rows, key=lambda r: round(r.support_objective, 4)).weights


def weight_table(rows: Sequence[WeightRow]) -> str:
    header = [
        "weights",
        "paraphrase R@10",
        "factual R@5",
        "MRR@10",
        "ranking objective",
        "false refusals (CV)",
        "negatives refused (CV)",
        "ceiling",
    ]
    return markdown_table(
        header,
        [
            [
                " / ".join(f"{w:g}" for w in r.weights),
                r.fusion.paraphrase_recall,
                r.fusion.factual_recall,
                r.fusion.answerable_mrr,
                r.fusion.objective,
                *r.refusals,
                r.ceiling,
            ]
            for r in rows
        ],
    )


def calibration_report(found: Calibration, questions: Sequence[Question]) -> str:
    """Sweeps and thresholds (see the module's docstring), as Markdown."""
    dev = sum(q.split == "dev" for q in questions)
    best, support, answers = found.contexts[0], found.supports[0], found.answers
    chosen = ", ".join(f"{k}={v:g}" for k, v in found.fusion[0].settings.items())
    return "\n\n".join(
        [
            f"Calibration on the dev split ({dev} questions; the support and refusal "
            "cross-validated inside it), encoder weights "
            + " / ".join(f"{w:g}" for w in found.weights)
            + " in ranking, "
            + " / ".join(f"{w:g}" for w in found.support_weights)
            + " in the support",
            "Fusion sweep (dev, best 15 of the grid):\n\n" + fusion_table(found.fusion),
            f"Chosen fusion: {chosen}",
            f"Support sweep (dev, best 10; each figure measured on the half that did "
            f"not set the threshold, over {HALVINGS} halvings; a false refusal counted "
            f"{FALSE_REFUSAL_COST:g} times):\n\n" + support_table(found.supports),
            f"Chosen support: typicality_weight={support.typicality_weight:g}, "
            f"support_sentences={support.support_sentences}, "
            f"vocabulary_weight={support.vocabulary_weight:g} (cross-validated: false refusals "
            f"{support.false_refusals:.3f}, negatives refused {support.negatives_refused:.3f}); "
            f"low_confidence={answers.low_confidence:g}, "
            f"high_confidence={answers.high_confidence:g}. The whole choice (setting and "
            f"threshold chosen on one half, judged on the other): false refusals "
            f"{found.nested[0]:.3f}, negatives refused {found.nested[1]:.3f}. Ceiling: no "
            f"threshold on any of the {len(found.supports)} settings refuses more than "
            f"{max(r.ceiling for r in found.supports):.3f} of the negatives without refusing a "
            "real question (in-sample, an upper bound)",
            "Sentence context in /ask (dev), each with its own submitter thresholds:\n\n"
            + context_table(found.contexts),
            f"Chosen: context_mix={best.context_mix:g}, "
            f"submitter_threshold={answers.submitter_threshold:g}, "
            f"corpus_gap={answers.corpus_gap:g}, specific_gap={answers.specific_gap:g} "
            f"(quote hit {best.quote_hit:.3f}, aggregate "
            f"submitter precision {best.submitters.precision:.3f}, coverage "
            f"{best.submitters.coverage:.3f} on dev)",
        ]
    )
