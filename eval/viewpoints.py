"""How well quotes that make the same point end in the same viewpoint (`rag.grouping`).

Data: eval/viewpoint_pairs.jsonl. For each aggregate question of eval/questions.jsonl the quote
set is its gold quotes, each widened to the index sentences that hold it (the text an answer
quotes). Every quote of a set was read and given a point by hand (the same claim or proposal
on the same sub-issue, not merely the same topic), before any method was run; every pair of
quotes of a question is a line: the question, its split, both quotes (document source and exact
text), the label (same/different) and the two points as the reason. The annotated partition of a
question is read back from its «same» pairs.

Vectors: the seeds index's sentence vectors (no model is loaded). A quote's vector is the mean of
its sentences' vectors; the encoders' unit blocks are weighted equally («fused», what the
answer's similarity uses) or one encoder alone.

Measure: pairwise precision, recall and F1 over every annotated pair of a split (a pair is
predicted «same» when both quotes end in one viewpoint), and the mean adjusted Rand index over the
split's questions. Methods: agglomerative clustering with average, single (= connected
components of the threshold graph) or complete linkage, cut at a cosine threshold; and average
linkage cut at the number of clusters with the best silhouette. The threshold is chosen on dev.

    python -m eval.viewpoints [--index data/index] [--pairs eval/viewpoint_pairs.jsonl]
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from eval.questions import SPLITS, Split
from eval.report import markdown_table
from rag.grouping import (
    LINKAGES,
    VIEWPOINT_THRESHOLD,
    Linkage,
    QuoteItem,
    centred,
    cluster,
    cut_into,
    group_vector,
    same_wording_groups,
    similarity_tree,
    unit_rows,
)
from rag.store import StoredIndex, load_index

DEFAULT_PAIRS = Path("eval/viewpoint_pairs.jsonl")
SPACES = {"plain": False, "centred": True}
THRESHOLDS: dict[str, tuple[float, ...]] = {
    "plain": tuple(round(0.5 + 0.025 * i, 3) for i in range(19)),
    "centred": tuple(round(-0.1 + 0.025 * i, 3) for i in range(21)),
}
VECTORS = ("fused", "e5", "gemma")

Labeller = Callable[[Sequence[QuoteItem]], list[int]]


@dataclass(frozen=True)
class QuoteRef:
    source: str
    quote: str


@dataclass(frozen=True)
class ViewpointPair:
    question: str
    split: Split
    a: QuoteRef
    b: QuoteRef
    same: bool
    reason: str


@dataclass(frozen=True)
class QuoteSet:
    question: str
    split: Split
    quotes: tuple[QuoteRef, ...]
    gold: tuple[int, ...]  # annotated point of each quote


@dataclass(frozen=True)
class Score:
    method: str
    vectors: str
    split: str
    precision: float
    recall: float
    f1: float
    ari: float


def load_pairs(path: Path = DEFAULT_PAIRS) -> tuple[ViewpointPair, ...]:
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            a, b = QuoteRef(**r["a"]), QuoteRef(**r["b"])
            same = {"same": True, "different": False}[r["label"]]
            pairs.append(ViewpointPair(r["question"], r["split"], a, b, same, r["reason"]))
    return tuple(pairs)


def components(n: int, edges: Sequence[tuple[int, int]]) -> tuple[int, ...]:
    """Connected components of `n` nodes, numbered in order of their first node."""
    root = list(range(n))

    def find(i: int) -> int:
        while root[i] != i:
            i = root[i]
        return i

    for i, j in edges:
        a, b = sorted((find(i), find(j)))
        root[b] = a
    numbers: dict[int, int] = {}
    return tuple(numbers.setdefault(find(i), len(numbers)) for i in range(n))


def partition(quotes: Sequence[QuoteRef], pairs: Sequence[ViewpointPair]) -> tuple[int, ...]:
    """The annotated points as cluster numbers; ValueError if «same» is not transitive."""
    position = {q: i for i, q in enumerate(quotes)}
    labels = components(len(quotes), [(position[p.a], position[p.b]) for p in pairs if p.same])
    if any(labels[position[p.a]] == labels[position[p.b]] for p in pairs if not p.same):
        raise ValueError(f"the «same» pairs of {pairs[0].question} are not transitive")
    return labels


def quote_sets(pairs: Sequence[ViewpointPair]) -> list[QuoteSet]:
    by_question: dict[str, list[ViewpointPair]] = {}
    for pair in pairs:
        by_question.setdefault(pair.question, []).append(pair)
    sets = []
    for question, own in by_question.items():
        quotes = tuple(dict.fromkeys(q for p in own for q in (p.a, p.b)))
        sets.append(QuoteSet(question, own[0].split, quotes, partition(quotes, own)))
    return sets


# ---------------------------------------------------------------------------------------------
# Quotes as the items an answer would group


def block_weights(index: StoredIndex, vectors: str) -> NDArray[np.float64]:
    """Per encoder block: equal weights («fused») or one encoder alone."""
    models = [e.model for e in index.manifest.encoders]
    if vectors == "fused":
        return np.full(len(models), 1.0 / len(models))
    chosen = [vectors in model.lower() for model in models]
    if sum(chosen) != 1:
        raise ValueError(f"no single encoder named {vectors!r} among {', '.join(models)}")
    return np.array(chosen, dtype=np.float64)


def weighted(rows: NDArray[np.float32], index: StoredIndex, vectors: str) -> NDArray[np.float64]:
    widths = [e.dimension for e in index.manifest.encoders]
    scale = np.repeat(block_weights(index, vectors), widths)
    return unit_rows(rows.astype(np.float64) * scale)


def quote_item(index: StoredIndex, ref: QuoteRef, vectors: str, key: str) -> QuoteItem:
    """The quote with its submitter and the mean of its sentences' vectors."""
    doc = next(d for d in index.documents.values() if d.source == ref.source)
    start = doc.text.find(ref.quote)
    if start < 0:
        raise ValueError(f"quote not in {ref.source}: {ref.quote[:60]!r}")
    end = start + len(ref.quote)
    layer = index.sentences
    rows = [
        i
        for i, s in enumerate(layer.sentences)
        if s.document_id == doc.document_id and s.start < end and s.end > start
    ]
    mean = weighted(layer.vectors[rows], index, vectors).mean(axis=0)
    vector = unit_rows(mean[None, :])[0].astype(np.float32)
    return QuoteItem(key, doc.submitter, doc.submitter_type, ref.quote, vector)


def items_of(index: StoredIndex, qs: QuoteSet, vectors: str) -> list[QuoteItem]:
    return [
        quote_item(index, ref, vectors, f"{qs.question}:{i}") for i, ref in enumerate(qs.quotes)
    ]


# ---------------------------------------------------------------------------------------------
# Methods: each gives the viewpoint number of every item


def by_wording(
    items: Sequence[QuoteItem], cut: Callable[[NDArray[np.float64]], list[int]]
) -> list[int]:
    """Same wording first (as `rag.grouping.group_quotes` does), then `cut` on the groups."""
    groups = same_wording_groups(items)
    numbers = cut(np.stack([group_vector(g) for g in groups]))
    of_item = {item.key: numbers[g] for g, group in enumerate(groups) for item in group.items}
    return [of_item[item.key] for item in items]


def at_threshold(threshold: float, linkage: Linkage, centre: bool) -> Labeller:
    return lambda items: by_wording(items, lambda v: cluster(v, threshold, linkage, centre))


def silhouette(vectors: NDArray[np.float64], labels: Sequence[int]) -> float:
    """Mean silhouette on cosine distance (0 for a quote alone in its cluster)."""
    distance = 1.0 - vectors @ vectors.T
    label = np.asarray(labels)
    values = []
    for i in range(len(label)):
        own = (label == label[i]) & (np.arange(len(label)) != i)
        if not own.any():
            values.append(0.0)
            continue
        a = distance[i, own].mean()
        b = min(distance[i, label == other].mean() for other in set(label.tolist()) - {label[i]})
        values.append((b - a) / max(a, b))
    return float(np.mean(values))


def best_silhouette(vectors: NDArray[np.float64], centre: bool) -> list[int]:
    """Average linkage cut at the number of clusters (2 … n-1) with the best silhouette."""
    n = len(vectors)
    if n < 3:
        return list(range(n))
    rows = centred(vectors) if centre else unit_rows(vectors)
    tree = similarity_tree(rows, "average")
    cuts = [cut_into(tree, k) for k in range(2, n)]
    return max(cuts, key=lambda labels: silhouette(rows, labels))


def by_silhouette(centre: bool) -> Labeller:
    return lambda items: by_wording(items, lambda v: best_silhouette(v, centre))


def method_name(space: str, linkage: str, threshold: float | None = None) -> str:
    cut = "k by silhouette" if threshold is None else f"≥ {threshold:.3f}"
    return f"{space} {linkage} {cut}"


def methods() -> dict[str, Labeller]:
    """Every linkage at every threshold of its space, and the silhouette cut, on plain and on
    centred cosines."""
    found: dict[str, Labeller] = {}
    for space, centre in SPACES.items():
        for linkage in LINKAGES:
            for t in THRESHOLDS[space]:
                found[method_name(space, linkage, t)] = at_threshold(t, linkage, centre)
        found[method_name(space, "average")] = by_silhouette(centre)
    return found


# ---------------------------------------------------------------------------------------------
# Scores


def pair_counts(gold: Sequence[int], predicted: Sequence[int]) -> tuple[int, int, int]:
    """(true, false, missed) «same» pairs."""
    tp = fp = fn = 0
    for i in range(len(gold)):
        for j in range(i + 1, len(gold)):
            truth, guess = gold[i] == gold[j], predicted[i] == predicted[j]
            tp += truth and guess
            fp += guess and not truth
            fn += truth and not guess
    return tp, fp, fn


def adjusted_rand(gold: Sequence[int], predicted: Sequence[int]) -> float:
    """Hubert and Arabie's adjusted Rand index (1 when both put every item alone or together)."""
    pairs = math.comb(len(gold), 2)
    table: dict[tuple[int, int], int] = {}
    for g, p in zip(gold, predicted, strict=True):
        table[g, p] = table.get((g, p), 0) + 1
    both = sum(math.comb(n, 2) for n in table.values())
    rows = sum(math.comb(list(gold).count(g), 2) for g in set(gold))
    cols = sum(math.comb(list(predicted).count(p), 2) for p in set(predicted))
    expected = rows * cols / pairs if pairs else 0.0
    top = (rows + cols) / 2
    return 1.0 if top == expected else (both - expected) / (top - expected)


Outcome = tuple[Sequence[int], Sequence[int]]  # annotated and predicted point of each quote


def score(method: str, vectors: str, split: str, results: Sequence[Outcome]) -> Score:
    """Pairwise precision, recall and F1 over all pairs, and the mean adjusted Rand index."""
    counts = [pair_counts(gold, predicted) for gold, predicted in results]
    tp, fp, fn = (sum(c[k] for c in counts) for k in range(3))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    ari = float(np.mean([adjusted_rand(gold, predicted) for gold, predicted in results]))
    return Score(method, vectors, split, precision, recall, f1, ari)


def outcomes(labeller: Labeller, data: Sequence[tuple[QuoteSet, list[QuoteItem]]]) -> list[Outcome]:
    return [(qs.gold, labeller(items)) for qs, items in data]


# ---------------------------------------------------------------------------------------------
# The comparison


def prepared(
    index: StoredIndex, sets: Sequence[QuoteSet], vectors: str, split: str
) -> list[tuple[QuoteSet, list[QuoteItem]]]:
    return [(qs, items_of(index, qs, vectors)) for qs in sets if qs.split == split]


def sweep(index: StoredIndex, sets: Sequence[QuoteSet], vectors: str, split: str) -> list[Score]:
    data = prepared(index, sets, vectors, split)
    return [score(name, vectors, split, outcomes(m, data)) for name, m in methods().items()]


def baselines(sets: Sequence[QuoteSet], split: str) -> list[Score]:
    """Every quote alone, and all quotes of a question in one viewpoint."""
    own = [qs.gold for qs in sets if qs.split == split]
    alone = [(gold, list(range(len(gold)))) for gold in own]
    together = [(gold, [0] * len(gold)) for gold in own]
    return [score("each alone", "–", split, alone), score("all together", "–", split, together)]


def threshold_table(scores: Sequence[Score], space: str) -> str:
    """Dev F1 (ARI) of each linkage per threshold, fused vectors."""
    by = {(s.method, s.vectors): s for s in scores}
    header = ["threshold", *(f"{linkage} F1 (ARI)" for linkage in LINKAGES)]
    rows = []
    for t in THRESHOLDS[space]:
        cells = [by[method_name(space, linkage, t), "fused"] for linkage in LINKAGES]
        rows.append([f"{t:.3f}", *(f"{c.f1:.3f} ({c.ari:.3f})" for c in cells)])
    return markdown_table(header, rows)


def best_table(scores: Sequence[Score]) -> str:
    """The best of each method family by dev F1 (then ARI)."""
    families: dict[tuple[str, str, str], list[Score]] = {}
    for s in scores:
        space, linkage, cut = s.method.split(" ", 2)
        family = "silhouette" if "silhouette" in cut else "threshold"
        families.setdefault((s.vectors, f"{space} {linkage}", family), []).append(s)
    rows = []
    for (vectors, _, _), own in families.items():
        best = max(own, key=lambda s: (s.f1, s.ari))
        rows.append([vectors, best.method, best.precision, best.recall, best.f1, best.ari])
    return markdown_table(["vectors", "method", "P", "R", "F1", "ARI"], rows)


def report(index: StoredIndex, sets: Sequence[QuoteSet]) -> str:
    dev = [s for vectors in VECTORS for s in sweep(index, sets, vectors, "dev")]
    chosen = method_name("centred", "average", VIEWPOINT_THRESHOLD)
    test_data = prepared(index, sets, "fused", "test")
    test = score(chosen, "fused", "test", outcomes(methods()[chosen], test_data))
    dev_chosen = next(s for s in dev if s.method == chosen and s.vectors == "fused")
    counts = {split: sum(len(qs.quotes) for qs in sets if qs.split == split) for split in SPLITS}
    base = [s for split in SPLITS for s in baselines(sets, split)]
    lines = [
        f"Quote sets: {len(sets)} questions; quotes dev {counts['dev']}, test {counts['test']}."
    ]
    for space in SPACES:
        lines += [
            "",
            f"Dev, fused vectors, {space} cosine: pairwise F1 (mean adjusted Rand index)",
            "",
            threshold_table(dev, space),
        ]
    lines += [
        "",
        "Dev: the best of each method (by F1)",
        "",
        best_table(dev),
        "",
        "Baselines",
        "",
        markdown_table(
            ["method", "split", "P", "R", "F1", "ARI"],
            [[s.method, s.split, s.precision, s.recall, s.f1, s.ari] for s in base],
        ),
        "",
        f"Chosen: {chosen} (fused)",
        "",
        markdown_table(
            ["split", "P", "R", "F1", "ARI"],
            [[s.split, s.precision, s.recall, s.f1, s.ari] for s in (dev_chosen, test)],
        ),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--index", type=Path, default=Path("data/index"))
    parser.add_argument("--pairs", type=Path, default=DEFAULT_PAIRS)
    args = parser.parse_args(argv)
    print(report(load_index(args.index), quote_sets(load_pairs(args.pairs))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
