"""How answers and hits look on a terminal, and as the API's JSON bodies."""

from __future__ import annotations

import textwrap
from typing import Any

from rag.contract import count_line
from rag.export import MARKS
from rag.matrix import Matrix
from rag.schemas import AskResponse, SearchResponse
from rag.types import Answer, Document, Hit


def answer_json(answer: Answer) -> dict[str, Any]:
    """Exactly the body POST /ask returns."""
    return AskResponse.of(answer).model_dump()


def search_json(query: str, hits: list[Hit], documents: dict[str, Document]) -> dict[str, Any]:
    """Exactly the body GET /search returns."""
    return SearchResponse.of(query, hits, documents).model_dump()


def where(section: str | None, page: int | None) -> str:
    parts = [f"«{section}»" if section else "", f"s. {page}" if page else ""]
    return ", ".join(p for p in parts if p)


def format_answer(answer: Answer) -> str:
    lines = [answer.answer]
    if answer.citations:
        lines.append("\nKilder:")
        for c in answer.citations:
            place = where(c.section, c.page)
            lines.append(
                f"[{c.n}] {c.submitter} – {c.source} [{c.start}:{c.end}]"
                + (f" – {place}" if place else "")
            )
    return "\n".join(lines)


def format_hits(hits: list[Hit], documents: dict[str, Document]) -> str:
    if not hits:
        return "Ingen treff."
    blocks = []
    for rank, hit in enumerate(hits, start=1):
        doc = documents[hit.chunk.document_id]
        place = where(hit.chunk.section, hit.chunk.page)
        head = f"{rank}. {doc.submitter} – {doc.source} [{hit.chunk.start}:{hit.chunk.end}]"
        head += f" – {place}" if place else ""
        body = textwrap.shorten(" ".join(hit.chunk.text.split()), 300, placeholder=" …")
        blocks.append(f"{head}  (score {hit.score:.4f})\n   {body}")
    return "\n".join(blocks)


def format_matrix(matrix: Matrix) -> str:
    """Topics down, submitters across (numbered, with a legend), and the count per topic."""
    width = max(len(t) for t in matrix.topics)
    numbers = "  ".join(f"{n:>2}" for n in range(1, len(matrix.submitters) + 1))
    lines = [f"{'tema':<{width}}  {numbers}  omtalt av"]
    for topic in matrix.topics:
        marks = "  ".join(
            f"{MARKS[matrix.cell(topic, d.document_id).confidence] or '·':>2}"
            for d in matrix.submitters
        )
        lines.append(f"{topic:<{width}}  {marks}  {count_line(matrix.counts, topic)}")
    lines.append("")
    lines.extend(
        f"{n:>2} {d.submitter} ({d.submitter_type})"
        for n, d in enumerate(matrix.submitters, start=1)
    )
    total = matrix.timings_ms.get("total", 0.0)
    lines.append(f"\n● omtaler temaet  ◐ usikkert  · omtaler det ikke   ({total:.0f} ms)")
    return "\n".join(lines)
