"""Find each gold quote in the stored document text, as offsets into `Document.text`.

The quotes in eval/questions.jsonl are copied from the raw seed files; the stored text is the
cleaned text (paragraphs rebuilt, bullets rewritten). A quote is looked for after collapsing
whitespace on both sides, and the match is mapped back to offsets in the stored text. When
cleaning changed more than whitespace (a bullet marker inside the quote, say), the quote's words
are matched in order, ignoring punctuation. A quote found neither way stays unlocated, and the
metrics fall back to matching its words (see `eval.metrics.shares_run_of_words`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from eval.questions import GoldQuote

_WORD = re.compile(r"\w+")

Method = Literal["whitespace", "words", "unlocated"]


@dataclass(frozen=True)
class Span:
    start: int
    end: int


@dataclass(frozen=True)
class LocatedGold:
    """A gold quote and, when found, where it lies in the stored text of its document."""

    source: str
    quote: str
    document_id: str | None
    span: Span | None  # the first place it occurs
    method: Method
    # every place the same text occurs in the document (a paragraph a submission repeats is
    # the same quote wherever it stands); `span` first
    repeats: tuple[Span, ...] = ()

    @property
    def spans(self) -> tuple[Span, ...]:
        return () if self.span is None else (self.span, *self.repeats)


def collapse_whitespace(text: str) -> tuple[str, list[int]]:
    """`text` with each whitespace run made one space and the ends trimmed, plus, for every
    character of the result, its offset in `text`."""
    chars: list[str] = []
    offsets: list[int] = []
    pending_space = False
    for offset, char in enumerate(text):
        if char.isspace():
            pending_space = bool(chars)
            continue
        if pending_space:
            chars.append(" ")
            offsets.append(offset - 1)
            pending_space = False
        chars.append(char)
        offsets.append(offset)
    return "".join(chars), offsets


def locate_by_whitespace(text: str, quote: str) -> Span | None:
    """The first place `quote` occurs in `text` when whitespace differences are ignored."""
    haystack, offsets = collapse_whitespace(text)
    needle, _ = collapse_whitespace(quote)
    if not needle:
        return None
    found = haystack.find(needle)
    if found < 0:
        return None
    return Span(offsets[found], offsets[found + len(needle) - 1] + 1)


def locate_by_words(text: str, quote: str) -> Span | None:
    """The first run of words in `text` equal (case-folded) to the words of `quote`."""
    needle = [w.casefold() for w in _WORD.findall(quote)]
    if not needle:
        return None
    matches = list(_WORD.finditer(text))
    words = [m.group().casefold() for m in matches]
    for i in range(len(words) - len(needle) + 1):
        if words[i : i + len(needle)] == needle:
            return Span(matches[i].start(), matches[i + len(needle) - 1].end())
    return None


def locate(gold: GoldQuote, document_id: str | None, text: str | None) -> LocatedGold:
    """Where `gold` lies in the stored `text` of the document with its source name."""
    if document_id is None or text is None:
        return LocatedGold(gold.source, gold.quote, None, None, "unlocated")
    span = locate_by_whitespace(text, gold.quote)
    method: Method = "whitespace"
    if span is None:
        span, method = locate_by_words(text, gold.quote), "words"
    if span is None:
        return LocatedGold(gold.source, gold.quote, document_id, None, "unlocated")
    return LocatedGold(gold.source, gold.quote, document_id, span, method, repeats(text, span))


def repeats(text: str, span: Span) -> tuple[Span, ...]:
    """The other places where the text at `span` occurs again, verbatim."""
    quoted = text[span.start : span.end]
    found = []
    at = text.find(quoted, span.end)
    while at >= 0:
        found.append(Span(at, at + len(quoted)))
        at = text.find(quoted, at + len(quoted))
    return tuple(found)


@dataclass(frozen=True)
class StoredText:
    """What locating needs of a stored document."""

    document_id: str
    text: str


def locate_all(
    golds: Sequence[GoldQuote], by_source: Mapping[str, StoredText]
) -> tuple[LocatedGold, ...]:
    """Locate every quote in the stored document whose source file name matches."""
    located = []
    for gold in golds:
        stored = by_source.get(gold.source)
        located.append(
            locate(gold, stored.document_id if stored else None, stored.text if stored else None)
        )
    return tuple(located)
