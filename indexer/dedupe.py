"""Duplicate submissions and template letters: which documents are one submission, which are one
template sent by several submitters, and how much of its text each shares with another.

Two documents are compared by their sentences, normalised: case-folded, whitespace collapsed,
each document's own submitter masked (`rag.grouping.mask_submitter`: its name, genitive, place
and «kommunen vår», so «Bamble kommune viser til …» and «Skien kommune viser til …» are one
sentence of a template); headings and sentences under four words are left out, so that a title
naming the sender or «Med vennlig hilsen» does not count.

Only pairs that matter are compared. `shared_shares` finds every pair in which one document
holds at least `SHARED_MIN` (half) of the other's sentences, and no other, without comparing
all pairs: a document whose share in another is at least half has, among any
n - ceil(n/2) + 1 of its n sentences, one the other holds too (prefix filtering). Its rarest
sentences are taken, so the documents holding them are few, and only those are compared (in
the order (i, j): i's share in j). A sentence every letter holds (a standard phrase) is never
among a letter's rarest, so it makes no pair. On the 300-submission stand-in, in which each
seed sentence recurs in a dozen letters by construction, 59,300 ordered pairs share some
sentence; 31,200 are compared and 2,677 kept (0.6 s); in a real round, where sentences recur
mostly within templates, far fewer are compared.

- The same submission (one file as DOCX and PDF, or a file copied twice) is indexed once: two
  documents from the same submitter whose texts are identical, or that each share at least 90 %
  (`NEAR_IDENTICAL_SHARE`) of their sentences with the other. The one kept is the one with
  curated metadata, then the paged one (a PDF gives citations page numbers), then the longer
  one, then the first by name. Identical texts are one submission also when a submitter was
  only taken from a file name.
- Different submitters that send the same template letter stay separate documents and form a
  template group: documents joined, directly or through others, by pairs that each hold at
  least 75 % (`TEMPLATE_SHARE`) of the other's sentences. `Document.near_duplicates` lists the
  other members of its group; `Document.shared_text` the share of its sentences found in each
  document that holds at least half of them (its group's members among them).

Why 75 %. On the stand-in (eval/standin.py: five campaigns of 5-25 senders; a template of 8-12
sentences of the seeds, a third of the senders adding one of their own), members of one
campaign share 86-100 % of their sentences both ways once the sender is masked, and two letters
that are not of one campaign at most 71 % (two short letters cut from the same seed sections;
the next highest pair 61 %); the groups found at 75 % are exactly the five campaigns. Unmasked,
a short template whose sentences name the sender fell to 57 %, and three organisations sharing
79-87 % were not flagged at 90 %. At 75 % a sender may add a third of the template's length of
its own (two sentences to six) and is still in its group.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rag.grouping import mask_submitter
from rag.sentences import ends_sentence, sentence_spans
from rag.types import Document

NEAR_IDENTICAL_SHARE = 0.9
TEMPLATE_SHARE = 0.75
SHARED_MIN = 0.5
MIN_SENTENCE_WORDS = 4
_EDGE_PUNCTUATION = re.compile(r"^\W+|\W+$")

DuplicateKind = Literal["identical", "near-identical"]
Shares = dict[tuple[int, int], float]


@dataclass(frozen=True)
class Duplicate:
    """documents[index] is the same submission as documents[kept]."""

    index: int
    kept: int
    kind: DuplicateKind
    shared: float


def sentence_set(text: str, submitter: str | None = None) -> frozenset[str]:
    """The document's full sentences, normalised, with its submitter masked when given.
    Headings and title lines (no closing punctuation) are left out: a template letter sent by
    two submitters differs in those."""
    said = (text[s.start : s.end] for s in sentence_spans(text))  # split before masking
    masked = (mask_submitter(s, submitter) if submitter else s for s in said)
    sentences = (" ".join(s.split()).casefold() for s in masked)
    finished = (s for s in sentences if ends_sentence(s))
    normalised = (_EDGE_PUNCTUATION.sub("", s) for s in finished)
    return frozenset(s for s in normalised if len(s.split()) >= MIN_SENTENCE_WORDS)


def shared_shares(
    texts: Sequence[str],
    submitters: Sequence[str] | None = None,
    minimum: float = SHARED_MIN,
) -> Shares:
    """(i, j) -> share of text i's sentences that also occur in text j, for every pair where
    that share is at least `minimum` (each text's submitter masked when given)."""
    names = submitters if submitters is not None else [None] * len(texts)
    sets = [sentence_set(t, s) for t, s in zip(texts, names, strict=True)]
    return overlaps(sets, minimum)


def needed(sentences: int, minimum: float) -> int:
    """How many of a document's sentences another must hold for a share of `minimum`."""
    return max(1, math.ceil(minimum * sentences - 1e-9))


def candidate_pairs(sets: Sequence[frozenset[str]], minimum: float) -> dict[int, list[int]]:
    """i -> the documents that may hold `minimum` of i's sentences: those holding one of i's
    rarest n - need + 1 sentences (any document holding `need` of them holds one of these)."""
    holders: dict[str, list[int]] = defaultdict(list)
    for i, sentences in enumerate(sets):
        for sentence in sentences:
            holders[sentence].append(i)
    found: dict[int, list[int]] = {}
    for i, sentences in enumerate(sets):
        if not sentences:
            continue
        rarest = sorted(sentences, key=lambda s: (len(holders[s]), s))
        prefix = rarest[: len(sentences) - needed(len(sentences), minimum) + 1]
        others = {j for s in prefix for j in holders[s]} - {i}
        if others:
            found[i] = sorted(others)
    return found


def overlaps(sets: Sequence[frozenset[str]], minimum: float) -> Shares:
    """(i, j) -> |i ∩ j| / |i| for every pair with a share of at least `minimum` (> 0); only
    the candidate pairs are compared."""
    shares: Shares = {}
    for i, others in candidate_pairs(sets, minimum).items():
        need = needed(len(sets[i]), minimum)
        for j in others:
            common = len(sets[i] & sets[j])
            if common >= need:
                shares[i, j] = common / len(sets[i])
    return shares


def both_ways(shares: Shares, i: int, j: int) -> float:
    """The smaller of the two shares: how much each holds of the other at least."""
    return min(shares.get((i, j), 0.0), shares.get((j, i), 0.0))


def near_identical(shares: Shares, i: int, j: int) -> bool:
    """Each of the two has at least 90 % of its sentences in the other."""
    return both_ways(shares, i, j) >= NEAR_IDENTICAL_SHARE


def _preference(doc: Document) -> tuple[bool, bool, int, str]:
    """Sort key: the document to keep of a duplicate group sorts first."""
    return (doc.submitter_guessed, not doc.page_starts, -len(doc.text), doc.source)


def same_submission(
    docs: Sequence[Document], shares: Shares, i: int, j: int
) -> DuplicateKind | None:
    a, b = docs[i], docs[j]
    if a.text == b.text and (
        a.submitter == b.submitter or "filnavn" in (a.submitter_origin, b.submitter_origin)
    ):
        return "identical"
    if a.submitter == b.submitter and near_identical(shares, i, j):
        return "near-identical"
    return None


def find_duplicates(docs: Sequence[Document], shares: Shares) -> list[Duplicate]:
    """Every document that repeats a submission kept in its place, with the one kept. A
    document is compared with the kept documents of the same text or sharing its sentences."""
    order = sorted(range(len(docs)), key=lambda i: _preference(docs[i]))
    rank = {i: r for r, i in enumerate(order)}
    partners: dict[int, set[int]] = defaultdict(set)
    for i, j in shares:
        partners[i].add(j)
        partners[j].add(i)
    same_text: dict[str, list[int]] = defaultdict(list)
    for i, doc in enumerate(docs):
        same_text[doc.text].append(i)
    kept: set[int] = set()
    duplicates: list[Duplicate] = []
    for i in order:
        candidates = sorted(
            (partners[i] | set(same_text[docs[i].text])) & kept, key=rank.__getitem__
        )
        match = next(
            ((k, kind) for k in candidates if (kind := same_submission(docs, shares, i, k))), None
        )
        if match is None:
            kept.add(i)
        else:
            duplicates.append(Duplicate(i, match[0], match[1], shares.get((i, match[0]), 1.0)))
    return sorted(duplicates, key=lambda d: d.index)


def template_groups(count: int, shares: Shares) -> list[list[int]]:
    """Groups of two or more documents joined, directly or through others, by pairs that each
    hold at least `TEMPLATE_SHARE` of the other's sentences; members in index order, groups by
    their first member."""
    parent = list(range(count))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in shares:
        if i < j and both_ways(shares, i, j) >= TEMPLATE_SHARE:
            a, b = root(i), root(j)
            parent[max(a, b)] = min(a, b)
    members: dict[int, list[int]] = defaultdict(list)
    for i in range(count):
        members[root(i)].append(i)
    return [group for _, group in sorted(members.items()) if len(group) > 1]


def mark_shared_text(docs: Sequence[Document], shares: Shares) -> list[Document]:
    """The documents with `shared_text` (the share of its sentences in each document that holds
    at least half of them) and `near_duplicates` (the other members of its template group)
    filled in, ids as they stand."""
    group_of: dict[int, list[int]] = {}
    for group in template_groups(len(docs), shares):
        for i in group:
            group_of[i] = group
    found_in: dict[int, dict[int, float]] = defaultdict(dict)
    for (i, j), share in shares.items():
        found_in[i][j] = share
    marked: list[Document] = []
    for i, doc in enumerate(docs):
        shared_text = {docs[j].document_id: round(s, 3) for j, s in sorted(found_in[i].items())}
        near = tuple(docs[j].document_id for j in group_of.get(i, ()) if j != i)
        marked.append(dataclasses.replace(doc, shared_text=shared_text, near_duplicates=near))
    return marked
