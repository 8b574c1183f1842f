"""Duplicate submissions: the same submission twice, and template letters shared by submitters.

Two documents are compared by their sentences (normalised: case-folded, whitespace collapsed;
headings and very short sentences are left out, so that a title naming the sender or «Med
vennlig hilsen» does not count). For every pair that shares
any sentence, `shared_shares` gives the share of each one's sentences found in the other.

- The same submission (one file as DOCX and PDF, or a file copied twice) is indexed once: two
  documents from the same submitter whose texts are identical, or that each share at least 90 %
  of their sentences with the other. The one kept is the one with curated metadata, then the
  paged one (a PDF gives citations page numbers), then the longer one, then the first by name.
- Identical texts are one submission also when a submitter was only taken from a file name.
- Distinct submitters that send the same template letter stay separate documents and are marked:
  `Document.near_duplicates` lists the others, `Document.shared_text` the share of its
  sentences found in each document it shares text with.
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rag.sentences import ends_sentence, sentence_spans
from rag.types import Document

NEAR_IDENTICAL_SHARE = 0.9
MIN_SENTENCE_WORDS = 4
_EDGE_PUNCTUATION = re.compile(r"^\W+|\W+$")

DuplicateKind = Literal["identical", "near-identical"]


@dataclass(frozen=True)
class Duplicate:
    """documents[index] is the same submission as documents[kept]."""

    index: int
    kept: int
    kind: DuplicateKind
    shared: float


def sentence_set(text: str) -> frozenset[str]:
    """The document's full sentences, normalised. Headings and title lines (no closing
    punctuation) are left out: a template letter sent by two submitters differs in those."""
    sentences = (" ".join(text[s.start : s.end].split()).casefold() for s in sentence_spans(text))
    finished = (s for s in sentences if ends_sentence(s))
    normalised = (_EDGE_PUNCTUATION.sub("", s) for s in finished)
    return frozenset(s for s in normalised if len(s.split()) >= MIN_SENTENCE_WORDS)


def shared_shares(texts: Sequence[str]) -> dict[tuple[int, int], float]:
    """(i, j) -> share of text i's sentences that also occur in text j, for pairs sharing any."""
    sets = [sentence_set(t) for t in texts]
    holders: dict[str, list[int]] = defaultdict(list)
    for i, sentences in enumerate(sets):
        for sentence in sentences:
            holders[sentence].append(i)
    common: dict[tuple[int, int], int] = defaultdict(int)
    for indices in holders.values():
        for i in indices:
            for j in indices:
                if i != j:
                    common[i, j] += 1
    return {(i, j): n / len(sets[i]) for (i, j), n in common.items()}


def near_identical(shares: dict[tuple[int, int], float], i: int, j: int) -> bool:
    """Each of the two has at least 90 % of its sentences in the other."""
    return min(shares.get((i, j), 0.0), shares.get((j, i), 0.0)) >= NEAR_IDENTICAL_SHARE


def _preference(doc: Document) -> tuple[bool, bool, int, str]:
    """Sort key: the document to keep of a duplicate group sorts first."""
    return (doc.submitter_guessed, not doc.page_starts, -len(doc.text), doc.source)


def same_submission(
    docs: Sequence[Document], shares: dict[tuple[int, int], float], i: int, j: int
) -> DuplicateKind | None:
    a, b = docs[i], docs[j]
    if a.text == b.text and (
        a.submitter == b.submitter or "filnavn" in (a.submitter_origin, b.submitter_origin)
    ):
        return "identical"
    if a.submitter == b.submitter and near_identical(shares, i, j):
        return "near-identical"
    return None


def find_duplicates(
    docs: Sequence[Document], shares: dict[tuple[int, int], float]
) -> list[Duplicate]:
    """Every document that repeats a submission kept in its place, with the one kept."""
    order = sorted(range(len(docs)), key=lambda i: _preference(docs[i]))
    kept: list[int] = []
    duplicates: list[Duplicate] = []
    for i in order:
        match = next(
            ((k, kind) for k in kept if (kind := same_submission(docs, shares, i, k))), None
        )
        if match is None:
            kept.append(i)
        else:
            duplicates.append(Duplicate(i, match[0], match[1], shares.get((i, match[0]), 1.0)))
    return sorted(duplicates, key=lambda d: d.index)


def mark_shared_text(
    docs: Sequence[Document], shares: dict[tuple[int, int], float]
) -> list[Document]:
    """The documents with `shared_text` and `near_duplicates` filled in (ids as they stand)."""
    marked: list[Document] = []
    for i, doc in enumerate(docs):
        others = {j: share for (a, j), share in shares.items() if a == i}
        shared_text = {docs[j].document_id: round(s, 3) for j, s in sorted(others.items())}
        near = tuple(docs[j].document_id for j in sorted(others) if near_identical(shares, i, j))
        marked.append(dataclasses.replace(doc, shared_text=shared_text, near_duplicates=near))
    return marked
