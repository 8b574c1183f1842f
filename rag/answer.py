"""Extractive answers: the decided submitters' closest sentences, quoted verbatim with offsets.

No language model is needed. Each quote is a span of the stored document text, checked by
`rag.decide` before it gets here. Text that comes from documents (quotes, submitter names)
is escaped so that it cannot become a link, an image, emphasis or a citation marker.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from rag.contract import MARKER, NO_ANSWER_TEXT, Confidence
from rag.decide import Decision
from rag.query import Query
from rag.sentences import wording
from rag.types import Citation, SubmitterDecision

LOW_CONFIDENCE_TEXT = "Svake treff – sjekk kildene."
SAME_TEXT_LEAD = "Samme tekst i {n} innspill:"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>&])")
_MARKUP = re.compile(r"[\[\]*_`#<>|\\!]")
_TOPIC = re.compile(r"\bom\s+(.+?)\s*[?.!]*\s*$", re.IGNORECASE)


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


def lead_line(question: str, covered: int, total: int, confidence: Confidence) -> str:
    topic = topic_of(question)
    what = f"omtaler {topic}" if topic else "har relevante avsnitt om spørsmålet"
    lead = f"{covered} av {total} innspill {what}."
    return f"{LOW_CONFIDENCE_TEXT} {lead}" if confidence == "low" else lead


def who(submitter: SubmitterDecision) -> str:
    doc = submitter.document
    return f"**{literal(doc.submitter)}** ({literal(doc.submitter_type)})"


def shared_quotes(quoted: Sequence[SubmitterDecision]) -> dict[str, list[Citation]]:
    """Quotes whose exact wording more than one submitter sent (template letters)."""
    by_text: dict[str, list[Citation]] = {}
    for submitter in quoted:
        for quote in submitter.quotes:
            by_text.setdefault(wording(quote.quote), []).append(quote)
    return {text: cites for text, cites in by_text.items() if len(cites) > 1}


def quote_line(quote: str, numbers: Sequence[int]) -> str:
    markers = " ".join(f"[{n}]" for n in numbers)
    return f"- «{literal(quote)}» {markers}"


def submitter_block(submitter: SubmitterDecision, shared: dict[str, list[Citation]]) -> str | None:
    own = [q for q in submitter.quotes if wording(q.quote) not in shared]
    if not own:
        return None
    lines = [quote_line(q.quote, [q.n]) for q in own]
    return f"{who(submitter)}\n" + "\n".join(lines)


def shared_block(quotes: Sequence[Citation], by_document: dict[str, SubmitterDecision]) -> str:
    documents = [by_document[q.document_id].document for q in quotes]
    names = ", ".join(f"{literal(d.submitter)} ({literal(d.submitter_type)})" for d in documents)
    head = f"{SAME_TEXT_LEAD.format(n=len(quotes))} {names}"
    return f"{head}\n{quote_line(quotes[0].quote, [q.n for q in quotes])}"


def compose(
    query: Query, decision: Decision, documents_in_scope: int
) -> tuple[str, tuple[Citation, ...]]:
    """(markdown answer with [n] markers, citations in marker order)."""
    quoted = decision.quoted
    if decision.confidence == "none" or not quoted:
        return NO_ANSWER_TEXT, ()
    shared = shared_quotes(quoted)
    by_document = {s.document.document_id: s for s in quoted}
    blocks = [b for s in quoted if (b := submitter_block(s, shared))]
    blocks += [shared_block(cites, by_document) for cites in shared.values()]
    lead = lead_line(query.text, len(quoted), documents_in_scope, decision.confidence)
    return numbered_as_shown("\n\n".join([lead, *blocks]), [q for s in quoted for q in s.quotes])


def numbered_as_shown(text: str, quotes: Sequence[Citation]) -> tuple[str, tuple[Citation, ...]]:
    """Markers renumbered 1, 2, 3 … in the order the text shows them (template quotes are
    shown after each submitter's own), and the citations with the same numbers, in order."""
    shown = {int(n): i for i, n in enumerate(MARKER.findall(text), start=1)}
    text = MARKER.sub(lambda m: f"[{shown[int(m.group(1))]}]", text)
    renumbered = (replace(q, n=shown[q.n]) for q in quotes)
    return text, tuple(sorted(renumbered, key=lambda c: c.n))
