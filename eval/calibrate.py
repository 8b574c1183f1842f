"""Choose the relevance policy (`rag.policy`) on the dev split; never judge a setting on what
chose it.

Each dev question is parsed and embedded once (`observe`): every sentence's and chunk's cosine to
it per encoder, and every document's quotable sentences with their features (`rag.retrieve`,
`Retriever.evidence` with no narrowing). Ranking and the decision are pure functions of these
(`rag.scoring`, `rag.decide`), so every candidate policy is scored without the model. In order:

1. ranking: the encoders' weights (each encoder's share of the fused cosine, in steps, over
   cosines scaled by each encoder's spread), then the fusion of /search (`FUSION_GRID`), by the
   mean of paraphrase recall@10, factual recall@5 and MRR@10;
2. support: the encoders' weights in the support, `typicality_weight`, `support_sentences` and
   `vocabulary_weight`, for the most negatives refused with a false refusal counted
   `FALSE_REFUSAL_COST` times, cross-validated inside dev (threshold set on one half of the
   questions, counted on the other, `HALVINGS` times); the whole choice is also cross-validated
   nested (`chosen_then_judged`), and each setting's in-sample ceiling is shown;
3. thresholds: `low_confidence` a margin under the weakest answerable dev question (the margin,
   in standard deviations of the answerable supports, chosen by the same cross-validation),
   `high_confidence` just above the closest negative;
4. submitters: `context_mix` with `submitter_threshold` / `corpus_gap` for the best submitter
   precision at coverage ≥ `MIN_COVERAGE` on the aggregate questions, then `specific_gap` for the
   best quote hit rate;
5. cells: `sure_submitter`, the lowest own support from which the quoted submitters of the
   aggregate questions discuss it with precision ≥ `SURE_PRECISION` (the matrix's «omtaler»;
   under it «usikkert»).

A chosen value on the edge of its grid widens the grid (`widened`) until it is inside or the
grid reaches its bound. The test split is never read here.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from eval import metrics
from eval.gold import LocatedGold, StoredText, locate_all
from eval.questions import Question
from rag.decide import (
    Decision,
    Scored,
    chosen_documents,
    confidence_of,
    corpus_support,
    decide,
    narrow,
    score_documents,
)
from rag.policy import Fusion, Policy, Support, Thresholds
from rag.query import Query
from rag.retrieve import ChunkScores, best_passages
from rag.scoring import best_distinct, distinctiveness
from rag.sentence_layer import SentenceLayer
from rag.service import Service
from rag.types import Evidence

MIN_COVERAGE = 0.95
SURE_PRECISION = 0.95  # of the quoted submitters at or over the sure bar, the share that are gold
DEPTH = 10
WEIGHT_STEPS = 10  # the second encoder's share in tenths
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
MARGINS = (0.0, 0.1, 0.25, 0.5, 1.0)  # in standard deviations of the answerable supports
GAP_QUANTILES = np.linspace(0.05, 0.95, 10)
THRESHOLD_STEPS = 40
FALSE_REFUSAL_COST = 10.0
HALVINGS = 200
INNER = 20  # halvings within a half when the whole choice is cross-validated
GRID_BOUNDS = {"context_mix": 8.0, "typicality_weight": 4.0, "support_sentences": 20.0}
GRID_BOUNDS |= {"vocabulary_weight": 2.0, "margin": 4.0}
Values = NDArray[np.float64]
Mask = NDArray[np.bool_]


@dataclass(frozen=True)
class Observed:
    """One dev question with everything a policy is judged on."""

    question: Question
    query: Query
    golds: tuple[LocatedGold, ...]
    gold_documents: frozenset[str]
    sentence_cosines: NDArray[np.float32]  # each sentence's cosine to the question, per encoder
    chunk_cosines: NDArray[np.float32]  # each chunk's, per encoder
    bm25: NDArray[np.float32]
    evidence: Evidence  # every document's quotable sentences, not narrowed


def observe(service: Service, questions: Sequence[Question]) -> list[Observed]:
    """Each question parsed and embedded once, with its features."""
    retriever = service.retriever
    by_source = {
        d.source: StoredText(d.document_id, d.text) for d in service.index.documents.values()
    }
    found = []
    for question in questions:
        query = service.parse(question.question)
        golds = locate_all(question.relevant, by_source)
        sentences, chunks = retriever.cosines(query.vector)
        found.append(
            Observed(
                question,
                query,
                golds,
                frozenset(g.document_id for g in golds if g.document_id),
                sentences,
                chunks,
                service.index.bm25.scores(query.stems),
                retriever.evidence(query, None),
            )
        )
    return found


@dataclass(frozen=True)
class Corpus:
    """What scoring the observations needs of the index."""

    service: Service

    @property
    def encoders(self) -> tuple[str, ...]:
        return self.service.retriever.encoders


# --- grids ---------------------------------------------------------------------------------


def widen(name: str, grid: Sequence[float]) -> tuple[float, ...] | None:
    """`grid` extended past its top (by one step and to double the top, the bound
    `GRID_BOUNDS[name]` at most), or None when it already reaches the bound. The bottom of
    every grid is its value's natural bound (0 or 1)."""
    top = grid[-1]
    bound = GRID_BOUNDS.get(name, top)
    step = top - grid[-2] if len(grid) > 1 else top
    more = [min(v, bound) for v in (top + step, top * 2) if top < min(v, bound)]
    return tuple(sorted({*grid, *more})) if more else None


def widened(
    name: str, grid: Sequence[float], chosen: Callable[[Sequence[float]], float]
) -> tuple[float, tuple[float, ...]]:
    """The value `chosen` picks from `grid`, the grid widened (`widen`) while the pick sits
    on its top edge. Returns the pick and the grid it was picked from."""
    values: tuple[float, ...] | None = tuple(grid)
    while True:
        assert values is not None
        pick = chosen(values)
        wider = widen(name, values) if pick >= values[-1] else None
        if wider is None:
            return pick, values
        values = wider


def encoder_spreads(observed: Sequence[Observed]) -> NDArray[np.float32]:
    """Per encoder, the standard deviation of its cosines between the questions and every
    sentence: an equal share of the fused cosine is an equal say whatever the model's scale."""
    stacked = np.concatenate([o.sentence_cosines for o in observed])
    spreads = stacked.std(axis=0)
    result: NDArray[np.float32] = np.where(spreads > 0, spreads, 1.0).astype(np.float32)
    return result


def weight_grid(present: Sequence[bool], spreads: NDArray[np.float32]) -> list[tuple[float, ...]]:
    """Weights of the encoders present (the others 0), summing to 1: for two, the second's
    share of the spread-scaled cosine in steps of a tenth; one alone gets everything."""
    on = [i for i, p in enumerate(present) if p]
    if len(on) == 1:
        return [tuple(1.0 if i == on[0] else 0.0 for i in range(len(present)))]
    if len(on) != 2:
        raise ValueError("weights are calibrated for one or two encoders")
    grid = []
    for step in range(WEIGHT_STEPS + 1):
        share = step / WEIGHT_STEPS
        row = [0.0] * len(present)
        row[on[0]], row[on[1]] = (1 - share) / spreads[on[0]], share / spreads[on[1]]
        grid.append(tuple(round(w / sum(row), 4) for w in row))
    return grid


def as_weights(encoders: Sequence[str], weights: Sequence[float]) -> dict[str, float]:
    return {e: float(w) for e, w in zip(encoders, weights, strict=True) if w > 0}


# --- 1. ranking ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RankingRow:
    weights: tuple[float, ...]
    fusion: Fusion
    paraphrase_recall: float  # recall@10
    factual_recall: float  # recall@5
    mrr: float  # MRR@10 of every answerable question

    @property
    def objective(self) -> float:
        return round((self.paraphrase_recall + self.factual_recall + self.mrr) / 3, 4)


def ranked_passages(
    corpus: Corpus, item: Observed, weights: NDArray[np.float32], fusion: Fusion
) -> list[metrics.Passage]:
    """The top `DEPTH` chunks /search returns for the question under these weights."""
    retriever = corpus.service.retriever
    scores = chunk_scores(retriever.index.sentences, item, weights, len(retriever.index.chunks))
    rows = retriever.allowed_rows(item.query.filters)
    order, _, _ = best_passages(
        scores, rows, fusion, corpus.service.settings.retrieval.rrf_k, "hybrid", DEPTH
    )
    chunks = retriever.index.chunks
    return [
        metrics.Passage(chunks[r].document_id, chunks[r].start, chunks[r].end, chunks[r].text)
        for r in order.tolist()
    ]


def chunk_scores(
    layer: SentenceLayer, item: Observed, weights: NDArray[np.float32], n_chunks: int
) -> ChunkScores:
    """The question's chunk scores under these weights (as `Retriever.chunk_scores`)."""
    best, which = layer.best_per_chunk(item.sentence_cosines @ weights, n_chunks)
    return ChunkScores(item.chunk_cosines @ weights, best, which, item.bm25)


def ranking_row(
    corpus: Corpus, observed: Sequence[Observed], weights: tuple[float, ...], fusion: Fusion
) -> RankingRow:
    vector = np.array(weights, dtype=np.float32)
    paraphrase, factual, ranks = [], [], []
    for item in observed:
        if not item.question.answerable or not item.golds:
            continue
        passages = ranked_passages(corpus, item, vector, fusion)
        hits = metrics.gold_hit_sets(passages, item.golds)
        if item.question.kind == "paraphrase":
            paraphrase.append(metrics.recall_at_k(hits, len(item.golds), DEPTH))
        if item.question.kind == "factual":
            factual.append(metrics.recall_at_k(hits, len(item.golds), 5))
        ranks.append(metrics.reciprocal_rank(hits, DEPTH))
    return RankingRow(weights, fusion, mean(paraphrase), mean(factual), mean(ranks))


def mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else 0.0


def fusions() -> Iterator[Fusion]:
    for values in itertools.product(*FUSION_GRID.values()):
        fusion = Fusion(**dict(zip(FUSION_GRID, values, strict=True)))
        if fusion.sentence_weight + fusion.dense_weight + fusion.bm25_weight > 0:
            yield fusion


def best_ranking(rows: Sequence[RankingRow]) -> RankingRow:
    """Best objective; ties: the first in grid order."""
    return max(rows, key=lambda r: r.objective)


def ranking_sweeps(
    corpus: Corpus, observed: Sequence[Observed], present: Sequence[bool]
) -> tuple[list[RankingRow], list[RankingRow]]:
    """The weights at the default fusion, then every fusion at the best weights."""
    weights = [
        ranking_row(corpus, observed, w, Fusion())
        for w in weight_grid(present, encoder_spreads(observed))
    ]
    chosen = best_ranking(weights).weights
    fusion = [ranking_row(corpus, observed, chosen, f) for f in fusions()]
    return weights, sorted(fusion, key=lambda r: -r.objective)


# --- 2. support and refusal ----------------------------------------------------------------


@dataclass(frozen=True)
class Pooled:
    """One question's quotable sentences pooled over the documents, for the support."""

    own: NDArray[np.float32]
    typical: NDArray[np.float32]
    wording: NDArray[np.int64]
    coverage: float
    answerable: bool


def pooled(item: Observed) -> Pooled:
    parts = [d.candidates for d in item.evidence.documents]
    return Pooled(
        np.concatenate([c.own for c in parts]),
        np.concatenate([c.typical for c in parts]),
        np.concatenate([c.wording for c in parts]),
        item.evidence.coverage,
        item.question.answerable,
    )


def supports(pools: Sequence[Pooled], weights: NDArray[np.float32], support: Support) -> Values:
    """Each question's support (`rag.scoring.support`) under the support weights."""
    values = []
    for pool in pools:
        distinct = distinctiveness(pool.own, pool.typical, weights, support.typicality_weight)
        best = best_distinct(distinct, pool.wording, support.support_sentences)
        unfamiliar = support.vocabulary_weight * (1.0 - pool.coverage)
        values.append(float(distinct[best].mean()) - unfamiliar if len(best) else -1.0)
    return np.array(values, dtype=np.float64)


def objective(false_refusals: Any, negatives_refused: Any) -> Any:
    """A false refusal costs `FALSE_REFUSAL_COST` refused negatives (refusing a real question is
    worse than a cautious answer); of numbers or of arrays of them."""
    return negatives_refused - FALSE_REFUSAL_COST * false_refusals


def halvings(answerable: Mask, rounds: int, seed: int = 0) -> Mask:
    """`rounds` random halves of the questions (one row each), each with answerable questions
    on both sides."""
    rng = np.random.default_rng(seed)
    halves = rng.random((rounds, len(answerable))) < 0.5
    both = (halves & answerable).any(axis=1) & (~halves & answerable).any(axis=1)
    chosen: Mask = halves[both]
    return chosen


def refusal_bars(answerable_supports: Values, margin: float) -> Values:
    """Along the last axis, answerable questions' supports (nan: not among them): the
    `low_confidence` they set, `margin` standard deviations under the weakest of them."""
    spread = np.nan_to_num(np.nanstd(answerable_supports, axis=-1))
    bars: Values = np.nanmin(answerable_supports, axis=-1) - margin * spread
    return bars


def refusal_bar(answerable_supports: Values, margin: float) -> float:
    return float(refusal_bars(answerable_supports, margin))


def refusals(
    supports: Values, answerable: Mask, setters: Mask, margin: float
) -> tuple[Values, Values]:
    """For each setting (a row of `supports`, one column per question) and halving (a row of
    `setters`: the half whose answerable questions set the threshold, as `refusal_bar` sets
    it), the share of the other half's answerable questions refused and of its negatives
    refused (nan: none in it). Arrays of settings × halvings."""
    table = np.atleast_2d(supports)[:, None, :]  # settings × 1 × questions
    setting = (setters & answerable)[None, :, :]
    low = refusal_bars(np.where(setting, table, np.nan), margin)  # settings × halvings
    refused = table < low[:, :, None]
    judged = ~setters[None, :, :]
    return share(refused, judged & answerable), share(refused, judged & ~answerable)


def share(hits: Mask, within: Mask) -> Values:
    """Along the last axis, the share of `within` that `hits` (nan where `within` is empty)."""
    counts = within.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        result: Values = (hits & within).sum(axis=-1) / np.where(counts, counts, np.nan)
    return result


def cross_validated_all(
    supports: Values, answerable: Mask, margin: float, rounds: int = HALVINGS, seed: int = 0
) -> tuple[Values, Values]:
    """Per setting (a row of `supports`): (false refusals, negatives refused), each the mean
    over random halvings: the threshold set on one half, the refusals counted on the other."""
    false, refused = refusals(supports, answerable, halvings(answerable, rounds, seed), margin)
    return nanmeans(false), nanmeans(refused)


def cross_validated(
    support: Values, answerable: Mask, margin: float, rounds: int = HALVINGS, seed: int = 0
) -> tuple[float, float]:
    """`cross_validated_all` of one setting."""
    false, refused = cross_validated_all(support[None, :], answerable, margin, rounds, seed)
    return float(false[0]), float(refused[0])


def nanmeans(values: Values) -> Values:
    """Row means ignoring nan (0 for a row of nan only)."""
    counts = np.isfinite(values).sum(axis=-1)
    totals = np.nansum(values, axis=-1)
    means: Values = np.where(counts > 0, totals / np.maximum(counts, 1), 0.0)
    return means


def refusal_ceiling(support: Values, answerable: Mask) -> float:
    """The most negatives any threshold can refuse without refusing a real question (in-sample:
    an upper bound, never an estimate)."""
    return float(np.mean(support[~answerable] < support[answerable].min()))


@dataclass(frozen=True)
class SupportRow:
    weights: tuple[float, ...]
    support: Support
    false_refusals: float  # cross-validated
    negatives_refused: float  # cross-validated
    ceiling: float

    @property
    def objective(self) -> float:
        return round(float(objective(self.false_refusals, self.negatives_refused)), 4)


def support_settings(
    typicality: Sequence[float], sentences: Sequence[float], vocabulary: Sequence[float]
) -> list[Support]:
    return [
        Support(typicality_weight=t, support_sentences=int(n), vocabulary_weight=v)
        for t, n, v in itertools.product(typicality, sentences, vocabulary)
    ]


def support_sweep(
    pools: Sequence[Pooled],
    weights: Sequence[tuple[float, ...]],
    settings: Sequence[Support],
    margin: float,
) -> tuple[list[SupportRow], Values]:
    """Every support weighting × setting, best cross-validated objective first (ties: simpler
    settings, as listed), and the questions' supports under each (rows in the same order)."""
    answerable = np.array([p.answerable for p in pools])
    grid = list(itertools.product(weights, settings))
    table = np.stack([supports(pools, np.array(w, dtype=np.float32), s) for w, s in grid])
    false, refused = cross_validated_all(table, answerable, margin)
    rows = [
        SupportRow(w, s, float(f), float(r), refusal_ceiling(values, answerable))
        for (w, s), f, r, values in zip(grid, false, refused, table, strict=True)
    ]
    order = sorted(range(len(rows)), key=lambda i: -rows[i].objective)
    return [rows[i] for i in order], table[order]


def chosen_then_judged(
    candidates: Values, answerable: Mask, margin: float, seed: int = 1
) -> tuple[float, float]:
    """The whole choice cross-validated (nested): per halving, the setting (a row of the
    questions' supports each, ties to the first) chosen on one half by the cross-validated
    objective within it, its threshold set on that half, both judged on the other."""
    false, refused = [], []
    for half in halvings(answerable, HALVINGS, seed):
        inside = cross_validated_all(candidates[:, half], answerable[half], margin, INNER)
        scores = np.round(objective(*inside), 4)
        best = int(np.argmax(scores))  # the first of the best
        f, r = refusals(candidates[best], answerable, half[None, :], margin)
        false.append(float(f[0, 0]))
        refused.append(float(r[0, 0]))
    return float(nanmeans(np.array(false))), float(nanmeans(np.array(refused)))


@dataclass(frozen=True)
class Refusal:
    rows: list[SupportRow]  # best first
    margin: float
    margins: tuple[tuple[float, float, float], ...]  # (margin, false refusals, refused) CV
    nested: tuple[float, float]  # the whole choice, cross-validated
    thresholds: tuple[float, float]  # (low_confidence, high_confidence)

    @property
    def best(self) -> SupportRow:
        return self.rows[0]


def calibrate_refusal(pools: Sequence[Pooled], weights: Sequence[tuple[float, ...]]) -> Refusal:
    """Support weights and setting (a grid widened while the best row sits on its top edge),
    then the margin of `low_confidence`, both cross-validated inside dev."""
    grids = {
        "typicality_weight": TYPICALITY_WEIGHTS,
        "support_sentences": tuple(float(n) for n in SUPPORT_SENTENCES),
        "vocabulary_weight": VOCABULARY_WEIGHTS,
    }
    while True:
        rows, table = support_sweep(pools, weights, support_settings(*grids.values()), MARGINS[1])
        chosen = rows[0].support
        wider = {
            name: widen(name, grid)
            for name, grid in grids.items()
            if float(getattr(chosen, name)) >= grid[-1]
        }
        if not any(wider.values()):
            break
        grids |= {name: grid for name, grid in wider.items() if grid is not None}
    answerable = np.array([p.answerable for p in pools])
    values = table[0]
    margins = tuple((m, *cross_validated(values, answerable, m)) for m in MARGINS)
    margin = max(margins, key=lambda r: (round(objective(r[1], r[2]), 4), r[0]))[0]
    nested = chosen_then_judged(table, answerable, margin)
    low = refusal_bar(values[answerable], margin)
    negatives = values[~answerable]
    high = max(low, float(negatives.max()) + 1e-3) if len(negatives) else low
    return Refusal(rows, margin, margins, nested, (round(low, 4), round(high, 4)))


# --- 3. submitters and context -----------------------------------------------------------


@dataclass(frozen=True)
class SubmitterRow:
    context_mix: float
    submitter_threshold: float
    corpus_gap: float
    specific_gap: float
    precision: float  # aggregate questions
    coverage: float
    quote_hit: float  # answerable questions

    @property
    def preference(self) -> tuple[bool, float, float]:
        """Best precision among the rows with coverage ≥ MIN_COVERAGE, then quote hits."""
        return (self.coverage >= MIN_COVERAGE, self.precision, self.quote_hit)


def with_thresholds(policy: Policy, **values: float) -> Policy:
    return policy.model_copy(update={"thresholds": policy.thresholds.model_copy(update=values)})


def decisions(
    corpus: Corpus, observed: Sequence[Observed], policy: Policy
) -> list[tuple[Observed, Decision]]:
    """Each question decided under `policy` exactly as the service decides it."""
    service = corpus.service
    depth = service.settings.answer.k
    return [
        (
            o,
            decide(o.query, narrow(o.evidence, policy, depth), policy, service.settings.answer),
        )
        for o in observed
    ]


def is_aggregate(item: Observed) -> bool:
    return item.question.kind == "aggregate" and bool(item.gold_documents)


def quote_hit_rate(corpus: Corpus, observed: Sequence[Observed], policy: Policy) -> float:
    hits = []
    answerable = [o for o in observed if o.question.answerable and o.golds]
    for item, decision in decisions(corpus, answerable, policy):
        citations = [q for s in decision.quoted for q in s.quotes]
        quoted = [metrics.Passage(c.document_id, c.start, c.end, c.quote) for c in citations]
        hits.append(metrics.quote_hit(quoted, item.golds))
    return mean(hits)


@dataclass(frozen=True)
class Ranked:
    """One aggregate question's documents scored under a policy, closest first, and whether
    the policy answers it at all (its support reaches `low_confidence`)."""

    item: Observed
    documents: list[Scored]
    answered: bool


def ranked(corpus: Corpus, observed: Sequence[Observed], policy: Policy) -> list[Ranked]:
    """The aggregate questions scored once; thresholds are then tried on the scores alone."""
    settings = corpus.service.settings.answer
    found = []
    for item in observed:
        evidence = narrow(item.evidence, policy, settings.k)
        scored = score_documents(evidence, policy, settings)
        scored.sort(key=lambda d: -d.best)
        support = corpus_support(scored, policy, evidence.coverage)
        found.append(Ranked(item, scored, confidence_of(support, policy) != "none"))
    return found


def submitter_figures(questions: Sequence[Ranked], policy: Policy) -> tuple[float, float]:
    """(precision, coverage) of the submitters `rag.decide` quotes on the aggregate questions."""
    precision, coverage = [], []
    for question in questions:
        chosen = (
            chosen_documents(question.item.query, question.documents, policy)
            if question.answered
            else frozenset()
        )
        gold = question.item.gold_documents
        precision.append(metrics.submitter_precision(chosen, gold) or 0.0)
        coverage.append(metrics.submitter_coverage(chosen, gold) or 0.0)
    return mean(precision), mean(coverage)


def threshold_grids(questions: Sequence[Sequence[Scored]]) -> tuple[list[float], list[float]]:
    """Thresholds from under the lowest to over the highest document score, in
    `THRESHOLD_STEPS`; gaps at quantiles of the documents' distances to their question's
    closest, and no gap (1.0)."""
    scores = [np.array([d.best for d in q if len(d.order)]) for q in questions]
    scores = [s for s in scores if len(s)]
    best = np.concatenate(scores) if scores else np.array([0.0])
    gaps = np.concatenate([s.max() - s[s < s.max()] for s in scores]) if scores else best[:0]
    low, high = float(best.min()), float(best.max())
    margin = (high - low) / THRESHOLD_STEPS
    thresholds = np.linspace(low - margin, high + margin, THRESHOLD_STEPS + 3)
    quantiles = np.quantile(gaps, GAP_QUANTILES) if len(gaps) else np.array([])
    return [round(float(t), 4) for t in thresholds], [
        *sorted({round(float(g), 4) for g in quantiles}),
        1.0,
    ]


def submitter_sweep(
    corpus: Corpus, observed: Sequence[Observed], policy: Policy, mixes: Sequence[float]
) -> list[SubmitterRow]:
    """Per `context_mix`: the threshold and corpus gap by the aggregate questions' submitter
    precision at coverage, then the specific gap by the quote hit rate; best row first."""
    aggregate = [o for o in observed if is_aggregate(o)]
    specific = [o for o in observed if o.question.answerable and not is_aggregate(o)]
    rows = []
    for mix in mixes:
        mixed = policy.model_copy(update={"context_mix": mix})
        questions = ranked(corpus, aggregate, mixed)
        thresholds, gaps = threshold_grids([q.documents for q in questions])
        trials = []
        for threshold, gap in itertools.product(thresholds, gaps):
            trial = with_thresholds(mixed, submitter_threshold=threshold, corpus_gap=gap)
            trials.append((trial, *submitter_figures(questions, trial)))
        chosen, precision, coverage = max(
            trials, key=lambda t: (t[2] >= MIN_COVERAGE, round(t[1], 4), round(t[2], 4))
        )
        _, specific_gaps = threshold_grids([q.documents for q in ranked(corpus, specific, chosen)])
        hits = [
            (g, quote_hit_rate(corpus, observed, with_thresholds(chosen, specific_gap=g)))
            for g in [0.0, *specific_gaps[:-1]]
        ]
        gap, hit = max(hits, key=lambda h: (round(h[1], 4), -h[0]))
        t = chosen.thresholds
        rows.append(
            SubmitterRow(mix, t.submitter_threshold, t.corpus_gap, gap, precision, coverage, hit)
        )
    return sorted(rows, key=lambda r: r.preference, reverse=True)


# --- 5. sure cells --------------------------------------------------------------------------


@dataclass(frozen=True)
class SureBar:
    """The bar from which a quoted submitter is sure, and what it gave on dev."""

    bar: float | None  # None: no bar reaches SURE_PRECISION (high_confidence stays the bar)
    sure: int  # quoted submitters at or over it
    quoted: int  # quoted submitters of the aggregate questions
    precision: float | None  # the share of the sure ones that are gold


def quoted_supports(
    corpus: Corpus, observed: Sequence[Observed], policy: Policy
) -> list[tuple[float, bool]]:
    """Each quoted submitter of the aggregate questions: its own support, and whether it is
    among the question's gold submitters."""
    depth = corpus.service.settings.answer.k
    found = []
    for item, decision in decisions(corpus, [o for o in observed if is_aggregate(o)], policy):
        support = {
            s.document.document_id: s.support
            for s in score_documents(
                narrow(item.evidence, policy, depth), policy, corpus.service.settings.answer
            )
        }
        for quoted in decision.quoted:
            document = quoted.document.document_id
            found.append((support[document], document in item.gold_documents))
    return found


def sure_bar(pairs: Sequence[tuple[float, bool]], precision: float = SURE_PRECISION) -> SureBar:
    """The lowest support from which the pairs at or over it are gold with at least
    `precision` (equal supports stand or fall together)."""
    values = np.array([v for v, _ in pairs], dtype=np.float64)
    gold = np.array([g for _, g in pairs], dtype=bool)
    bar, sure, reached = None, 0, None
    for value in np.unique(values)[::-1]:  # the highest first
        over = values >= value
        share = float(gold[over].mean())
        if share >= precision:
            bar, sure, reached = float(value), int(over.sum()), share
    return SureBar(None if bar is None else round(bar, 4), sure, len(pairs), reached)


# --- the whole calibration -----------------------------------------------------------------


@dataclass(frozen=True)
class Calibration:
    """Everything chosen for one set of encoders, and the sweeps that chose it."""

    present: tuple[bool, ...]
    weights: list[RankingRow]
    fusion: list[RankingRow]
    refusal: Refusal
    submitters: list[SubmitterRow]
    mixes: tuple[float, ...]
    sure: SureBar
    policy: Policy


def calibrate(corpus: Corpus, observed: Sequence[Observed], present: Sequence[bool]) -> Calibration:
    """The policy for the encoders `present` (the others weigh 0), chosen on `observed`."""
    dev = [o for o in observed if o.question.split == "dev"]
    weight_rows, fusion_rows = ranking_sweeps(corpus, dev, present)
    ranking = best_ranking(weight_rows).weights
    pools = [pooled(o) for o in dev]
    refusal = calibrate_refusal(pools, weight_grid(present, encoder_spreads(dev)))
    low, high = refusal.thresholds
    encoders = corpus.encoders
    base = Policy(
        weights=as_weights(encoders, ranking),
        support_weights=as_weights(encoders, refusal.best.weights),
        fusion=fusion_rows[0].fusion,
        support=refusal.best.support,
        thresholds=Thresholds(
            low_confidence=low,
            high_confidence=high,
            submitter_threshold=low,
            corpus_gap=1.0,
            specific_gap=0.0,
        ),
    )
    found: list[SubmitterRow] = []

    def pick(mixes: Sequence[float]) -> float:
        nonlocal found
        found = submitter_sweep(corpus, dev, base, mixes)
        return found[0].context_mix

    _, mixes = widened("context_mix", CONTEXT_MIXES, pick)
    best = found[0]
    policy = replace_policy(base, best)
    sure = sure_bar(quoted_supports(corpus, dev, policy))
    if sure.bar is not None:
        policy = with_thresholds(policy, sure_submitter=sure.bar)
    return Calibration(
        tuple(present), weight_rows, fusion_rows, refusal, found, mixes, sure, policy
    )


def replace_policy(base: Policy, row: SubmitterRow) -> Policy:
    chosen = base.model_copy(update={"context_mix": row.context_mix})
    return with_thresholds(
        chosen,
        submitter_threshold=row.submitter_threshold,
        corpus_gap=row.corpus_gap,
        specific_gap=row.specific_gap,
    )
