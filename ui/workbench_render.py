"""Pure functions for the workbench pages «Oversikt» and «Sammenlign» (safe HTML and plain
rows), and the links and sort order every workbench page shares.

Every string that comes from a document or the user (submitter names, topics, quotes, sections)
goes through `render.escape` before it is put into HTML; links are built with `urlencode` and
escaped as attributes. What goes to a Markdown element goes through `render.literal`; what goes
to `st.dataframe` is plain text (its cells are never markup).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlencode

from rag.contract import MAX_COMPARED, count_line, type_plural
from ui.client import (
    Citation,
    CompareColumn,
    DocumentInfo,
    Matrix,
    MatrixCell,
    MatrixSubmitter,
)
from ui.render import citation_meta, escape, passage_html

DOCUMENT_PATH = "dokument"  # the document page's url_path in ui/app.py
COMPARE_PATH = "sammenlign"  # the comparison page's url_path in ui/app.py
MARKS = {"high": "●", "low": "◐"}
NOT_MENTIONED_MARK = "·"
NOT_DISCUSSED = "Omtaler ikke dette"

Status = Literal["high", "low", "none"]
STATUS_LABELS: dict[Status, str] = {"high": "omtaler", "low": "usikkert", "none": "omtaler ikke"}
Sort = Literal["type", "innsender", "flest", "færrest"]
SORT_LABELS: dict[Sort, str] = {
    "type": "Type",
    "innsender": "Innsender (A–Å)",
    "flest": "Flest temaer omtalt",
    "færrest": "Færrest temaer omtalt",
}
# Norwegian alphabetical order: æ, ø, å after z (Unicode puts å before æ and ø).
_NORWEGIAN = str.maketrans({"æ": "z{", "ø": "z|", "å": "z}", "ä": "z{", "ö": "z|"})

STYLE = """<style>
.matrise-ramme { max-height: 70vh; overflow: auto; border: 1px solid #dde2ec; width: fit-content;
  max-width: 100%; }
.matrise { border-collapse: separate; border-spacing: 0; font-size: .85rem; }
.matrise th, .matrise td { border-right: 1px solid #dde2ec; border-bottom: 1px solid #dde2ec;
  padding: .25rem .4rem; vertical-align: middle; }
.matrise thead th { position: sticky; top: 0; z-index: 2; background: #f3f5fa;
  vertical-align: bottom; }
.matrise thead th.innsender { left: 0; z-index: 3; text-align: left; min-width: 13rem; }
.matrise th.tema { width: 2.3rem; min-width: 2.3rem; max-width: 2.3rem; padding: .3rem 0; }
.matrise th.tema .navn { writing-mode: vertical-rl; transform: rotate(180deg);
  max-height: 12rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
  margin: 0 auto; font-weight: 600; }
.matrise .antall { display: block; font-weight: normal; font-size: .72rem; color: #555;
  text-align: center; }
.matrise th.sum { width: 3.2rem; font-weight: normal; font-size: .75rem; color: #555; }
.matrise tbody th { position: sticky; left: 0; z-index: 1; background: #fff; text-align: left;
  font-weight: 600; }
.matrise tbody th .type { display: block; font-weight: normal; font-size: .75rem; color: #666; }
.matrise tr.gruppe th { background: #eef1f7; font-size: .82rem; color: #333; }
.matrise td { text-align: center; }
.matrise td.sum { color: #333; font-size: .8rem; }
.matrise td a { text-decoration: none; font-size: 1.1rem; color: #2a4a9a; }
.matrise td a.low { color: #8a6d00; }
.matrise td .ingen { color: #aaa; font-size: 1.1rem; }
.tause { columns: 16rem; font-size: .88rem; margin: .25rem 0 .75rem 0; padding-left: 1.1rem; }
.kolonne h4 { margin: 0 0 .2rem 0; }
.kolonne .type { font-size: .8rem; color: #555; }
.kolonne blockquote { margin: .5rem 0; padding: .25rem .75rem; border-left: 3px solid #d0d7e5; }
.kolonne blockquote mark { background: #fff1a8; padding: 0 .1rem; }
.kolonne .meta { font-size: .8rem; color: #666; }
.kolonne .ingen { color: #777; font-style: italic; }
</style>"""


def document_href(
    document_id: str, start: int | None = None, end: int | None = None, question: str = ""
) -> str:
    """A link to the document page, with the quote to highlight and the question it answers
    (the page then links back to the answer)."""
    params = {"doc": document_id}
    if start is not None and end is not None:
        params |= {"start": str(start), "end": str(end)}
    if question:
        params["q"] = question
    return f"{DOCUMENT_PATH}?{urlencode(params)}"


def compare_href(document_ids: Sequence[str]) -> str:
    """A link to «Sammenlign» with these submissions chosen (the first four)."""
    return f"{COMPARE_PATH}?{urlencode([('s', i) for i in document_ids[:MAX_COMPARED]])}"


def norwegian_key(text: str) -> str:
    """A sort key in Norwegian alphabetical order (æ, ø, å last), case-insensitive."""
    return text.casefold().translate(_NORWEGIAN)


# --- the overview matrix ---------------------------------------------------------------------


def cells_by_key(matrix: Matrix) -> dict[tuple[str, str], MatrixCell]:
    return {(c.topic, c.document_id): c for c in matrix.cells}


def status_of(cell: MatrixCell | None) -> Status:
    """A missing cell (the API sends only the mentioned ones when asked) is «omtaler ikke»."""
    if cell is None or not cell.mentioned or cell.confidence not in ("high", "low"):
        return "none"
    return "high" if cell.confidence == "high" else "low"


def mentions(matrix: Matrix) -> dict[str, int]:
    """Document id -> how many of the topics it mentions (sure or unsure)."""
    counted = dict.fromkeys((s.document_id for s in matrix.submitters), 0)
    for cell in matrix.cells:
        if status_of(cell) != "none" and cell.document_id in counted:
            counted[cell.document_id] += 1
    return counted


@dataclass(frozen=True)
class MatrixView:
    """Which of the matrix's rows the page shows, and in which order: the submitters that have
    one of `statuses` in `topic` (any topic when None), sorted by `sort`."""

    sort: Sort = "type"
    statuses: frozenset[Status] = field(default_factory=lambda: frozenset(STATUS_LABELS))
    topic: str | None = None

    @property
    def grouped(self) -> bool:
        return self.sort == "type"


def shown_rows(matrix: Matrix, view: MatrixView) -> list[MatrixSubmitter]:
    cells = cells_by_key(matrix)
    topics = [view.topic] if view.topic in matrix.topics else list(matrix.topics)
    kept = [
        s
        for s in matrix.submitters
        if any(status_of(cells.get((t, s.document_id))) in view.statuses for t in topics)
    ]
    counted = mentions(matrix)
    by_name = sorted(kept, key=lambda s: (norwegian_key(s.submitter), s.document_id))
    if view.sort == "innsender":
        return by_name
    if view.sort == "flest":
        return sorted(by_name, key=lambda s: -counted[s.document_id])
    if view.sort == "færrest":
        return sorted(by_name, key=lambda s: counted[s.document_id])
    # grouped by type in the API's order (the largest group first), by name within a type
    rank = {kind: n for n, kind in enumerate(dict.fromkeys(s.submitter_type for s in kept))}
    return sorted(by_name, key=lambda s: rank[s.submitter_type])


def silent(matrix: Matrix) -> list[MatrixSubmitter]:
    """The submitters that mention none of the topics, by name."""
    counted = mentions(matrix)
    quiet = [s for s in matrix.submitters if counted[s.document_id] == 0]
    return sorted(quiet, key=lambda s: (norwegian_key(s.submitter), s.document_id))


def cell_html(cell: MatrixCell | None, submitter: str) -> str:
    """A mark linking to the quote in its document, or a dot when the topic is not mentioned."""
    status = status_of(cell)
    if cell is None or status == "none" or cell.start is None or cell.end is None:
        return f'<span class="ingen" title="Omtaler ikke temaet">{NOT_MENTIONED_MARK}</span>'
    unsure = " (usikker)" if status == "low" else ""
    label = f"{submitter} om {cell.topic}{unsure}"
    label += f": «{cell.quote}»" if cell.quote else ""
    href = document_href(cell.document_id, cell.start, cell.end)
    return (
        f'<a class="{status}" href="{escape(href)}" '
        f'target="_self" title="{escape(label)}" aria-label="{escape(label)}">'
        f"{MARKS[status]}</a>"
    )


def topic_header(matrix: Matrix, topic: str) -> str:
    """The topic written upwards, with how many mention it; the count per type as its title."""
    mentioned = sum(c.mentioned for c in matrix.counts if c.topic == topic)
    total = sum(c.total for c in matrix.counts if c.topic == topic)
    title = f"{topic}: {mentioned} av {total} ({count_line(matrix.counts, topic)})"
    return (
        f'<th class="tema" scope="col" title="{escape(title)}">'
        f'<div class="navn">{escape(topic)}</div>'
        f'<span class="antall">{mentioned}</span></th>'
    )


def matrix_html(
    matrix: Matrix, rows: Sequence[MatrixSubmitter] | None = None, grouped: bool = True
) -> str:
    """Rows: the submitters given (all, in the API's order, by default), under a row per type
    when `grouped`; columns: the number of topics each mentions, then the topics. The table
    scrolls inside a frame of fixed height with its header and first column held in place."""
    shown = list(matrix.submitters if rows is None else rows)
    cells = cells_by_key(matrix)
    counted = mentions(matrix)
    head = "".join(topic_header(matrix, t) for t in matrix.topics)
    body: list[str] = []
    for kind, members in grouped_rows(shown) if grouped else [("", shown)]:
        if grouped:
            label = f"{type_plural(kind, len(members)).capitalize()} ({len(members)})"
            span = len(matrix.topics) + 2
            body.append(f'<tr class="gruppe"><th colspan="{span}">{escape(label)}</th></tr>')
        for s in members:
            kind_line = "" if grouped else f'<span class="type">{escape(s.submitter_type)}</span>'
            marks = "".join(
                f"<td>{cell_html(cells.get((t, s.document_id)), s.submitter)}</td>"
                for t in matrix.topics
            )
            body.append(
                f'<tr><th scope="row">{escape(s.submitter)}{kind_line}</th>'
                f'<td class="sum">{counted[s.document_id]}</td>{marks}</tr>'
            )
    return (
        '<div class="matrise-ramme"><table class="matrise">'
        '<thead><tr><th class="innsender" scope="col">Innsender</th>'
        f'<th class="sum" scope="col" title="Antall temaer innsenderen omtaler">Temaer</th>'
        f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def grouped_rows(rows: Sequence[MatrixSubmitter]) -> list[tuple[str, list[MatrixSubmitter]]]:
    """Submitters by type, in the order given (the API's order already groups them)."""
    groups: dict[str, list[MatrixSubmitter]] = {}
    for submitter in rows:
        groups.setdefault(submitter.submitter_type, []).append(submitter)
    return list(groups.items())


def silent_html(quiet: Sequence[MatrixSubmitter]) -> str:
    items = "".join(f"<li>{escape(s.submitter)} ({escape(s.submitter_type)})</li>" for s in quiet)
    return f'<ul class="tause">{items}</ul>'


def count_rows(matrix: Matrix) -> list[dict[str, str]]:
    """Rows for `st.dataframe` (plain text): per topic, how many of each type mention it."""
    types = list(dict.fromkeys(c.submitter_type for c in matrix.counts))
    by_key = {(c.topic, c.submitter_type): c for c in matrix.counts}
    rows: list[dict[str, str]] = []
    for topic in matrix.topics:
        row = {"Tema": topic}
        for kind in types:
            count = by_key.get((topic, kind))
            row[kind] = f"{count.mentioned} av {count.total}" if count else ""
        rows.append(row)
    return rows


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


# --- the comparison --------------------------------------------------------------------------


def compare_column_html(
    column: CompareColumn, texts: Mapping[str, str | None] | None = None
) -> str:
    """One submitter's column: its quotes, each highlighted in its paragraph when the document
    text is given (else the bare quote), each linking into the document; or «Omtaler ikke
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
    text = (texts or {}).get(column.document_id)
    quotes = "".join(
        f"<blockquote>{passage_html(c, text) if text else escape(c.quote)}</blockquote>"
        f'<p class="meta">{citation_meta(c)} · '
        f'<a href="{escape(document_href(c.document_id, c.start, c.end))}" target="_self">'
        "Vis i dokumentet</a></p>"
        for c in column.quotes
    )
    return f'<div class="kolonne">{head}{unsure}{quotes}</div>'


def submitter_options(docs: Iterable[DocumentInfo]) -> dict[str, str]:
    """Document id -> «Submitter (type)» for the comparison picker."""
    return {d.document_id: f"{d.submitter} ({d.submitter_type})" for d in docs}
