"""Extractive answers an analyst can read at any size: counts first, then groups, then quotes.

No language model is needed. Each quote is a span of the stored document text, checked by
`rag.decide` before it gets here. A question about the whole corpus («Hva sier kommunene om
fastlegeordningen?») leads with who addresses it, counted by submitter type («112 av 200
kommuner, 9 av 12 helsefellesskap»), then its quotes grouped by the point they make
(`rag.grouping`: a template sentence sent by many is one quote, «Samme tekst i N innspill», with
every marker; each point labelled by its own most distinctive words, with two or three
representative quotes and the markers of the rest). Any other question leads with its best
evidence, the closest quotes first, then names the other submitters that touch it, compactly.
Every citation's marker is in the text; the structured groups say which to show first.

Text that comes from documents (quotes, submitter names) is escaped so that it cannot become a
link, an image, emphasis or a citation marker.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from rag.contract import MARKER, NO_ANSWER_TEXT, Confidence, kinds_line, type_plural
from rag.decide import Decision
from rag.grouping import QuoteItem, SameWording, Viewpoint, group_quotes, same_wording_groups
from rag.query import Query
from rag.types import Citation, QuoteGroup, SubmitterDecision, TypeTally

LOW_CONFIDENCE_TEXT = "Svake treff – sjekk kildene."
SAME_TEXT_LEAD = "Samme tekst i {n} innspill:"
BEST_QUOTES = 3  # a specific question's closest quotes shown in full
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>&])")
_MARKUP = re.compile(r"[\[\]*_`#<>|\\!]")
_TOPIC = re.compile(r"\bom\s+(.+?)\s*[?.!]*\s*$", re.IGNORECASE)

Vectors = Callable[[Sequence[int]], NDArray[np.float32]]  # sentence rows -> fused unit vectors


def literal(text: str) -> str:
    """Document text as Markdown that shows exactly that text (no links, emphasis, markers)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def literal_with_markers(text: str) -> str:
    """Generated text as Markdown: literal like document text, but its [n] markers kept."""
    pieces = MARKER.split(text)  # text, number, text, number, ..., text
    return "".join(f"[{piece}]" if i % 2 else literal(piece) for i, piece in enumerate(pieces))


def topic_of(question: str) -> str | None:
    """«Hva sier kommunene om fastlegeordningen?» -> «fastlegeordningen»."""
    match = _TOPIC.search(question.strip())
    if not match:
        return None
    # The topic is echoed into markdown: no [n] markers, emphasis or code from the question.
    topic = " ".join(_MARKUP.sub(" ", match.group(1)).split())
    return topic or None


@dataclass(frozen=True)
class Composed:
    text: str  # Markdown with a [n] marker for every citation
    citations: tuple[Citation, ...]  # numbered in the order the text shows them
    groups: tuple[QuoteGroup, ...]
    counts: tuple[TypeTally, ...]


NOTHING = Composed(NO_ANSWER_TEXT, (), (), ())


# --- the lead: who addresses it --------------------------------------------------------------


def tallies(quoted: Sequence[SubmitterDecision], in_scope: Mapping[str, int]) -> list[TypeTally]:
    """Per submitter type in scope: how many are quoted, most quoted first (then by name)."""
    counted = Counter(s.document.submitter_type for s in quoted)
    found = [TypeTally(t, counted[t], total) for t, total in in_scope.items() if total]
    return sorted(found, key=lambda c: (-c.quoted, c.submitter_type))


def tally_line(counts: Sequence[TypeTally]) -> str:
    """«112 av 200 kommuner, 9 av 12 helsefellesskap» (types nobody quoted left out)."""
    return literal(kinds_line((c.submitter_type, c.quoted, c.in_scope) for c in counts))


def lead_line(
    question: str, quoted: int, counts: Sequence[TypeTally], confidence: Confidence
) -> str:
    topic = topic_of(question)
    what = f"omtaler {literal(topic)}" if topic else "har relevante avsnitt om spørsmålet"
    total = sum(c.in_scope for c in counts)
    lead = f"**{quoted} av {total} innspill** {what}"
    kinds = tally_line(counts)
    lead += f": {kinds}." if len(counts) > 1 and kinds else "."
    return f"{LOW_CONFIDENCE_TEXT} {lead}" if confidence == "low" else lead


def scope_line(scope: Sequence[str]) -> str | None:
    """What the question's own words restricted the answer to («kommunene»)."""
    if not scope:
        return None
    kinds = " og ".join(literal(type_plural(t, 2)) for t in scope)
    return f"Spørsmålet gjelder {kinds}: bare {kinds} er tatt med."


# --- quotes ---------------------------------------------------------------------------------


def markers(numbers: Sequence[int]) -> str:
    return " ".join(f"[{n}]" for n in numbers)


def named(citation: Citation) -> str:
    return f"**{literal(citation.submitter)}** ({literal(citation.submitter_type)})"


def quote_line(group: SameWording, by_key: Mapping[str, Citation]) -> str:
    """One quote: a template quote once, with how many sent it and every marker."""
    cited = [by_key[item.key] for item in group.items]
    if len(cited) == 1:
        return f"- «{literal(cited[0].quote)}» {markers([cited[0].n])} – {named(cited[0])}"
    lead = SAME_TEXT_LEAD.format(n=len(group.submitters))
    return f"- {lead} «{literal(cited[0].quote)}» {markers([c.n for c in cited])}"


def items_of(quoted: Sequence[SubmitterDecision], vectors: Vectors | None) -> list[QuoteItem]:
    """Every quote as an item to group, keyed by its citation number (with its fused vector
    when the grouping needs one)."""
    citations = [q for s in quoted for q in s.quotes]
    rows = [row for s in quoted for row in s.rows]
    found = vectors(rows) if vectors is not None else np.zeros((len(citations), 0), np.float32)
    return [
        QuoteItem(str(c.n), c.submitter, c.submitter_type, c.quote, v)
        for c, v in zip(citations, found, strict=True)
    ]


def viewpoint_block(
    number: int, point: Viewpoint, by_key: Mapping[str, Citation]
) -> tuple[str, QuoteGroup]:
    """A point: its label and counts, its representatives, then the markers of the rest."""
    chosen = {item.key for item in point.representatives}
    shown_groups = [g for g in point.groups if g.shown.key in chosen]
    rest = [g for g in point.groups if g.shown.key not in chosen]
    label = ", ".join(literal(w) for w in point.label) or "øvrige"
    who = len(point.submitters)
    head = f"**{number}. {label}** – {who} innspill ({kind_counts(point.counts)})"
    lines = [head, *(quote_line(g, by_key) for g in shown_groups)]
    others = [int(i.key) for g in rest for i in g.items]
    if others:
        lines.append(f"- Flere sitater om dette: {markers(others)}")
    shown = [tuple(int(i.key) for i in g.items) for g in shown_groups]
    first = [n for quote in shown for n in quote]
    group = QuoteGroup(point.label, dict(point.counts), tuple(shown), tuple(first + others))
    return "\n".join(lines), group


def kind_counts(counts: Mapping[str, int]) -> str:
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{n} {literal(type_plural(kind, n))}" for kind, n in ordered)


def corpus_blocks(
    items: Sequence[QuoteItem], by_key: Mapping[str, Citation]
) -> tuple[list[str], list[QuoteGroup]]:
    """A question about the whole corpus: its quotes by the point they make."""
    blocks, groups = [], []
    for number, point in enumerate(group_quotes(items).viewpoints, start=1):
        block, group = viewpoint_block(number, point, by_key)
        blocks.append(block)
        groups.append(group)
    return blocks, groups


def specific_blocks(
    items: Sequence[QuoteItem], by_key: Mapping[str, Citation]
) -> tuple[list[str], list[QuoteGroup]]:
    """Any other question: its closest quotes first, then the others' submitters compactly."""
    closest = sorted(items, key=lambda i: -by_key[i.key].score)
    wordings = same_wording_groups(closest)
    best, rest = wordings[:BEST_QUOTES], wordings[BEST_QUOTES:]
    lines = [quote_line(g, by_key) for g in best]
    shown = [tuple(int(i.key) for i in g.items) for g in best]
    first = [n for quote in shown for n in quote]
    others: dict[str, list[int]] = {}
    for wording in rest:
        for item in wording.items:
            others.setdefault(item.submitter, []).append(int(item.key))
    if others:
        touched = ", ".join(f"{literal(who)} {markers(ns)}" for who, ns in others.items())
        lines.append(f"Andre innspill som berører spørsmålet: {touched}")
    rest_numbers = [n for ns in others.values() for n in ns]
    counts = Counter(t for _, t in {(i.submitter, i.submitter_type) for i in items})
    evidence = QuoteGroup((), dict(counts), tuple(shown), tuple(first + rest_numbers))
    return ["\n".join(lines)], [evidence]


def compose(
    query: Query, decision: Decision, in_scope: Mapping[str, int], vectors: Vectors
) -> Composed:
    """The answer: lead (counts by type), scope, then groups of quotes, every citation's marker
    in the text and the citations numbered in the order the text shows them. `in_scope`: the
    documents in scope per submitter type; `vectors`: the quotes' fused sentence vectors by
    row, which group a question about the whole corpus by the point it makes."""
    quoted = decision.quoted
    if decision.confidence == "none" or not quoted:
        return NOTHING
    counts = tallies(quoted, in_scope)
    by_key = {str(q.n): q for s in quoted for q in s.quotes}
    items = items_of(quoted, vectors if query.corpus_wide else None)
    make = corpus_blocks if query.corpus_wide else specific_blocks
    blocks, groups = make(items, by_key)
    lead = lead_line(query.text, len(quoted), counts, decision.confidence)
    parts = [lead, *filter(None, [scope_line(query.scope)]), *blocks]
    text, citations, renumber = numbered_as_shown("\n\n".join(parts), list(by_key.values()))
    groups = [
        replace(
            g,
            shown=tuple(tuple(map(renumber, quote)) for quote in g.shown),
            members=tuple(map(renumber, g.members)),
        )
        for g in groups
    ]
    return Composed(text, citations, tuple(groups), tuple(counts))


def numbered_as_shown(
    text: str, quotes: Sequence[Citation]
) -> tuple[str, tuple[Citation, ...], Callable[[int], int]]:
    """Markers renumbered 1, 2, 3 … in the order the text shows them, the citations with the
    same numbers, in order, and the renumbering."""
    shown = {int(n): i for i, n in enumerate(MARKER.findall(text), start=1)}
    text = MARKER.sub(lambda m: f"[{shown[int(m.group(1))]}]", text)
    renumbered = (replace(q, n=shown[q.n]) for q in quotes)
    return text, tuple(sorted(renumbered, key=lambda c: c.n)), shown.__getitem__
