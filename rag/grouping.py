"""Quotes of an aggregate answer in groups an analyst can read: counts, then points, then quotes.

An answer over a few hundred submissions quotes hundreds of sentences. They are grouped twice:

1. **Same wording.** Quotes whose words are the same once each quote's own submitter is masked
   (`mask_submitter`: the name, its genitive, the place it is named after, and words by which a
   submitter speaks of itself: «Bamble kommune», «Bamble kommunes», «Bamble», «Bambles»,
   «kommunen vår», and «kommunen» when the submitter is a municipality) are one group, as are
   quotes with exactly the same words: a template letter sent by twenty municipalities is one
   quote, «Samme tekst i 20 innspill». Masking only makes the key; the quotes shown are the
   exact texts.
2. **Same point (viewpoints).** The wording groups are clustered by meaning, each group one
   point (its vector the mean of its quotes' unit vectors; the caller passes each quote's fused
   sentence vector). All quotes of an answer are about its question, so their plain cosines are
   uniformly high (0.6-0.9) and say little about which make the same point; the vectors are
   therefore `centred` first (the answer's mean taken out, rows made unit again). Agglomerative
   clustering with average linkage (SciPy's, O(n²)) then joins clusters while their mean
   centred cosine is at least `VIEWPOINT_THRESHOLD`. An answer over thousands of submitters
   clusters its first `EXACT_ROWS` wording groups so; each further group joins the viewpoint
   it is on average closest to, or stands alone below the threshold, as average linkage would
   leave it. Each viewpoint is labelled by the words that set it apart from
   the answer's other viewpoints (class-based TF-IDF over content word stems, a stem counted
   once per wording group; stopwords and numbers left out, and no word every viewpoint uses):
   the label is words of the quotes themselves, never generated text. A viewpoint keeps every
   quote; up to three representatives (the groups closest to its centroid, from distinct
   submitters) are what the caller shows first, with its number of submitters of each type.

How the method and threshold were chosen: eval/viewpoint_pairs.jsonl holds hand-annotated pairs
of quotes of the 20 aggregate questions (same point or not; 8 questions dev, 12 test), and
`python -m eval.viewpoints` scores pairwise F1 and adjusted Rand of average, single and complete
linkage at every threshold, on plain and on centred cosines, and a silhouette-chosen number of
clusters. Average linkage on centred fused cosine (e5-small and EmbeddingGemma weighted equally)
at 0.05 scored best on dev (F1 0.343, ARI 0.30; the best on plain cosine: 0.267 at 0.775, and
0.160 for one group per answer); on test it scores F1 0.306, ARI 0.35. Same point is a hard
call even for a reader, so the viewpoints are a reading aid: every quote stays in the answer.
With two wording groups centring makes them opposite, so they stay apart.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.cluster import hierarchy
from scipy.spatial.distance import squareform

from rag.bm25 import content_words, stem_words
from rag.sentences import wording

VIEWPOINT_THRESHOLD = 0.05  # centred fused cosine; chosen on the dev pairs (docstring)
# Wording groups clustered exactly (O(n²) time and memory: 1,000 take about 0.1 s); the rest of
# a larger answer joins the closest of their viewpoints. No seed answer has as many.
EXACT_ROWS = 1_000
LABEL_WORDS = 3
REPRESENTATIVES = 3
SENDER_MASK = "⟨avsender⟩"
WORDINGS_KEPT = 65_536  # quotes whose wording keys are kept (a corpus of 300 has 22,000 sentences)

# Words the generic Norwegian stopword list keeps that say nothing as a label (modal and light
# verbs, adverbs, quantifiers); with them out a label names what its quotes are about.
_LABEL_STOPWORDS = """
    bør må får få gir gi går gjør gjøre gjøres kommer blant annet andre annen derfor dermed
    dessuten eventuell eventuelt samtidig fortsatt videre gjennom grad større stor store mer
    mest mye flere fleste ulike ulik enkelte enkelt hele helt svært særlig spesielt allerede
    ofte gjerne både ennå iht ift feks eks dvs mfl fl osv etc ca pr nr jf bla tre fire fem
    seks sju åtte ni ti første tredje dag dagens
"""
LABEL_STOPWORDS = frozenset(_LABEL_STOPWORDS.split())
MIN_LABEL_LETTERS = 3

Linkage = Literal["average", "single", "complete"]
LINKAGES: tuple[Linkage, ...] = ("average", "single", "complete")

# How a submitter speaks of itself; masked for every submitter.
_SELF_REFERENCES = (
    r"kommunen\s+vår",
    r"vår\s+kommune",
    r"fylkeskommunen\s+vår",
    r"vår\s+fylkeskommune",
    r"helsefellesskapet\s+vårt",
    r"vårt\s+helsefellesskap",
    r"organisasjonen\s+vår",
    r"vår\s+organisasjon",
    r"foreningen\s+vår",
    r"vår\s+forening",
    r"forbundet\s+vårt",
    r"vårt\s+forbund",
)
# The bare word for what the submitter is, masked when the submitter is one («kommunen» in a
# municipality's text); the longer suffix first, so «fylkeskommune» is not read as «kommune».
_KIND_WORDS = (
    ("fylkeskommune", r"fylkeskommunen"),
    ("kommune", r"kommunen"),
)
_HELSEFELLESSKAP = re.compile(r"^helsefellesskap(?:et)?\s+(?:i|for)?\s*", re.IGNORECASE)
_NAME_SUFFIX = re.compile(r"\s+(?:fylkeskommune|kommune)$", re.IGNORECASE)
_COUNTY_TAIL = re.compile(r"\s+og\s+kommunene$", re.IGNORECASE)
# A place name preceded by these is a hospital trust, an office or a longer name
# («Midt-Telemark»), not the submitter.
NOT_THE_SENDER = r"(?<!Helse )(?<!-)(?<!Sykehuset )(?<!KS )"
_END = r"(?:ns|s|')?(?!\w)"  # genitive («Bambles», «Moss'», «Bergen kommunens»)


@dataclass(frozen=True)
class QuoteItem:
    """One quote of an answer: whose it is, its exact text and its (unit) vector."""

    key: str  # the caller's id for the quote, e.g. its citation number or document:offset
    submitter: str
    submitter_type: str
    text: str
    vector: NDArray[np.float32] = field(compare=False, repr=False)


@dataclass(frozen=True)
class SameWording:
    """Quotes whose wording is the same once each one's own submitter is masked."""

    key: str  # the masked wording
    items: tuple[QuoteItem, ...]

    @property
    def shown(self) -> QuoteItem:
        """The quote shown for the group (the first); all are kept for their markers."""
        return self.items[0]

    @property
    def submitters(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(item.submitter for item in self.items))


@dataclass(frozen=True)
class Viewpoint:
    """Wording groups that make the same point, with what sets them apart from the others."""

    label: tuple[str, ...]
    groups: tuple[SameWording, ...]
    representatives: tuple[QuoteItem, ...]
    counts: dict[str, int]  # distinct submitters per submitter type

    @property
    def items(self) -> tuple[QuoteItem, ...]:
        return tuple(item for group in self.groups for item in group.items)

    @property
    def submitters(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(item.submitter for item in self.items))


@dataclass(frozen=True)
class Grouping:
    """An answer's quotes: how many submitters of each type, then its viewpoints."""

    counts: dict[str, int]
    viewpoints: tuple[Viewpoint, ...]


# ---------------------------------------------------------------------------------------------
# Same wording


def place_of(submitter: str) -> str | None:
    """The place a public body is named after: «Bamble kommune» -> «Bamble», «Helsefellesskapet
    i Agder» -> «Agder»; None for an organisation or state body («Den norske legeforening»)."""
    name = " ".join(submitter.split())
    if _NAME_SUFFIX.search(name):
        return _NAME_SUFFIX.sub("", name)
    if _HELSEFELLESSKAP.match(name):
        rest = _COUNTY_TAIL.sub("", _HELSEFELLESSKAP.sub("", name))
        return rest or None
    return None


_SELF = re.compile("|".join(rf"\b{reference}\b" for reference in _SELF_REFERENCES), re.I)
_KIND = {
    word: re.compile(rf"\b{word}s?\b", re.I)
    for word in ("fylkeskommunen", "kommunen", "helsefellesskapet")
}


@lru_cache(maxsize=4096)
def _name_pattern(submitter: str) -> re.Pattern[str]:
    """The submitter's name and the place it is named after, each with its genitive."""
    name = " ".join(submitter.split())
    forms = [r"(?i:\b" + r"\s+".join(re.escape(w) for w in name.split()) + rf"{_END})"]
    place = place_of(name)
    if place:
        spaced = r"\s+".join(re.escape(word) for word in place.split())
        forms.append(rf"{NOT_THE_SENDER}\b{spaced}{_END}")
    return re.compile("|".join(forms))


def _kind_word(submitter: str) -> str | None:
    """The bare word for what the submitter is («kommunen» for a municipality), if any."""
    lower = submitter.lower()
    kind = next((word for suffix, word in _KIND_WORDS if lower.endswith(suffix)), None)
    return "helsefellesskapet" if kind is None and _HELSEFELLESSKAP.match(submitter) else kind


def mask_submitter(text: str, submitter: str) -> str:
    """`text` with every way it names its own submitter replaced by SENDER_MASK; other names
    («Skien kommune», «Helse Bergen») stay. For grouping keys only, never for what is shown."""
    masked = _SELF.sub(SENDER_MASK, _name_pattern(submitter).sub(SENDER_MASK, text))
    kind = _kind_word(submitter)
    return _KIND[kind].sub(SENDER_MASK, masked) if kind else masked


def wording_key(item: QuoteItem) -> str:
    """The quote's words with its submitter masked, on one line, case-folded."""
    return masked_wording(item.text, item.submitter)


@lru_cache(maxsize=WORDINGS_KEPT)
def masked_wording(text: str, submitter: str) -> str:
    """`wording_key` of a text and its submitter, kept: a corpus's sentences are quoted again
    and again, and masking a submitter's names is three regular expressions a quote."""
    return wording(mask_submitter(text, submitter)).casefold()


@lru_cache(maxsize=WORDINGS_KEPT)
def plain_wording(text: str) -> str:
    """The quote's words on one line, case-folded (kept, as `masked_wording`)."""
    return wording(text).casefold()


def same_wording_groups(items: Sequence[QuoteItem]) -> list[SameWording]:
    """Quotes with the same words, or the same words once each one's submitter is masked, as
    groups (joined transitively); every item in exactly one, in the order of first items."""
    first_with: dict[str, int] = {}  # a key -> the first item that had it
    group_of = list(range(len(items)))
    for i, item in enumerate(items):
        for key in ("=" + plain_wording(item.text), "~" + wording_key(item)):
            j = first_with.setdefault(key, i)
            a, b = _root(group_of, i), _root(group_of, j)
            group_of[max(a, b)] = min(a, b)
    members: dict[int, list[QuoteItem]] = {}
    for i, item in enumerate(items):
        members.setdefault(_root(group_of, i), []).append(item)
    return [SameWording(wording_key(group[0]), tuple(group)) for group in members.values()]


def _root(parent: list[int], i: int) -> int:
    while parent[i] != i:
        i = parent[i]
    return i


# ---------------------------------------------------------------------------------------------
# Same point


def unit_rows(vectors: NDArray[np.floating]) -> NDArray[np.float64]:
    matrix = np.asarray(vectors, dtype=np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))[:, None]
    return matrix / np.where(norms > 0, norms, 1.0)


def group_vector(group: SameWording) -> NDArray[np.float64]:
    """The mean of the group's unit vectors, as a unit vector."""
    mean = unit_rows(np.stack([item.vector for item in group.items])).mean(axis=0)
    unit: NDArray[np.float64] = unit_rows(mean[None, :])[0]
    return unit


def similarity_tree(rows: NDArray[np.float64], linkage: Linkage) -> NDArray[np.float64]:
    """SciPy's merge tree (its `linkage` matrix) of unit `rows` by cosine distance: every
    merge with the distance, 1 - similarity, at which it joins. Average, single and complete
    linkage run in O(n²) time there (the nearest-neighbour chain and minimum spanning tree
    algorithms), and the merge heights of these linkages never fall."""
    distance = np.clip(1.0 - rows @ rows.T, 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)
    condensed = squareform((distance + distance.T) / 2, checks=False)
    tree: NDArray[np.float64] = hierarchy.linkage(condensed, method=linkage)
    return tree


def numbered(labels: Iterable[int]) -> list[int]:
    """Cluster labels renumbered 0, 1, … in order of each cluster's first row."""
    labels = list(labels)
    numbers = {label: i for i, label in enumerate(dict.fromkeys(labels))}
    return [numbers[label] for label in labels]


def cut_at(tree: NDArray[np.float64], threshold: float) -> list[int]:
    """Cluster number of each row: clusters joined while their similarity is >= threshold."""
    return numbered(hierarchy.fcluster(tree, 1.0 - threshold, criterion="distance").tolist())


def cut_into(tree: NDArray[np.float64], k: int) -> list[int]:
    """Cluster number of each row when the tree is cut into `k` clusters."""
    return numbered(hierarchy.fcluster(tree, k, criterion="maxclust").tolist())


def join_closest(
    rest: NDArray[np.float64], head: NDArray[np.float64], labels: Sequence[int], threshold: float
) -> list[int]:
    """Cluster numbers of the rows `rest`, after `head`'s `labels`: each joins the cluster whose
    rows it is on average most similar to (the average-linkage similarity of one row to a
    cluster) if that is >= threshold, and is a cluster of its own otherwise."""
    count = max(labels) + 1
    members = np.zeros((count, len(head)))
    members[labels, np.arange(len(head))] = 1.0
    means = (members @ head) / members.sum(axis=1, keepdims=True)
    similarity = rest @ means.T
    closest = similarity.argmax(axis=1)
    joined: list[int] = []
    for row, cluster_number in enumerate(closest.tolist()):
        if similarity[row, cluster_number] >= threshold:
            joined.append(cluster_number)
        else:
            joined.append(count)
            count += 1
    return joined


def centred(vectors: NDArray[np.floating]) -> NDArray[np.float64]:
    """Unit rows less their mean, as unit rows: what the quotes of one answer share (their
    topic) taken out, so that their cosine says how alike they are among themselves."""
    rows = unit_rows(vectors)
    return unit_rows(rows - rows.mean(axis=0))


def cluster(
    vectors: NDArray[np.floating],
    threshold: float = VIEWPOINT_THRESHOLD,
    linkage: Linkage = "average",
    centre: bool = True,
    exact_rows: int = EXACT_ROWS,
) -> list[int]:
    """Cluster number of each row: clusters joined while their similarity is >= threshold
    (cosine of the `centred` rows, or of the rows themselves). The first `exact_rows` rows are
    clustered exactly; each further row then joins the closest of their clusters
    (`join_closest`), so that the time stays bounded however many rows an answer has."""
    rows = centred(vectors) if centre else unit_rows(vectors)
    head = rows[:exact_rows]
    labels = cut_at(similarity_tree(head, linkage), threshold) if len(head) > 1 else [0]
    if len(rows) <= exact_rows:
        return labels[: len(rows)]
    return labels + join_closest(rows[exact_rows:], head, labels, threshold)


# ---------------------------------------------------------------------------------------------
# Labels, representatives, counts


def terms(text: str) -> list[tuple[str, str]]:
    """(word, stem) of each content word of a quote fit for a label: no stopwords (also
    LABEL_STOPWORDS), numbers, words under three letters or the submitter's mask."""
    words = [
        w
        for w in content_words(text.replace(SENDER_MASK, " "))
        if len(w) >= MIN_LABEL_LETTERS and not w.isdigit() and w not in LABEL_STOPWORDS
    ]
    return list(zip(words, stem_words(words), strict=True))


def stem_frequencies(clusters: Sequence[Sequence[str]]) -> list[Counter[str]]:
    """Per cluster of texts, in how many of its texts each stem occurs."""
    return [
        Counter(s for text in texts for s in {stem for _, stem in terms(text)})
        for texts in clusters
    ]


def class_tfidf(clusters: Sequence[Sequence[str]]) -> list[dict[str, float]]:
    """Per cluster, each stem's share of the cluster's texts times log(1 + A / f), where f is
    the stem's frequency over all clusters and A the mean number of stems per cluster
    (class-based TF-IDF); stems that every cluster uses are left out when there are several."""
    frequencies = stem_frequencies(clusters)
    overall: Counter[str] = Counter()
    for counts in frequencies:
        overall.update(counts)
    average = sum(overall.values()) / max(len(frequencies), 1)
    everywhere = {s for s in overall if all(s in c for c in frequencies)}
    if len(frequencies) < 2:
        everywhere = set()
    return [
        {
            stem: n / len(texts) * math.log(1 + average / overall[stem])
            for stem, n in counts.items()
            if stem not in everywhere
        }
        for texts, counts in zip(clusters, frequencies, strict=True)
    ]


def surface_word(texts: Sequence[str], stem: str) -> str:
    """The word the texts use most for `stem` (alphabetically first on a tie)."""
    used = Counter(word for text in texts for word, s in terms(text) if s == stem)
    return min(used, key=lambda word: (-used[word], word))


def distinctive_words(
    clusters: Sequence[Sequence[str]], k: int = LABEL_WORDS
) -> list[tuple[str, ...]]:
    """Per cluster of texts, its `k` most distinctive words (`class_tfidf`; on a tie the longer,
    which in Norwegian compounds is the more specific), as its texts spell them."""
    labels: list[tuple[str, ...]] = []
    for texts, scores in zip(clusters, class_tfidf(clusters), strict=True):
        best = sorted(scores, key=lambda stem: (-scores[stem], -len(stem), stem))[:k]
        labels.append(tuple(surface_word(texts, stem) for stem in best))
    return labels


def representatives(
    groups: Sequence[SameWording], vectors: NDArray[np.float64], k: int = REPRESENTATIVES
) -> tuple[QuoteItem, ...]:
    """The shown quotes of the `k` groups closest to the groups' centroid, one per submitter."""
    centroid = unit_rows(vectors.mean(axis=0)[None, :])[0]
    order = np.argsort(-(vectors @ centroid), kind="stable")
    chosen: list[QuoteItem] = []
    for i in order:
        shown = groups[int(i)].shown
        if len(chosen) < k and shown.submitter not in {c.submitter for c in chosen}:
            chosen.append(shown)
    return tuple(chosen)


def counts_by_type(items: Iterable[QuoteItem]) -> dict[str, int]:
    """Distinct submitters per submitter type, the largest first."""
    types = {item.submitter: item.submitter_type for item in items}
    counts = Counter(types.values())
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


# ---------------------------------------------------------------------------------------------
# The whole grouping


def masked_text(group: SameWording) -> str:
    return mask_submitter(group.shown.text, group.shown.submitter)


def viewpoint(
    groups: Sequence[SameWording], vectors: NDArray[np.float64], label: tuple[str, ...]
) -> Viewpoint:
    items = [item for group in groups for item in group.items]
    return Viewpoint(label, tuple(groups), representatives(groups, vectors), counts_by_type(items))


def group_quotes(items: Sequence[QuoteItem], threshold: float = VIEWPOINT_THRESHOLD) -> Grouping:
    """Counts of the submitters quoted, then viewpoints (most submitters first), each made of
    wording groups; every item lands in exactly one wording group of exactly one viewpoint."""
    groups = same_wording_groups(items)
    if not groups:
        return Grouping({}, ())
    vectors = np.stack([group_vector(g) for g in groups])
    members: dict[int, list[int]] = {}
    for i, number in enumerate(cluster(vectors, threshold, exact_rows=EXACT_ROWS)):
        members.setdefault(number, []).append(i)
    labels = distinctive_words([[masked_text(groups[i]) for i in m] for m in members.values()])
    found = [
        viewpoint([groups[i] for i in m], vectors[m], label)
        for m, label in zip(members.values(), labels, strict=True)
    ]
    found.sort(key=lambda v: (-len(v.submitters), -len(v.items)))
    return Grouping(counts_by_type(items), tuple(found))
