"""Pure functions that turn API data into safe HTML and Markdown strings.

Text from the API (quotes, paragraphs, titles, submitters, error details, echoed parameters) is
data, never markup. It goes through exactly one of two escapes defined here: `escape` for HTML
handed to `st.html`, `literal` for every Streamlit element that renders Markdown (st.markdown,
st.title, st.caption, st.error, st.table cells, ...). `literal` escapes Markdown punctuation as
well as HTML, so document text can produce no link, image, emphasis, heading, code, math or
directive. The answer Markdown from the API is not trusted either: `answer_with_links` keeps only
its line structure, checks `**submitter** (type)` headings against the citations and renders all
other text literally, with the known [n] markers as the only links.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rag.contract import MARKER
from ui.client import Citation

BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
WHITESPACE = re.compile(r"\s")
# The API escapes a «[3]» found inside a quote as «\\[3\\]» so it is no citation marker.
# The API's answer escapes Markdown in document text («\*», «\[3\]»); the UI reads it back
# to plain text before making it literal in its own way.
MARKDOWN_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
# Line shapes the answer may keep: a list item prefix, and a `**submitter** (type)` heading.
LIST_ITEM = re.compile(r"[ \t]*([-*+]|\d{1,3}[.)])[ \t]+")
SUBMITTER_HEADING = re.compile(r"\*\*(.+)\*\* \((.*)\)")
# A quote runs from « to the first » that is followed by its [n] markers, on one line, so nested
# «…» inside a quote stay inside it.
QUOTE_BEFORE_MARKERS = re.compile(r"«.*?»(?=(?:[ \t]*\[\d+\])+)")
# ASCII punctuation Markdown may act on, except & < > (html.escape turns those into entities).
MARKDOWN_PUNCTUATION = re.compile(r"([!-%'-/:;=?@\[-`{-~])")
LINE_INDENT = re.compile(r"(?<=\n)[ \t]+")
# Streamlit's Markdown turns URLs and e-mail addresses in *text* into links after parsing (GFM
# autolink literals: http://, https://, www., x@y.z), so escapes cannot stop it. An invisible
# WORD JOINER after `:` in `://`, between `www` and `.`, and after `@` breaks those patterns.
AUTOLINK_BREAKS = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\.)|(?<=@)", re.IGNORECASE)
WORD_JOINER = "\u2060"
MAX_CONTEXT = 400
DOCUMENT_MARK_ID = "treff"

STYLE = """<style>
.kilde h4 { margin: 0 0 .25rem 0; padding: 0; scroll-margin-top: 4rem; }
.kilde .nr { color: #4a5a8a; margin-right: .35rem; }
.kilde .type { font-size: .8rem; font-weight: normal; color: #555;
  border: 1px solid #ccc; border-radius: .6rem; padding: .05rem .45rem; margin-left: .35rem; }
.kilde .meta { font-size: .85rem; color: #666; margin: 0 0 .5rem 0; }
.kilde .avsnitt { margin: 0; padding: .25rem .75rem; border-left: 3px solid #d0d7e5;
  line-height: 1.55; }
.kilde mark, .dokument mark { background: #fff1a8; padding: 0 .1rem; }
.dokument { white-space: pre-wrap; line-height: 1.55; font-size: .95rem; }
.dokument mark { outline: 2px solid #f0c000; }
</style>"""

# Static script (never mixed with document text): scroll the highlighted quote into view once
# Streamlit has put the document on the page.
SCROLL_TO_MARK_SCRIPT = f"""<script>
(function () {{
  let tries = 0;
  function go() {{
    const mark = document.getElementById("{DOCUMENT_MARK_ID}");
    if (mark) {{ mark.scrollIntoView({{block: "center"}}); return; }}
    if (++tries < 50) {{ setTimeout(go, 100); }}
  }}
  go();
}})();
</script>"""


@dataclass(frozen=True)
class SubmitterSummary:
    """One submitter's share of an answer: how many cited passages and the best of them."""

    submitter: str
    submitter_type: str
    passages: int
    best: Citation


def escape(text: str) -> str:
    """`text` as HTML text content: for `st.html` only (HTML does not parse Markdown)."""
    return html.escape(text, quote=True)


def literal(text: str) -> str:
    """Markdown that displays `text` verbatim: every ASCII punctuation character Markdown (and
    Streamlit's directives, emoji and math) could act on is backslash-escaped, HTML escaped,
    indentation (which Markdown never shows, but reads as a code block) dropped, and URLs and
    e-mail addresses broken by an invisible word joiner so they cannot become links."""
    unlinked = AUTOLINK_BREAKS.sub(WORD_JOINER, LINE_INDENT.sub("", text))
    return html.escape(MARKDOWN_PUNCTUATION.sub(r"\\\1", unlinked), quote=False)


def api_unavailable_message(url: str) -> str:
    return (
        f"Får ikke kontakt med API-et på {literal(url)}. Sjekk at tjenesten kjører "
        "(`rag serve`) eller sett RAG_UI_API_URL til riktig adresse."
    )


API_ERROR_HEADLINES = {
    404: "Fant ikke det du ba om",
    422: "Spørsmålet kan ikke besvares",
    503: "Tjenesten er ikke klar",
}


def api_error_message(status: int, detail: str) -> str:
    """A Norwegian headline for the status, then the API's detail as literal text."""
    if status == 200:  # the body broke the contract; the client's detail says how
        return literal(detail)
    headline = API_ERROR_HEADLINES.get(status, f"API-et svarte med feil ({status})")
    return f"{headline}: {literal(detail)}"


def paragraph_bounds(
    text: str, start: int, end: int, max_context: int = MAX_CONTEXT
) -> tuple[int, int]:
    """Bounds of the paragraph around `text[start:end]`.

    The paragraph runs from the nearest blank line before `start` to the nearest blank line after
    `end`; at most `max_context` characters are kept on either side, cut at whitespace.
    """
    if not 0 <= start <= end <= len(text):
        raise ValueError(f"offsets {start}:{end} outside a text of {len(text)} characters")
    lo = 0
    for match in BLANK_LINE.finditer(text, 0, start):
        lo = match.end()
    after = BLANK_LINE.search(text, end)
    hi = after.start() if after else len(text)
    if start - lo > max_context:
        lo = _next_space(text, start - max_context, start)
    if hi - end > max_context:
        hi = _previous_space(text, end, end + max_context)
    return lo, hi


def highlight_in_paragraph(text: str, start: int, end: int, max_context: int = MAX_CONTEXT) -> str:
    """Escaped HTML of the quote's paragraph with the quote inside `<mark>`."""
    whole_lo, whole_hi = paragraph_bounds(text, start, end, max_context=len(text))
    lo, hi = paragraph_bounds(text, start, end, max_context)
    before = text[lo:start].lstrip()
    after = text[end:hi].rstrip()
    lead = "… " if lo > whole_lo else ""
    tail = " …" if hi < whole_hi else ""
    return f"{lead}{escape(before)}<mark>{escape(text[start:end])}</mark>{escape(after)}{tail}"


def highlight_document(text: str, start: int | None = None, end: int | None = None) -> str:
    """The whole document as escaped HTML, with `text[start:end]` in `<mark id="treff">`."""
    if start is None or end is None or not 0 <= start <= end <= len(text):
        return f'<div class="dokument">{escape(text)}</div>'
    marked = f'<mark id="{DOCUMENT_MARK_ID}">{escape(text[start:end])}</mark>'
    return f'<div class="dokument">{escape(text[:start])}{marked}{escape(text[end:])}</div>'


def answer_with_links(answer_md: str, citations: Iterable[Citation]) -> str:
    """The API's answer as safe Markdown, with every known [n] marker a link to `#kilde-n`.

    The answer is read line by line. A `**submitter** (type)` line whose pair belongs to a
    citation stays bold; a list prefix stays a list item; everything else is literal text.
    Quotes (from « to the » before their markers) are literal too, including any «[2]» in them,
    which the API sends escaped as «\\[2\\]». So neither a quote nor a generated sentence nor a
    submitter name can become a link, image, emphasis or HTML.
    """
    cited = tuple(citations)
    known = {citation.n for citation in cited}
    headings = {(citation.submitter, citation.submitter_type) for citation in cited}
    return "\n".join(_answer_line(line, known, headings) for line in answer_md.splitlines())


def passage_html(citation: Citation, document_text: str | None) -> str:
    """The card's passage: the quote highlighted in its paragraph, or the bare quote if the
    document text is unavailable or no longer matches the citation's offsets."""
    text = document_text or ""
    in_range = 0 <= citation.start < citation.end <= len(text)
    if not in_range or text[citation.start : citation.end] != citation.quote:
        return f"<mark>{escape(citation.quote)}</mark>"
    return highlight_in_paragraph(text, citation.start, citation.end)


def citation_meta(citation: Citation) -> str:
    """One escaped line: section, page and source file, leaving out what is unknown."""
    fields = [
        ("Seksjon", citation.section),
        ("Side", str(citation.page) if citation.page is not None else None),
        ("Kilde", citation.source),
    ]
    return " · ".join(f"{label}: {escape(value)}" for label, value in fields if value)


def source_card_html(citation: Citation, passage_html: str) -> str:
    """A source card: the anchor `kilde-n`, submitter, metadata and the (already safe) passage."""
    return (
        '<div class="kilde">'
        f'<h4 id="kilde-{citation.n}"><span class="nr">[{citation.n}]</span>'
        f'<span class="innsender">{escape(citation.submitter)}</span>'
        f'<span class="type">{escape(citation.submitter_type)}</span>'
        "</h4>"
        f'<p class="meta">{citation_meta(citation)}</p>'
        f'<blockquote class="avsnitt">{passage_html}</blockquote>'
        "</div>"
    )


def submitter_overview(citations: Sequence[Citation]) -> list[SubmitterSummary]:
    """Citations grouped by submitter, in order of first appearance, each with its best quote."""
    groups: dict[str, list[Citation]] = {}
    for citation in citations:
        groups.setdefault(citation.submitter, []).append(citation)
    return [
        SubmitterSummary(
            submitter=submitter,
            submitter_type=cited[0].submitter_type,
            passages=len(cited),
            best=max(cited, key=lambda c: (c.score, -c.n)),
        )
        for submitter, cited in groups.items()
    ]


def overview_rows(summaries: Iterable[SubmitterSummary]) -> list[dict[str, str | int]]:
    """Rows for `st.table`, whose cells render Markdown: every text cell is literal."""
    return [
        {
            "Innsender": literal(summary.submitter),
            "Type": literal(summary.submitter_type),
            "Relevante avsnitt": summary.passages,
            "Beste sitat": literal(f"«{one_line(summary.best.quote)}» [{summary.best.n}]"),
        }
        for summary in summaries
    ]


def unescape(markdown: str) -> str:
    """Markdown backslash escapes («\\*», «\\[») back to the characters they stand for."""
    return MARKDOWN_ESCAPE.sub(r"\1", markdown)


def _answer_line(line: str, known: set[int], headings: set[tuple[str, str]]) -> str:
    heading = SUBMITTER_HEADING.fullmatch(line.strip())
    pair = (unescape(heading.group(1)), unescape(heading.group(2))) if heading else None
    if heading and pair in headings:
        return f"**{literal(pair[0])}** ({literal(pair[1])})"
    item = LIST_ITEM.match(line)
    if item:
        return f"{item.group(1)} {_quotes_and_markers(line[item.end() :], known)}"
    return _quotes_and_markers(line.strip(), known)


def _quotes_and_markers(text: str, known: set[int]) -> str:
    """Literal text with its quotes literal and the known markers outside quotes linked."""
    parts: list[str] = []
    position = 0
    for match in QUOTE_BEFORE_MARKERS.finditer(text):
        parts.append(_link_markers(text[position : match.start()], known))
        parts.append(literal(unescape(match.group())))
        position = match.end()
    parts.append(_link_markers(text[position:], known))
    return "".join(parts)


def _link_markers(text: str, known: set[int]) -> str:
    """Literal text in which each known [n] becomes a link to its source card."""
    parts: list[str] = []
    position = 0
    for match in MARKER.finditer(text):
        n = int(match.group(1))
        if n in known:
            parts.append(literal(unescape(text[position : match.start()])))
            parts.append(f"[\\[{n}\\]](#kilde-{n})")
            position = match.end()
    parts.append(literal(unescape(text[position:])))
    return "".join(parts)


def _next_space(text: str, position: int, limit: int) -> int:
    """Just after the first whitespace in text[position:limit], else `position`."""
    space = WHITESPACE.search(text, position, limit)
    return space.end() if space else position


def _previous_space(text: str, limit: int, position: int) -> int:
    """The last whitespace in text[limit:position], else `position`."""
    space = max(text.rfind(" ", limit, position), text.rfind("\n", limit, position))
    return space if space != -1 else position


def one_line(text: str) -> str:
    return " ".join(text.split())
