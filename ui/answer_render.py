"""An answer as the answer page shows it: counts first, then each group's first quotes, the
rest of a group one click away (Streamlit expanders). Built from the API's structured answer
(counts, groups, citations), never from its Markdown, and every piece of document text is
literal: quotes, submitter names and labels cannot become links, images or emphasis."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rag.contract import kinds_line, type_plural
from ui.client import Answer, Citation, QuoteGroup
from ui.render import literal, one_line

SAME_TEXT = "Samme tekst i {n} innspill:"


def link(n: int) -> str:
    """A marker that jumps to its source card."""
    return f"[\\[{n}\\]](#kilde-{n})"


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


def quote_line(numbers: Sequence[int], by_n: Mapping[int, Citation]) -> str:
    """One quote with every citation's marker: a template sentence once, with its senders."""
    cited = [by_n[n] for n in numbers]
    quote = literal(one_line(cited[0].quote))
    markers = " ".join(link(c.n) for c in cited)
    if len(cited) == 1:
        who = f"**{literal(cited[0].submitter)}** ({literal(cited[0].submitter_type)})"
        return f"- «{quote}» {markers} – {who}"
    names = ", ".join(literal(c.submitter) for c in cited)
    return f"- {SAME_TEXT.format(n=len(cited))} «{quote}» {markers} – {names}"


def shown_lines(group: QuoteGroup, by_n: Mapping[int, Citation]) -> list[str]:
    return [quote_line(numbers, by_n) for numbers in group.shown]


def rest(group: QuoteGroup) -> list[int]:
    """The group's citations not shown first, in answer order."""
    shown = {n for numbers in group.shown for n in numbers}
    return [n for n in group.members if n not in shown]


def rest_lines(group: QuoteGroup, by_n: Mapping[int, Citation]) -> list[str]:
    return [quote_line([n], by_n) for n in rest(group)]


def shown_citations(answer: Answer) -> list[Citation]:
    """The citations the answer shows before any click, in answer order."""
    by_n = {c.n: c for c in answer.citations}
    return [by_n[n] for g in answer.groups for numbers in g.shown for n in numbers]
