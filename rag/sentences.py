"""The one sentence splitter of the project: sentences as offsets into the stored text.

Answers, the sentence layer of the index, generation checks, cleaning and the benchmarks all
split with this module. A sentence ends at `.`, `!` or `?` (a closing quote or bracket right
after it stays in the sentence) before white space and a capital letter, digit, quote, bracket
or dash, unless the word before the full stop is a Norwegian abbreviation («bl.a.», «f.eks.»,
«nr. 9», «jf.», «ca.») or an initial. Paragraphs and list items end at line breaks; a list
item's `- ` mark is not part of its sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Closing punctuation a sentence may end with (used by cleaning to join broken lines).
SENTENCE_FINAL = (".", "!", "?", ":", "»", '"', ")")

# Lower-cased abbreviations (without their final full stop) after which no sentence ends.
# Those that close a list («osv.», «m.m.», «etc.») usually end the sentence too, so they are not
# here: before a capital letter they end it.
ABBREVIATIONS = frozenset(
    {
        "bl.a",
        "f.eks",
        "feks",
        "jf",
        "jfr",
        "ca",
        "nr",
        "kap",
        "pkt",
        "ref",
        "vedr",
        "mht",
        "m.h.t",
        "iht",
        "i.h.t",
        "ift",
        "i.f.t",
        "inkl",
        "ekskl",
        "evt",
        "ev",
        "dvs",
        "d.v.s",
        "tlf",
        "s",
        "st",
        "pr",
        "ang",
        "adm",
        "avd",
        "dr",
        "prof",
        "td",
        "t.d",
        "t.o.m",
        "f.o.m",
        "bla",
        "resp",
        "jmf",
        "vs",
    }
)

# End punctuation, closing quotes or brackets, and citation or footnote markers («[3]») that
# belong to the sentence, before white space and what can start the next sentence.
_BOUNDARY = re.compile(r"[.!?][»\")\]]*(?:[ \t]*\[\d+\])*+(?=\s+[A-ZÆØÅÄÖÉ0-9«\"(\[–-])")
_LINE_BREAK = re.compile(r"\n+")
_LIST_MARK = re.compile(r"-\s+")
_INITIAL = re.compile(r"^[A-ZÆØÅ]$")
# The number of a numbered heading, alone between the sentence's start and its full stop.
_ORDINAL = re.compile(r"\s*\d{1,2}(?:\.\d{1,2})*\s*")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Span:
    """A sentence as offsets: the sentence is `text[start:end]`."""

    start: int
    end: int


def is_abbreviation(text: str, full_stop: int, floor: int) -> bool:
    """Whether the `.` at `full_stop` closes an abbreviation, an initial or the number that
    opens a numbered heading («2. Hvilke tiltak ...»), not a sentence.

    Looks only at the word before the full stop, never at the whole text since `floor` (which
    stays put while abbreviations follow each other: «A. A. A. …» would make that quadratic)."""
    if text[full_stop] != ".":
        return False
    if _ORDINAL.fullmatch(text, floor, full_stop):
        return True
    start = full_stop
    while start > floor and not text[start - 1].isspace():
        start -= 1
    word = text[start:full_stop].lstrip('(«"[')
    return bool(word) and (word.lower() in ABBREVIATIONS or bool(_INITIAL.match(word)))


def trimmed(text: str, start: int, end: int) -> Span | None:
    """text[start:end] without edge white space and without a leading list mark; None if empty."""
    while start < end and text[start].isspace():
        start += 1
    mark = _LIST_MARK.match(text, start, end)
    if mark:
        start = mark.end()
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end) if end > start else None


def line_sentences(text: str, start: int, end: int) -> list[Span]:
    """Sentences of one line (no line breaks between start and end)."""
    spans: list[Span] = []
    position = start
    for boundary in _BOUNDARY.finditer(text, start, end):
        if is_abbreviation(text, boundary.start(), position):
            continue
        span = trimmed(text, position, boundary.end())
        if span:
            spans.append(span)
        position = boundary.end()
    last = trimmed(text, position, end)
    if last:
        spans.append(last)
    return spans


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentences of text[start:end] as offsets into `text`, in order and never overlapping."""
    end = len(text) if end is None else end
    spans: list[Span] = []
    position = start
    for line_break in _LINE_BREAK.finditer(text, start, end):
        spans.extend(line_sentences(text, position, line_break.start()))
        position = line_break.end()
    spans.extend(line_sentences(text, position, end))
    return spans


def sentences(text: str) -> list[str]:
    """The sentences of `text` as strings."""
    return [text[s.start : s.end] for s in sentence_spans(text)]


def ends_sentence(line: str) -> bool:
    """Whether a line ends with sentence-final punctuation (cleaning joins lines that do not)."""
    return line.rstrip().endswith(SENTENCE_FINAL)


def wording(text: str) -> str:
    """A sentence's words on one line: two quotes with the same wording say the same thing,
    however their lines were broken (template letters, a sentence repeated in one document)."""
    return " ".join(text.split())


def word_count(text: str) -> int:
    return len(_WORD.findall(text))
