"""An answer as the answer page shows it: counts first, then each group's first quotes, the
rest of a group one click away (Streamlit expanders). Built from the API's structured answer
(counts, groups, citations), never from its Markdown, and every piece of document text is
literal: quotes, submitter names and labels cannot become links, images or emphasis.

The only links are the [n] markers, built from the citation's number and ids: to its source
card when the page shows that card, else to its quote highlighted in the document page (a
template sentence is shown once, and each sender's own wording of it is there)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rag.contract import kinds_line, type_plural
from ui.client import Answer, Citation, QuoteGroup
from ui.render import literal, one_line
from ui.workbench_render import document_href

SAME_TEXT = "Samme tekst i {n} innspill:"
# Senders named on a template sentence's line when it has more than one more (all of them
# are in the group's expander).
NAMES_SHOWN = 3


@dataclass(frozen=True)
class Markers:
    """Where the [n] markers lead: the citations whose source card is on the page, and the
    question (so the document page can lead back to the answer)."""

    carded: frozenset[int]
    question: str = ""

    def link(self, citation: Citation) -> str:
        """A marker that jumps to its source card, or opens its quote in the document."""
        n = citation.n
        if n in self.carded:
            return f"[\\[{n}\\]](#kilde-{n})"
        href = document_href(citation.document_id, citation.start, citation.end, self.question)
        return f"[\\[{n}\\]]({href})"


def generated(answer: Answer) -> bool:
    """Whether a language model wrote the answer's text (from the cited passages)."""
    return "generate" in answer.timings_ms


def lead(answer: Answer) -> str:
    """«**121 av 242 innspill** har relevante sitater: 112 av 200 kommuner, 9 av 12 …»."""
    quoted = len({c.document_id for c in answer.citations})
    total = sum(t.in_scope for t in answer.counts)
    kinds = kinds_line((t.submitter_type, t.quoted, t.in_scope) for t in answer.counts)
    line = f"**{quoted} av {total} innspill** er sitert"
    return f"{line}: {literal(kinds)}." if len(answer.counts) > 1 and kinds else f"{line}."


def scope_note(answer: Answer) -> str | None:
    """What the question's own words restricted the answer to («kommunene»)."""
    if not answer.scope:
        return None
    kinds = " og ".join(type_plural(t, 2) for t in answer.scope)
    return literal(f"Spørsmålet gjelder {kinds}: bare {kinds} er tatt med.")


def heading(number: int, group: QuoteGroup) -> str:
    """A group's heading: its label words (or what it is) and who is in it."""
    what = ", ".join(group.label) if group.label else "Beste treff"
    kinds = sorted(group.counts.items(), key=lambda kv: (-kv[1], kv[0]))
    who = ", ".join(f"{n} {type_plural(kind, n)}" for kind, n in kinds)
    title = f"{number}. {what}" if group.label else what
    return f"**{literal(title)}** – {literal(who)}"


def quote_line(numbers: Sequence[int], by_n: Mapping[int, Citation], markers: Markers) -> str:
    """One quote with every citation's marker: a template sentence once, with its first
    senders (`senders_line` names them all)."""
    cited = [by_n[n] for n in numbers]
    quote = literal(one_line(cited[0].quote))
    links = " ".join(markers.link(c) for c in cited)
    if len(cited) == 1:
        who = f"**{literal(cited[0].submitter)}** ({literal(cited[0].submitter_type)})"
        return f"- «{quote}» {links} – {who}"
    named = cited[:NAMES_SHOWN] if named_apart(numbers) else cited
    names = ", ".join(literal(c.submitter) for c in named)
    names += f" og {len(cited) - len(named)} andre" if len(named) < len(cited) else ""
    return f"- {SAME_TEXT.format(n=len(cited))} «{quote}» {links} – {names}"


def named_apart(numbers: Sequence[int]) -> bool:
    """Whether a template sentence's senders are too many to name on its line."""
    return len(numbers) > NAMES_SHOWN + 1


def senders_line(numbers: Sequence[int], by_n: Mapping[int, Citation], markers: Markers) -> str:
    """Every sender of a template sentence, each with its marker (its own wording)."""
    cited = [by_n[n] for n in numbers]
    names = ", ".join(f"{literal(c.submitter)} {markers.link(c)}" for c in cited)
    return f"- {SAME_TEXT.format(n=len(cited)).removesuffix(':')}, alle avsendere: {names}"


def shown_lines(group: QuoteGroup, by_n: Mapping[int, Citation], markers: Markers) -> list[str]:
    return [quote_line(numbers, by_n, markers) for numbers in group.shown]


def rest(group: QuoteGroup) -> list[int]:
    """The group's citations not shown first, in answer order."""
    shown = {n for numbers in group.shown for n in numbers}
    return [n for n in group.members if n not in shown]


def rest_lines(group: QuoteGroup, by_n: Mapping[int, Citation], markers: Markers) -> list[str]:
    """What the group's expander holds: every sender of each template sentence whose line
    names only the first, then the group's other quotes."""
    senders = [
        senders_line(numbers, by_n, markers) for numbers in group.shown if named_apart(numbers)
    ]
    return senders + [quote_line([n], by_n, markers) for n in rest(group)]


def first_cards(answer: Answer) -> list[Citation]:
    """The citations whose source cards the page shows before any click: the first quote of
    each point (its line shows the others as written), every quote of the best evidence (the
    group without a label), a template sentence by its first sender (the others' text is the
    same but for the name). At 300 submissions a card per quote shown made the page 11
    screens."""
    by_n = {c.n: c for c in answer.citations}
    return [
        by_n[numbers[0]]
        for g in answer.groups
        for numbers in (g.shown if not g.label else g.shown[:1])
        if numbers
    ]
