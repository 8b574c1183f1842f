"""Pure functions for the workbench pages («Oversikt», «Sammenlign»): safe HTML and plain rows.

Every string that comes from a document or the user (submitter names, topics, quotes, sections)
goes through `render.escape` before it is put into HTML; links are built with `urlencode` and
escaped as attributes. What goes to a Markdown element (the cells of `st.table`) goes through
`render.literal`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from urllib.parse import urlencode

from rag.contract import count_line, type_plural
from ui.client import (
    Citation,
    CompareColumn,
    DocumentInfo,
    Matrix,
    MatrixCell,
    MatrixSubmitter,
    SharedText,
)
from ui.render import citation_meta, escape, literal

DOCUMENT_PATH = "dokument"  # the document page's url_path in ui/app.py
MARKS = {"high": "●", "low": "◐"}
NOT_MENTIONED_MARK = "·"
NOT_DISCUSSED = "Omtaler ikke dette"

STYLE = """<style>
.matrise { border-collapse: collapse; font-size: .9rem; }
.matrise th, .matrise td { border: 1px solid #dde2ec; padding: .3rem .5rem; vertical-align: top; }
.matrise thead th { background: #f3f5fa; text-align: left; max-width: 11rem; }
.matrise .antall { font-weight: normal; font-size: .78rem; color: #555; display: block; }
.matrise .gruppe th { background: #eef1f7; text-align: left; font-size: .82rem; color: #333; }
.matrise tbody th { text-align: left; font-weight: 600; }
.matrise td { text-align: center; }
.matrise td a { text-decoration: none; font-size: 1.15rem; color: #2a4a9a; }
.matrise td a.low { color: #8a6d00; }
.matrise td .ingen { color: #aaa; font-size: 1.1rem; }
.kolonne h4 { margin: 0 0 .2rem 0; }
.kolonne .type { font-size: .8rem; color: #555; }
.kolonne blockquote { margin: .5rem 0; padding: .25rem .75rem; border-left: 3px solid #d0d7e5; }
.kolonne .meta { font-size: .8rem; color: #666; }
.kolonne .ingen { color: #777; font-style: italic; }
</style>"""


def document_href(document_id: str, start: int | None = None, end: int | None = None) -> str:
    """A link to the document page, with the quote to highlight."""
    params = {"doc": document_id}
    if start is not None and end is not None:
        params |= {"start": str(start), "end": str(end)}
    return f"{DOCUMENT_PATH}?{urlencode(params)}"


def cells_by_key(matrix: Matrix) -> dict[tuple[str, str], MatrixCell]:
    return {(c.topic, c.document_id): c for c in matrix.cells}


def cell_html(cell: MatrixCell | None, submitter: str) -> str:
    """A mark linking to the quote in its document, or a dot when the topic is not mentioned."""
    if cell is None or not cell.mentioned or cell.quote is None:
        return f'<span class="ingen" title="Omtaler ikke temaet">{NOT_MENTIONED_MARK}</span>'
    unsure = " (usikker)" if cell.confidence == "low" else ""
    label = f"{submitter} om {cell.topic}{unsure}: «{cell.quote}»"
    href = document_href(cell.document_id, cell.start, cell.end)
    return (
        f'<a class="{escape(cell.confidence)}" href="{escape(href)}" '
        f'target="_self" title="{escape(label)}" aria-label="{escape(label)}">'
        f"{MARKS.get(cell.confidence, MARKS['high'])}</a>"
    )


def matrix_html(matrix: Matrix) -> str:
    """Rows: submitters grouped by type; columns: topics, each headed by its count line."""
    cells = cells_by_key(matrix)
    head = "".join(
        f'<th scope="col">{escape(t)}'
        f'<span class="antall">{escape(count_line(matrix.counts, t))}</span></th>'
        for t in matrix.topics
    )
    rows: list[str] = []
    for kind, members in grouped(matrix):
        label = f"{type_plural(kind, len(members)).capitalize()} ({len(members)})"
        rows.append(
            f'<tr class="gruppe"><th colspan="{len(matrix.topics) + 1}">{escape(label)}</th></tr>'
        )
        for s in members:
            marks = "".join(
                f"<td>{cell_html(cells.get((t, s.document_id)), s.submitter)}</td>"
                for t in matrix.topics
            )
            rows.append(f'<tr><th scope="row">{escape(s.submitter)}</th>{marks}</tr>')
    return (
        '<div style="overflow-x:auto"><table class="matrise">'
        f'<thead><tr><th scope="col">Innsender</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def grouped(matrix: Matrix) -> list[tuple[str, list[MatrixSubmitter]]]:
    """Submitters by type, in the API's order (which already groups them)."""
    groups: dict[str, list[MatrixSubmitter]] = {}
    for submitter in matrix.submitters:
        groups.setdefault(submitter.submitter_type, []).append(submitter)
    return list(groups.items())


def topic_citations(matrix: Matrix, topic: str) -> list[Citation]:
    """The topic's quotes as citations (numbered in row order), for the source cards."""
    cells = cells_by_key(matrix)
    citations: list[Citation] = []
    for s in matrix.submitters:
        cell = cells.get((topic, s.document_id))
        if cell is None or cell.quote is None or cell.start is None or cell.end is None:
            continue
        citations.append(
            Citation(
                n=len(citations) + 1,
                document_id=s.document_id,
                source=s.source,
                submitter=s.submitter,
                submitter_type=s.submitter_type,
                section=cell.section,
                page=cell.page,
                quote=cell.quote,
                start=cell.start,
                end=cell.end,
                score=cell.score,
            )
        )
    return citations


def compare_column_html(column: CompareColumn) -> str:
    """One submitter's column: its quotes, each linking into the document, or «Omtaler ikke
    dette»."""
    head = (
        f"<h4>{escape(column.submitter)}</h4>"
        f'<span class="type">{escape(column.submitter_type)}</span>'
    )
    if not column.quotes:
        return f'<div class="kolonne">{head}<p class="ingen">{NOT_DISCUSSED}</p></div>'
    unsure = (
        '<p class="meta">Usikkert om innspillet omtaler dette.</p>'
        if column.confidence == "low"
        else ""
    )
    quotes = "".join(
        f"<blockquote>{escape(c.quote)}</blockquote>"
        f'<p class="meta">{citation_meta(c)} · '
        f'<a href="{escape(document_href(c.document_id, c.start, c.end))}" target="_self">'
        "Vis i dokumentet</a></p>"
        for c in column.quotes
    )
    return f'<div class="kolonne">{head}{unsure}{quotes}</div>'


def shared_text_rows(
    docs: Sequence[DocumentInfo], shared: dict[str, tuple[SharedText, ...]]
) -> list[dict[str, str]]:
    """Rows for `st.table`, whose cells render Markdown: who shares how much text with whom,
    every name literal (`render.literal`), so a submitter named «![x](https://…)» is text, not
    an image the browser fetches."""
    names = {d.document_id: d.submitter for d in docs}
    rows = []
    for doc in docs:
        for other in shared.get(doc.document_id, ()):
            rows.append(
                {
                    "Innsender": literal(doc.submitter),
                    "Deler tekst med": literal(names.get(other.document_id, other.document_id)),
                    "Andel av egne setninger": f"{other.share:.0%}".replace("%", " %"),
                    "Nesten likt (mal)": "ja" if other.near_duplicate else "",
                }
            )
    return rows


def submitter_options(docs: Iterable[DocumentInfo]) -> dict[str, str]:
    """Document id -> «Submitter (type)» for the comparison picker."""
    return {d.document_id: f"{d.submitter} ({d.submitter_type})" for d in docs}
